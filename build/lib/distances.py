"""Embedding -> distance -> decision: the one L2 distance, and thresholds chosen from labelled pairs.

Embeddings are float arrays (..., 512), unit-length rows. Distances are L2 (not squared), in
[0, 2] for unit-length embeddings. A decision is "the same person" when the distance is below a
threshold; this module chooses thresholds from pairs whose answer is known, and measures them
with LFW's 10-fold protocol (threshold chosen on 9 folds, accuracy on the 10th). ``lfw.py``,
``open_set.py``, ``plots.py``, ``triplet_training.py`` and the benchmarks all measure with it.
"""

import numpy as np


def l2_distance(a, b):
    """L2 (not squared) distance between embeddings, along the last axis.

    Args:
        a, b: arrays (..., d), broadcastable.

    Returns:
        float64 array (...,); for unit-length embeddings the values lie in [0, 2].
    """
    return np.linalg.norm(np.asarray(a, np.float64) - np.asarray(b, np.float64), axis=-1)


def pairwise_distances(embeddings):
    """(N, N) L2 distances between the rows of an (N, d) array."""
    embeddings = np.asarray(embeddings, np.float64)
    return l2_distance(embeddings[:, None, :], embeddings[None, :, :])


def pair_distances(first, second, metric="l2", mean=None):
    """Distances between the rows of two (N, d) arrays, row by row.

    Args:
        metric: "l2" (L2 distance) or "cosine" (1 - cosine similarity).
        mean: a (d,) vector subtracted from both sides first (Sandberg's --subtract_mean).

    Returns:
        float64 array (N,).
    """
    first, second = np.asarray(first, np.float64), np.asarray(second, np.float64)
    if mean is not None:
        first, second = first - mean, second - mean
    if metric == "l2":
        return l2_distance(first, second)
    if metric == "cosine":
        similarity = np.sum(first * second, axis=1) / (
            np.linalg.norm(first, axis=1) * np.linalg.norm(second, axis=1)
        )
        return 1.0 - similarity
    raise ValueError(f"metric must be 'l2' or 'cosine', not {metric!r}.")


def best_threshold(distances, same):
    """The distance threshold with the highest accuracy, deciding "same" when distance < it.

    Candidates are the midpoints between consecutive sorted distances (and the two ends), so the
    chosen threshold sits in the middle of the gap rather than on a training pair.
    """
    order = np.argsort(distances)
    ordered, matching = np.asarray(distances, np.float64)[order], np.asarray(same, bool)[order]
    candidates = np.concatenate([[ordered[0] - 1e-6], (ordered[:-1] + ordered[1:]) / 2, [ordered[-1] + 1e-6]])
    # Threshold k accepts the k smallest distances: correct are the matching ones among them
    # plus the non-matching ones above.
    accepted_matching = np.concatenate([[0], np.cumsum(matching)])
    rejected_different = np.sum(~matching) - np.concatenate([[0], np.cumsum(~matching)])
    accuracy = (accepted_matching + rejected_different) / len(matching)
    return float(candidates[int(np.argmax(accuracy))])


def threshold_at_far(distances, same, far):
    """The largest threshold whose false accept rate on these pairs is at most ``far``."""
    different = np.sort(np.asarray(distances)[~np.asarray(same, bool)])
    allowed = int(np.floor(far * len(different)))
    return float(different[allowed]) if allowed < len(different) else float(different[-1])


def evaluate_protocol(first, second, same, folds, metric="l2", subtract_mean=False, far=1e-3):
    """LFW's 10-fold protocol on embedding pairs.

    For each fold: choose the accuracy-maximising threshold (and the threshold at false accept
    rate ``far``) on the other folds, then measure on this one.

    Args:
        first, second: (N, d) embeddings of each pair's two photos.
        same: (N,) bools. folds: (N,) fold index of each pair.
        metric, subtract_mean: see ``pair_distances``; the mean comes from the training folds.
        far: the false accept rate of ``val_at_far``.

    Returns:
        dict with accuracy_mean, accuracy_std, per-fold accuracies, thresholds, val_at_far
        (mean true accept rate at the FAR target), far (mean measured FAR), auc (on all pairs).
    """
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import PredefinedSplit

    first, second = np.asarray(first), np.asarray(second)
    same, folds = np.asarray(same, bool), np.asarray(folds)
    accuracies, thresholds, validation_rates, false_accept_rates = [], [], [], []
    all_distances = np.zeros(len(same))
    for train, test in PredefinedSplit(folds).split():
        mean = None
        if subtract_mean:
            mean = np.mean(np.concatenate([first[train], second[train]]), axis=0)
        train_distances = pair_distances(first[train], second[train], metric, mean)
        test_distances = pair_distances(first[test], second[test], metric, mean)
        all_distances[test] = test_distances
        threshold = best_threshold(train_distances, same[train])
        accuracies.append(np.mean((test_distances < threshold) == same[test]))
        thresholds.append(threshold)
        far_threshold = threshold_at_far(train_distances, same[train], far)
        accepted = test_distances < far_threshold
        validation_rates.append(np.mean(accepted[same[test]]))
        false_accept_rates.append(np.mean(accepted[~same[test]]))
    return {
        "accuracy_mean": float(np.mean(accuracies)),
        "accuracy_std": float(np.std(accuracies)),
        "fold_accuracies": [float(value) for value in accuracies],
        "threshold_mean": float(np.mean(thresholds)),
        "thresholds": [float(value) for value in thresholds],
        "val_at_far": float(np.mean(validation_rates)),
        "val_at_far_std": float(np.std(validation_rates)),
        "far_target": far,
        "far_measured": float(np.mean(false_accept_rates)),
        "auc": float(roc_auc_score(same, -all_distances)),
    }

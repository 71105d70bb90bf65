"""Labeled Faces in the Wild: where the photos are, the official pairs, and the 10-fold protocol.

The folder comes from the environment variable ``LFW_DIR`` (CI sets it to the shared, read-only
copy). Without it, ``lfw_root()`` downloads LFW once into ``~/.cache/facenet-course/lfw`` with
``keras.utils.get_file``, each file checked against its SHA-256 (the copies scikit-learn's
LFW fetcher uses).

Layout read (as in LFW's README): ``<variant>/<Name>/<Name>_NNNN.jpg`` beside ``pairs.txt``,
where the variant is ``lfw-deepfunneled``, ``lfw_funneled``, ``lfw-funneled`` or ``lfw``.
"""

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

LFW_DIR_ENV = "LFW_DIR"
DEFAULT_LFW_HOME = Path.home() / ".cache" / "facenet-course" / "lfw"
PHOTO_VARIANTS = ("lfw-deepfunneled", "lfw_funneled", "lfw-funneled", "lfw")
# name -> (address, SHA-256): the public copies scikit-learn's fetch_lfw_* download.
LFW_SOURCES = {
    "pairs.txt": (
        "https://ndownloader.figshare.com/files/5976006",
        "ea42330c62c92989f9d7c03237ed5d591365e89b3e649747777b70e692dc1592",
    ),
    "pairsDevTrain.txt": (
        "https://ndownloader.figshare.com/files/5976012",
        "1d454dada7dfeca0e7eab6f65dc4e97a6312d44cf142207be28d688be92aabfa",
    ),
    "pairsDevTest.txt": (
        "https://ndownloader.figshare.com/files/5976009",
        "7cb06600ea8b2814ac26e946201cdb304296262aad67d046a16a7ec85d0ff87c",
    ),
    "lfw-funneled.tgz": (
        "https://ndownloader.figshare.com/files/5976015",
        "b47c8422c8cded889dc5a13418c4bc2abbda121092b3533a83306f90d900100a",
    ),
}


class LFWNotFoundError(FileNotFoundError):
    """The LFW folder is missing or not laid out as expected."""


@dataclass(frozen=True)
class Pair:
    """One line of an LFW pairs file: two photos, whether they show the same person, the fold."""

    first: Path
    second: Path
    same: bool
    fold: int


def photos_dir(root):
    """The folder of per-person photo folders inside an LFW folder ``root``."""
    root = Path(root)
    candidates = [root] + sorted(root.glob("*_extracted"))
    for base in candidates:
        for variant in PHOTO_VARIANTS:
            if (base / variant).is_dir():
                return base / variant
    raise LFWNotFoundError(
        f"{root} has none of the photo folders {', '.join(PHOTO_VARIANTS)}. Point {LFW_DIR_ENV} "
        f"at a folder laid out like LFW (see README.md), or unset it to download LFW."
    )


def fetch_lfw(home=DEFAULT_LFW_HOME, sources=None):
    """Download (once) and unpack LFW into ``home``, each file checked by SHA-256.

    Args:
        home: destination folder.
        sources: {file name: (address, sha256)}; defaults to LFW_SOURCES.

    Returns:
        ``home`` as a Path.
    """
    import keras

    home = Path(home)
    home.mkdir(parents=True, exist_ok=True)
    for name, (address, sha256) in (sources or LFW_SOURCES).items():
        keras.utils.get_file(
            name,
            origin=address,
            file_hash=sha256,
            hash_algorithm="sha256",
            cache_dir=str(home),
            cache_subdir="",
            extract=name.endswith((".tgz", ".tar.gz", ".zip")),
        )
    return home


def lfw_root(download=True):
    """The LFW folder: ``$LFW_DIR`` if set, else the downloaded copy (fetched when missing).

    Raises:
        LFWNotFoundError: ``$LFW_DIR`` is set but wrong, or LFW is absent and download is False.
    """
    configured = os.environ.get(LFW_DIR_ENV)
    if configured:
        root = Path(configured)
        if not (root / "pairs.txt").is_file():
            raise LFWNotFoundError(
                f"{LFW_DIR_ENV}={configured} has no pairs.txt. Point it at the LFW folder "
                f"(the one holding pairs.txt and lfw-deepfunneled/), or unset it to download LFW."
            )
        photos_dir(root)
        return root
    root = DEFAULT_LFW_HOME
    if (root / "pairs.txt").is_file():
        try:
            photos_dir(root)
            return root
        except LFWNotFoundError:
            pass
    if not download:
        raise LFWNotFoundError(f"LFW is not in {root}; set {LFW_DIR_ENV} or allow the download.")
    return fetch_lfw(root)


def photo_path(root, name, number):
    """Path of photo ``number`` (1-based) of person ``name``."""
    return photos_dir(root) / name / f"{name}_{int(number):04d}.jpg"


def read_pairs(root, filename="pairs.txt"):
    """Read an LFW pairs file.

    ``pairs.txt`` starts with "10 300": 10 folds, each of 300 matching lines ("Name n1 n2")
    followed by 300 non-matching lines ("Name1 n1 Name2 n2"). The View 1 files start with one
    number, the count of matching pairs, and make a single fold.

    Returns:
        A list of Pair, in file order.
    """
    lines = (Path(root) / filename).read_text().split("\n")
    header = lines[0].split()
    folds, per_fold = (int(header[0]), int(header[1])) if len(header) == 2 else (1, int(header[0]))
    body = [line.split() for line in lines[1:] if line.strip()]
    if len(body) != folds * 2 * per_fold:
        raise ValueError(f"{filename}: expected {folds * 2 * per_fold} pairs, found {len(body)}.")
    pairs = []
    for index, fields in enumerate(body):
        fold = index // (2 * per_fold)
        if len(fields) == 3:
            name, first, second = fields
            pairs.append(Pair(photo_path(root, name, first), photo_path(root, name, second), True, fold))
        elif len(fields) == 4:
            name_1, first, name_2, second = fields
            pairs.append(Pair(photo_path(root, name_1, first), photo_path(root, name_2, second), False, fold))
        else:
            raise ValueError(f"{filename}, line {index + 2}: cannot read {' '.join(fields)!r}.")
    return pairs


def people_with_photos(root, minimum=1):
    """{name: sorted photo paths} for people with at least ``minimum`` photos."""
    people = {}
    for folder in sorted(photos_dir(root).iterdir()):
        if folder.is_dir():
            photos = sorted(folder.glob("*.jpg"))
            if len(photos) >= minimum:
                people[folder.name] = photos
    return people


# ---------------------------------------------------------------------------------------------
# The protocol: threshold chosen on 9 folds, accuracy on the 10th


def pair_distances(first, second, metric="l2", mean=None):
    """Distances between rows of two (N, 512) arrays.

    Args:
        metric: "l2" (L2 distance) or "cosine" (1 - cosine similarity).
        mean: a (512,) vector subtracted from both sides first (Sandberg's --subtract_mean).

    Returns:
        float64 array (N,).
    """
    first, second = np.asarray(first, np.float64), np.asarray(second, np.float64)
    if mean is not None:
        first, second = first - mean, second - mean
    if metric == "l2":
        return np.linalg.norm(first - second, axis=1)
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
        first, second: (N, 512) embeddings of each pair's two photos.
        same: (N,) bools. folds: (N,) fold index of each pair.
        metric, subtract_mean: see ``pair_distances``; the mean comes from the training folds.

    Returns:
        dict with accuracy_mean, accuracy_std, per-fold accuracies, thresholds, val_at_far
        (mean TAR at the FAR target), far (mean measured FAR), auc (on all pairs).
    """
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import PredefinedSplit

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

"""Training a small embedding with the triplet loss, on top of a frozen part of FaceNet.

The notebook's "triplet loss at work" section. FaceNet is already trained, so training it again
would show nothing in two minutes of CPU. Instead we take its mid-level features (the 896
channels after ``Mixed_6a``, averaged over the image; they describe textures and parts, not yet
identities) and train a small head, 896 -> 256 -> 64 -> unit length, with the learner's
``triplet_loss`` on LFW people. Held-out people show whether it learnt identities.

Here: the features, choosing people and batches, choosing triplets in a batch (at random, or
FaceNet's online semi-hard negatives), the head, and the scores. The training step itself is
written out in the notebook.
"""

import hashlib
from pathlib import Path

import numpy as np

import distances
import embeddings
import faces
import lfw
import quiet_tensorflow
import settings

FEATURE_LAYER = "Mixed_6a"


def choose_people(lfw_dir, count, photos_per_person, seed=0):
    """``count`` LFW people with at least ``photos_per_person`` photos, and that many of each.

    Returns:
        (paths, labels, names): list of photo paths, int array of person indices, list of names.
    """
    people = lfw.people_with_photos(lfw_dir, minimum=photos_per_person)
    rng = np.random.default_rng(seed)
    names = sorted(rng.choice(sorted(people), size=count, replace=False))
    paths, labels = [], []
    for label, name in enumerate(names):
        chosen = rng.choice(len(people[name]), size=photos_per_person, replace=False)
        paths += [people[name][index] for index in sorted(chosen)]
        labels += [label] * photos_per_person
    return paths, np.array(labels), names


def feature_extractor(model):
    """A model from standardised crops (N, 160, 160, 3) to FaceNet's mid-level features (N, 896)."""
    quiet_tensorflow.import_tensorflow()
    import keras

    pooled = keras.layers.GlobalAveragePooling2D(name="mid_level_features")(model.get_layer(FEATURE_LAYER).output)
    return keras.Model(model.input, pooled)


def mid_level_features(paths, model, cache_dir=settings.CACHE_DIR):
    """(N, 896) float32 mid-level features of the main face of each photo, cached on disk."""
    # Keyed like encode_images' cache: the photos' bytes and the weights, so a changed photo counts.
    digest = hashlib.sha256(embeddings.weights_sha256().encode())
    for path in paths:
        digest.update(Path(path).read_bytes())
    key = digest.hexdigest()[:20]
    cached = cache_dir / "features" / f"{FEATURE_LAYER}-{key}.npy"
    if cached.is_file():
        return np.load(cached)
    extractor = feature_extractor(model)
    features = []
    for start in range(0, len(paths), 32):
        images = [faces.read_image(path) for path in paths[start : start + 32]]
        crops, _, _ = faces.face_crops(images, on_no_face="center", warn_several=False)
        features.append(extractor.predict(embeddings.standardise(crops), verbose=0))
    features = np.concatenate(features).astype(np.float32)
    cached.parent.mkdir(parents=True, exist_ok=True)
    np.save(cached, features)
    return features


def training_batch(labels, people, photos_per_person, rng):
    """Indices of one training batch: ``photos_per_person`` photos of each of ``people`` people.

    FaceNet's batches hold about 40 photos of each person in them, so that every anchor has
    positives, and many negatives, within the batch. Each person drawn must have at least
    ``photos_per_person`` photos.

    Returns:
        int array (people * photos_per_person,) of indices into ``labels``.
    """
    labels = np.asarray(labels)
    chosen = rng.choice(np.unique(labels), size=people, replace=False)
    return np.concatenate([rng.choice(np.flatnonzero(labels == person), size=photos_per_person, replace=False)
                           for person in chosen])


def anchor_positive_pairs(labels):
    """Every ordered pair (anchor, positive) of two different photos of the same person.

    Returns:
        (anchors, positives): int arrays of indices into ``labels``, in row-major order.
    """
    labels = np.asarray(labels)
    same = (labels[:, None] == labels[None, :]) & ~np.eye(len(labels), dtype=bool)
    anchors, positives = np.nonzero(same)
    return anchors, positives


def one_at_random(mask, rng):
    """For each row of a boolean (P, B) array with a True in every row, the column of one True,
    drawn uniformly (the True with the largest random score)."""
    return np.argmax(np.where(mask, rng.random(mask.shape), -1.0), axis=1)


def random_triplets(embeddings, labels, alpha, rng):
    """Every anchor-positive pair of the batch, each with a negative drawn at random.

    The negative is any photo of the batch of another person, whatever the embeddings
    (``embeddings`` and ``alpha`` are unused; they are there so that this function and
    ``semi_hard_triplets`` can replace each other).

    Returns:
        (anchors, positives, negatives): int arrays of the same length, indices into the batch.
    """
    labels = np.asarray(labels)
    anchors, positives = anchor_positive_pairs(labels)
    other_person = labels[None, :] != labels[anchors][:, None]  # (pairs, B)
    return anchors, positives, one_at_random(other_person, rng)


def semi_hard_triplets(embeddings, labels, alpha, rng):
    """Online semi-hard negative mining (FaceNet, Schroff et al. 2015, section 3.2).

    The rule: for each anchor-positive pair (a, p) of the batch, a negative n is *semi-hard* when

        d(a, p) < d(a, n) < d(a, p) + alpha

    with d the SQUARED L2 distance between the batch's CURRENT embeddings (those the step is
    about to update; the units of ``triplet_loss`` and its margin ``alpha``). Such a negative is
    farther than the positive, so it is not one of the hardest negatives, which make training
    collapse early; but it is inside the margin, so its triplet has a loss above zero and teaches
    something. Among the semi-hard negatives of a pair one is drawn at random (as in Sandberg's
    ``facenet/src/train_tripletloss.py``).

    When a pair has no semi-hard negative in the batch, the pair is left out: either every
    negative is already beyond the margin (its triplet would have zero loss), or the only
    candidates are closer than the positive (hard negatives, which the rule avoids). So fewer
    triplets than pairs may come back, possibly none.

    Args:
        embeddings: float array (B, d), the batch's embeddings now.
        labels: (B,) person of each photo.
        alpha: the margin of the triplet loss, on squared distances.
        rng: a numpy Generator.

    Returns:
        (anchors, positives, negatives): int arrays of the same length, indices into the batch.
    """
    labels = np.asarray(labels)
    anchors, positives = anchor_positive_pairs(labels)
    squared = distances.pairwise_distances(embeddings) ** 2
    to_positive = squared[anchors, positives][:, None]  # (pairs, 1)
    to_others = squared[anchors]  # (pairs, B)
    semi_hard = ((labels[None, :] != labels[anchors][:, None])
                 & (to_positive < to_others) & (to_others < to_positive + alpha))
    kept = semi_hard.any(axis=1)
    return anchors[kept], positives[kept], one_at_random(semi_hard[kept], rng)


def embedding_head(input_size, seed=0):
    """The small network we train: input_size -> 256 -> 64, then unit length."""
    import keras

    keras.utils.set_random_seed(seed)
    return keras.Sequential([
        keras.Input(shape=(input_size,)),
        keras.layers.Dense(256, activation="relu"),
        keras.layers.Dense(64),
        keras.layers.UnitNormalization(),
    ], name="embedding_head")


def active_triplets(embeddings, anchors, positives, negatives, alpha):
    """How many triplets have a loss above zero: ||a - p||^2 - ||a - n||^2 + alpha > 0.

    Args:
        embeddings: (B, d) the batch's embeddings; anchors, positives, negatives: index arrays.

    Returns:
        An int: the triplets that still teach something (the others have zero gradient).
    """
    embeddings = np.asarray(embeddings, np.float64)
    to_positive = distances.l2_distance(embeddings[anchors], embeddings[positives]) ** 2
    to_negative = distances.l2_distance(embeddings[anchors], embeddings[negatives]) ** 2
    return int(np.sum(to_positive - to_negative + alpha > 0))


def pair_scores(embeddings, labels, far=0.01):
    """How well distances tell people apart, over every pair of photos of a labelled set.

    Args:
        embeddings: (N, d). labels: (N,) person of each photo.
        far: the false accept rate at which VAL is measured.

    Returns:
        {"auc": area under the ROC curve of "same person if the distance is small",
         "val": the fraction of same-person pairs accepted at the threshold that accepts a
         fraction ``far`` of the different-person pairs}.
    """
    from sklearn.metrics import roc_auc_score

    labels = np.asarray(labels)
    upper = np.triu_indices(len(labels), 1)
    between = distances.pairwise_distances(embeddings)[upper]
    same = (labels[:, None] == labels[None, :])[upper]
    threshold = distances.threshold_at_far(between, same, far)
    return {"auc": float(roc_auc_score(same, -between)), "val": float(np.mean(between[same] < threshold))}

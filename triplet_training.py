"""Training a small embedding with the triplet loss, on top of a frozen part of FaceNet.

The notebook's "triplet loss at work" section. FaceNet is already trained, so training it again
would show nothing in two minutes of CPU. Instead we take its mid-level features (the 896
channels after ``Mixed_6a``, averaged over the image; they describe textures and parts, not yet
identities) and train a small head, 896 -> 256 -> 64 -> unit length, with the learner's
``triplet_loss`` on LFW people. Held-out people show whether it learnt identities.
"""

import hashlib
from pathlib import Path

import numpy as np

import fr_utils
import lfw

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
    fr_utils.import_tensorflow()
    import keras

    pooled = keras.layers.GlobalAveragePooling2D(name="mid_level_features")(model.get_layer(FEATURE_LAYER).output)
    return keras.Model(model.input, pooled)


def mid_level_features(paths, model, cache_dir=fr_utils.CACHE_DIR):
    """(N, 896) float32 mid-level features of the main face of each photo, cached on disk."""
    # Keyed like encode_images' cache: the photos' bytes and the weights, so a changed photo counts.
    digest = hashlib.sha256(fr_utils.weights_sha256().encode())
    for path in paths:
        digest.update(Path(path).read_bytes())
    key = digest.hexdigest()[:20]
    cached = cache_dir / "features" / f"{FEATURE_LAYER}-{key}.npy"
    if cached.is_file():
        return np.load(cached)
    extractor = feature_extractor(model)
    features = []
    for start in range(0, len(paths), 32):
        images = [fr_utils.read_image(path) for path in paths[start : start + 32]]
        crops, _, _ = fr_utils.face_crops(images, on_no_face="center", warn_several=False)
        features.append(extractor.predict(fr_utils.standardise(crops), verbose=0))
    features = np.concatenate(features).astype(np.float32)
    cached.parent.mkdir(parents=True, exist_ok=True)
    np.save(cached, features)
    return features


def sample_triplets(labels, count, rng):
    """Indices (anchor, positive, negative), each (count,): same person for anchor and positive."""
    labels = np.asarray(labels)
    anchors = rng.integers(0, len(labels), size=count)
    positives = np.array([rng.choice(np.flatnonzero((labels == labels[a]) & (np.arange(len(labels)) != a)))
                          for a in anchors])
    negatives = np.array([rng.choice(np.flatnonzero(labels != labels[a])) for a in anchors])
    return anchors, positives, negatives


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


def pair_distance_means(head, features, labels):
    """Mean L2 distance between embeddings of the same person, and of different people."""
    embeddings = np.asarray(head(features))
    distances = fr_utils.pairwise_distances(embeddings)
    same = labels[:, None] == labels[None, :]
    off_diagonal = ~np.eye(len(labels), dtype=bool)
    return float(distances[same & off_diagonal].mean()), float(distances[~same].mean())


def train_head(loss_function, features, labels, held_out_features, held_out_labels,
               steps=300, batch_size=64, alpha=0.2, learning_rate=3e-4, seed=0):
    """Train ``embedding_head`` with ``loss_function(y_true, [A, P, N], alpha)`` on random triplets.

    Args:
        loss_function: the learner's triplet_loss; it returns the summed loss as a tensor.
        features, labels: training features (N, 896) and person indices (N,).
        held_out_features, held_out_labels: people never trained on, for the distance curves.

    Returns:
        (head, history): the trained model, and {"loss": per step, "same": ..., "different": ...}
        where "same"/"different" are held-out mean distances measured every 25 steps.
    """
    import keras
    import tensorflow as tf

    head = embedding_head(features.shape[1], seed)
    optimizer = keras.optimizers.Adam(learning_rate)
    rng = np.random.default_rng(seed)
    history = {"loss": [], "same": [], "different": []}
    for step in range(steps + 1):
        if step % 25 == 0:
            same, different = pair_distance_means(head, held_out_features, held_out_labels)
            history["same"].append(same)
            history["different"].append(different)
        if step == steps:
            break
        anchors, positives, negatives = sample_triplets(labels, batch_size, rng)
        with tf.GradientTape() as tape:
            predictions = [head(features[anchors]), head(features[positives]), head(features[negatives])]
            loss = loss_function(None, predictions, alpha=alpha)
        gradients = tape.gradient(loss, head.trainable_variables)
        optimizer.apply_gradients(zip(gradients, head.trainable_variables))
        history["loss"].append(float(loss))
    return head, history

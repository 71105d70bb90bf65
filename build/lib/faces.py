"""Photo -> face crop: reading a photo, finding its faces, cutting out the main one.

    photo --read_image--> RGB array (H, W, 3) uint8
          --detect_faces (MTCNN)--> boxes [x, y, w, h] and 5 landmarks, in the photo's pixels
          --main_face--> the largest, most central face
          --crop_face--> FACE_SIZE x FACE_SIZE crop with FACE_MARGIN around the box

``face_crops`` runs the chain for a batch of photos (detection batched). Sizes and margins are
named in ``settings.py``. The crop goes on to ``embeddings.py``.
"""

import functools
import gc
import os
import sys
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from settings import (
    DETECTION_SIDE,
    FACE_MARGIN,
    FACE_SIZE,
    MAX_IMAGE_PIXELS,
    MIN_FACE_SIZE,
)


class FaceNotFoundError(ValueError):
    """No face was detected in a photo."""


class ImageReadError(ValueError):
    """A photo could not be read; the message names the file and what to do."""


class FaceWarning(UserWarning):
    """Something about a photo worth knowing; the photo was still used. Shown as one line."""


class SeveralFacesWarning(FaceWarning):
    """A photo shows several faces; the main one was used."""


def warn_once(message, category):
    """Warn (``category``, a FaceWarning) once per message; filter it like any warning."""
    warnings.warn_explicit(message, category, filename="faces", lineno=0, module="faces", registry=_WARNED)


_WARNED = {}
_python_showwarning = warnings.showwarning


def _show_face_warnings_plainly(message, category, filename, lineno, file=None, line=None):
    """Python shows a warning as "file:line: Category: message"; a FaceWarning is about the
    user's photo, not about a line of code, so it shows as "Note: message"."""
    if isinstance(category, type) and issubclass(category, FaceWarning):
        print(f"Note: {message}", file=file if file is not None else sys.stderr)
    else:
        _python_showwarning(message, category, filename, lineno, file, line)


warnings.showwarning = _show_face_warnings_plainly


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

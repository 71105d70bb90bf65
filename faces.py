"""Photo -> face crop: reading a photo, finding its faces, cutting out the main one.

    photo --read_image--> RGB array (H, W, 3) uint8
          --detect_faces (MTCNN)--> boxes [x, y, w, h] and 5 landmarks, in the photo's pixels
          --main_face--> the largest, most central face
          (--locate_faces: both, and a second search on a padded, equalised copy of the photos
           where the first found no plausible face)
          --crop_face--> FACE_SIZE x FACE_SIZE crop with FACE_MARGIN around the box
          --brighten_dark_face--> the crop, a dark face brightened

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
    CROP_PADDING,
    DARK_FACE,
    DETECTION_SIDE,
    EQUALISE_CLIP,
    EQUALISE_TILES,
    FACE_MARGIN,
    FACE_SIZE,
    MAX_IMAGE_PIXELS,
    FILLING_FACE_FRACTION,
    LIGHT_TARGET,
    MIN_FACE_SIZE,
    PLAUSIBLE_FACE_FRACTION,
    SEARCH_PADDING,
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


# ---------------------------------------------------------------------------------------------
# Contrast: for finding faces in dark and side-lit photos


def _clahe(grey, tiles=EQUALISE_TILES, clip=EQUALISE_CLIP):
    """Contrast-limited adaptive histogram equalisation of a uint8 (H, W) array.

    Each of tiles x tiles regions gets its own equalising curve, its histogram clipped at ``clip``
    times the mean bin count (so flat regions are not blown up into noise); each pixel takes the
    bilinear blend of the curves of the four nearest region centres (no seams).
    """
    height, width = grey.shape
    rows = np.linspace(0, height, tiles + 1).astype(int)
    columns = np.linspace(0, width, tiles + 1).astype(int)
    curves = np.zeros((tiles, tiles, 256))
    for i in range(tiles):
        for j in range(tiles):
            tile = grey[rows[i] : rows[i + 1], columns[j] : columns[j + 1]]
            histogram = np.bincount(tile.ravel(), minlength=256).astype(np.float64)
            limit = max(clip * tile.size / 256, 1.0)
            excess = np.maximum(histogram - limit, 0).sum()
            histogram = np.minimum(histogram, limit) + excess / 256
            cumulative = np.cumsum(histogram)
            curves[i, j] = 255 * cumulative / cumulative[-1]

    def blend(size, edges):
        centres = (edges[:-1] + edges[1:]) / 2 - 0.5
        position = np.interp(np.arange(size), centres, np.arange(tiles))
        low = np.floor(position).astype(int)
        return low, np.minimum(low + 1, tiles - 1), position - low

    top, bottom, down = blend(height, rows)
    left, right, across = blend(width, columns)
    top, bottom, down = top[:, None], bottom[:, None], down[:, None]

    def curve(i, j):
        return curves[i, j, grey]

    upper = (1 - across) * curve(top, left) + across * curve(top, right)
    lower = (1 - across) * curve(bottom, left) + across * curve(bottom, right)
    return np.clip((1 - down) * upper + down * lower, 0, 255).astype(np.uint8)


def equalise_light(image, tiles=EQUALISE_TILES, clip=EQUALISE_CLIP):
    """The photo with its luminance equalised locally (CLAHE), its colours kept.

    Args:
        image: uint8 array (H, W, 3).

    Returns:
        uint8 array (H, W, 3): dark and side-lit regions brought up, bright ones brought down.
    """
    ycbcr = np.array(Image.fromarray(image).convert("YCbCr"))
    ycbcr[..., 0] = _clahe(ycbcr[..., 0], tiles, clip)
    return np.asarray(Image.fromarray(ycbcr, "YCbCr").convert("RGB"))


def brighten_dark_face(crop, dark=DARK_FACE, target=LIGHT_TARGET):
    """A dark face crop brightened by a gamma curve; other crops unchanged.

    Args:
        crop: uint8 array (S, S, 3), a face crop.
        dark: the crop is brightened when the mean luminance (0..1) of its central 60% is below this.
        target: the mean luminance the gamma brings it to.

    Returns:
        uint8 array (S, S, 3): pixels p -> 255 (p / 255) ** g with g = log(target) / log(mean),
        which keeps black black and white white and lifts the shadows most.
    """
    luminance = np.asarray(Image.fromarray(crop).convert("L"), np.float64) / 255
    height, width = luminance.shape
    mean = luminance[height // 5 : height - height // 5, width // 5 : width - width // 5].mean()
    if mean >= dark:
        return crop
    gamma = np.log(target) / np.log(max(mean, 1 / 255))
    curve = np.clip(np.round(255 * (np.arange(256) / 255) ** gamma), 0, 255).astype(np.uint8)
    return curve[crop]


# ---------------------------------------------------------------------------------------------
# Finding the face


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


def plausible(detection, image_shape, fraction=PLAUSIBLE_FACE_FRACTION):
    """Whether a detection looks like a whole face rather than a part of one.

    Args:
        detection: an MTCNN dict ("box" [x, y, w, h], "keypoints"), in the photo's pixels.
        image_shape: (H, W, ...) of the photo.
        fraction: the box's larger side must be at least this fraction of the photo's short side.

    Returns:
        False for a box small against the photo (on a tight crop or a dark face MTCNN may box a
        single eye), or landmarks not in a face's order: the nose must lie between the eyes and
        the mouth along the line from one to the other, and that line must be at least a fifth
        of the box's height. Profiles pass (their eyes are close, but in that order).
    """
    x, y, w, h = detection["box"]
    if max(w, h) < fraction * min(image_shape[:2]):
        return False
    points = {name: np.asarray(point, np.float64) for name, point in detection["keypoints"].items()}
    eyes = (points["left_eye"] + points["right_eye"]) / 2
    mouth = (points["mouth_left"] + points["mouth_right"]) / 2
    down = mouth - eyes
    length = np.linalg.norm(down)
    if length < 0.2 * h:
        return False
    along = np.dot(points["nose"] - eyes, down) / length**2
    return bool(0.05 < along < 1.0)


def _padded_equalised(image, padding=SEARCH_PADDING):
    """A copy of the photo with ``padding`` x its short side added on each side (its mean colour)
    and its contrast equalised; and the padding in pixels."""
    pad = int(round(padding * min(image.shape[:2])))
    return equalise_light(_padded(image, [pad] * 4, "mean")), pad


def _fills(detection, image_shape, fraction=FILLING_FACE_FRACTION):
    """Whether a face's box fills the photo: the photo already is a (tight) face crop."""
    return max(detection["box"][2:]) >= fraction * min(image_shape[:2])


def _passes_edges(detection, image_shape, by=0.03):
    """Whether a face's box passes the photo's edges by more than ``by`` x its size: the photo
    cuts the face."""
    x, y, w, h = detection["box"]
    height, width = image_shape[:2]
    return max(-x, -y, x + w - width, y + h - height) > by * max(w, h)


def _holds(outer, inner):
    """Whether ``outer``'s box holds the centre of ``inner``'s."""
    x, y, w, h = outer["box"]
    ix, iy, iw, ih = inner["box"]
    return x <= ix + iw / 2 <= x + w and y <= iy + ih / 2 <= y + h


def _shifted_detection(detection, shift):
    """A detection found on a copy padded by ``shift`` px, in the original photo's pixels."""
    x, y, w, h = detection["box"]
    return {
        "box": [x - shift, y - shift, w, h],
        "confidence": detection["confidence"],
        "keypoints": {name: (px - shift, py - shift) for name, (px, py) in detection["keypoints"].items()},
    }


def locate_faces(images, side=DETECTION_SIDE, second_pass=True):
    """The main face of each photo, searched again where the first search found no plausible one.

    The first search is ``detect_faces``. The photos where its main face is missing, not
    ``plausible``, or fills the photo (the photo already is a face crop, likely cut inside the
    face), are searched again, batched, on a copy padded with their mean colour and equalised in
    contrast (``equalise_light``), at the same scale: a tight crop then has room around its face,
    which MTCNN boxes whole as in an ordinary photo, and a dark or side-lit face stands out. The
    main plausible face found there that holds the first face's centre (or any, if the first
    search found none), and, for a first face that filled the photo, passes the photo's edges, is
    used (its box may pass the photo's edges: ``crop_face`` pads the photo); otherwise the first
    search's main face, if any: a profile whose landmarks fail the test keeps its box. Ordinary
    photos pay for one search only.

    Args:
        images: list of uint8 RGB arrays (H, W, 3).
        side: see ``detect_faces``.
        second_pass: False for the first search alone (the pipeline before version 3).

    Returns:
        (faces, counts): the main detection dict per photo (None where none was found), in the
        photo's pixels; the number of faces the first search found per photo.
    """
    found = detect_faces(images, side)
    counts = [len(detections) for detections in found]
    chosen = [main_face(detections, image.shape) for detections, image in zip(found, images)]
    again = [index for index, (face, image) in enumerate(zip(chosen, images))
             if face is None or not plausible(face, image.shape) or _fills(face, image.shape)]
    if again and second_pass:
        copies = [_padded_equalised(images[index]) for index in again]
        grown = int(round(side * (1 + 2 * SEARCH_PADDING)))  # the photo itself still searched at ``side``
        for index, (copy, pad), detections in zip(again, copies, detect_faces([c for c, _ in copies], grown)):
            shape, first = images[index].shape, chosen[index]
            # Only a whole face around the first search's face (an eye's box, a cut face) replaces
            # it: never a smaller face elsewhere, for a profile that failed the landmark test.
            # A photo that a whole face fills (ORL's 92x112 portraits) keeps its box: only a face
            # cut by the photo's edges is boxed anew (on ORL, a new box cost 10-fold accuracy:
            # 0.982 -> 0.970; on LFW cut to its central 100 px it raised it: 0.95 -> 0.97).
            cut = first is None or not plausible(first, shape)
            moved = [_shifted_detection(detection, pad) for detection in detections]
            moved = [face for face in moved if plausible(face, shape) and (first is None or _holds(face, first))
                     and (cut or _passes_edges(face, shape))]
            chosen[index] = main_face(moved, shape) or first
    return chosen, counts


def _padded(image, outside, padding=CROP_PADDING):
    """The photo grown by (top, bottom, left, right) pixels, filled as ``padding`` says."""
    widths = [outside[:2], outside[2:], (0, 0)]
    if padding == "mean":
        mean = image.reshape(-1, 3).mean(axis=0).astype(np.uint8)
        grown = np.pad(image, widths)
        grown[: outside[0]], grown[grown.shape[0] - outside[1] :] = mean, mean
        grown[:, : outside[2]], grown[:, grown.shape[1] - outside[3] :] = mean, mean
        return grown
    if padding == "reflect":
        return np.pad(image, widths, mode="symmetric")
    return np.pad(image, widths, mode="edge")


def crop_face(image, box, margin=FACE_MARGIN, size=FACE_SIZE, padding=CROP_PADDING):
    """Cut the face out of a photo with a margin and resize it.

    Args:
        image: uint8 array (H, W, 3).
        box: [x, y, width, height] in pixels, or None for a central square crop.
        margin: pixels added on each side, as a fraction of the box's larger side.
        size: side of the square output, in pixels.
        padding: how the photo is grown where the box and its margin pass its edges (see
            ``settings.CROP_PADDING``).

    Returns:
        A uint8 array (size, size, 3). Where the box and its margin pass the photo's edges, the
        photo is grown: the face keeps its place and shape in the crop (clipping the box instead
        would shift and stretch it).
    """
    height, width = image.shape[:2]
    if box is None:
        side = min(height, width)
        box = [(width - side) / 2, (height - side) / 2, side, side]
    x, y, w, h = box
    pad = margin * max(w, h)
    left, top = int(np.floor(x - pad)), int(np.floor(y - pad))
    right, bottom = max(int(np.floor(x + w + pad)), left + 1), max(int(np.floor(y + h + pad)), top + 1)
    outside = [max(-top, 0), max(bottom - height, 0), max(-left, 0), max(right - width, 0)]
    if any(outside):
        image = _padded(image, outside, padding)
        left, right, top, bottom = left + outside[2], right + outside[2], top + outside[0], bottom + outside[0]
    crop = Image.fromarray(image[top:bottom, left:right])
    return np.asarray(crop.resize((size, size), Image.BILINEAR), dtype=np.uint8)


def _main_box(face, name, on_no_face):
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
        (crops, boxes, face_counts): uint8 array (N, 160, 160, 3), dark faces brightened
        (``brighten_dark_face``); the chosen [x, y, w, h] per photo (None where the central crop
        was used); the number of faces found per photo.
    """
    if on_no_face not in ("error", "center"):
        raise ValueError(f"on_no_face must be 'error' or 'center', not {on_no_face!r}.")
    names = names or [f"image {index}" for index in range(len(images))]
    found, counts = locate_faces(images)
    boxes = [_main_box(face, name, on_no_face) for face, name in zip(found, names)]
    if warn_several:
        for name, count in zip(names, counts):
            if count > 1:
                warn_once(f"{name} shows {count} faces; using the largest, most central one.", SeveralFacesWarning)
    crops = [brighten_dark_face(crop_face(image, box, margin)) for image, box in zip(images, boxes)]
    if not crops:
        return np.zeros((0, FACE_SIZE, FACE_SIZE, 3), np.uint8), boxes, counts
    return np.stack(crops), boxes, counts

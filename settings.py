"""Where the project's files are, and the pipeline's sizes and thresholds: named once, here.

The project's folder holds what the notebooks read and write: the network's architecture
(``keras-facenet-h5/model.json``) and its converted weights, the notebook's photos (``images/``)
and the embedding cache (``.cache/``). It is found, in this order:

1. ``$FACENET_COURSE_DIR``, if set;
2. the folder of this file, when the project is installed editable (``pip install -e .``, as
   requirements.txt does) or run from its clone;
3. the current folder or one of its parents, when the modules were installed into
   site-packages (``pip install .``) and a notebook runs from the clone (its top or ``source/``).

``require_project_dir()`` raises a message that says what to do when none of them is the clone.
"""

import os
from pathlib import Path

PROJECT_DIR_ENV = "FACENET_COURSE_DIR"
# A file only the project's clone holds: it marks the project's folder.
MARKER = Path("images") / "lfw_selection.json"


def _find_project_dir():
    configured = os.environ.get(PROJECT_DIR_ENV)
    if configured:
        return Path(configured).resolve()
    here = Path(__file__).resolve().parent
    if (here / MARKER).is_file():
        return here
    current = Path.cwd().resolve()
    for folder in (current, *current.parents):
        if (folder / MARKER).is_file():
            return folder
    return None


_FOUND = _find_project_dir()
# Without a clone in sight these paths point into site-packages, where nothing is read until
# require_project_dir() has said what to do.
PROJECT_DIR = _FOUND or Path(__file__).resolve().parent


def require_project_dir():
    """The project's folder; raises FileNotFoundError with what to do when it was not found."""
    if _FOUND is None:
        raise FileNotFoundError(
            f"This course's folder (the clone holding {MARKER}) was not found from {Path.cwd()}. "
            f"Run the notebook from the clone (its top folder or source/), or set "
            f"{PROJECT_DIR_ENV}=/path/to/the/clone."
        )
    return _FOUND


# ---------------------------------------------------------------------------------------------
# Files

IMAGES_DIR = PROJECT_DIR / "images"
DATABASE_DIR = IMAGES_DIR / "database"
CAMERA_DIR = IMAGES_DIR / "camera"
MODEL_DIR = PROJECT_DIR / "keras-facenet-h5"
CACHE_DIR = Path(os.environ.get("FACENET_CACHE_DIR", PROJECT_DIR / ".cache"))

# ---------------------------------------------------------------------------------------------
# Photo -> face crop

# Photos above this many pixels are refused rather than decoded (decompression bombs).
MAX_IMAGE_PIXELS = 40_000_000
# MTCNN finds faces of 20 px and more (its default). Photos are searched at DETECTION_SIDE px
# on their short side, so the smallest face found is 1/8 of the photo's short side.
MIN_FACE_SIZE = 20
DETECTION_SIDE = 160
FACE_SIZE = 160  # pixels; the network's input is FACE_SIZE x FACE_SIZE x 3
# Pixels added around MTCNN's box on each side, as a fraction of the box's larger side: 0.1 was
# the best of 0.07, 0.1 and 0.16 on LFW (benchmarks/lfw_verification.py; Sandberg used 32 px in
# all on the 250x250 LFW photos).
FACE_MARGIN = 0.1
# A second search runs on the photos where the first found no face, or only an implausible one:
# a box smaller than this fraction of the photo's short side (on a tight crop or a dark face MTCNN
# may box a single eye: 33x31 px on a 168x192 photo), or landmarks not arranged as a face's.
# It looks at a padded copy (so a face filling the photo, cut at its edges, has room around it),
# with its contrast equalised (so dark and side-lit faces stand out); for finding only.
PLAUSIBLE_FACE_FRACTION = 0.25
SEARCH_PADDING = 0.4  # of the photo's short side, on each side
# A box this large against the photo's short side means the photo already is a face crop, likely
# cut inside the face (at the chin, the forehead): it is searched again padded, as above, where
# MTCNN sees the whole face and boxes it as in an ordinary photo.
FILLING_FACE_FRACTION = 0.85
# How a crop that passes the photo's edge is completed: "reflect" (the photo mirrored at its edge),
# "edge" (the edge pixels repeated) or "mean" (the photo's mean colour). On the central 70x70 px of
# LFW photos (benchmarks/hard_photos.py, 300 pairs) 10-fold accuracy was 0.923, 0.900 and 0.903;
# on the central 100x100, 0.987, 0.993 and 0.987 (0.973 without the second search; stretched,
# as before version 3: 0.947 on 600 pairs).
CROP_PADDING = "reflect"
# Contrast-limited adaptive histogram equalisation (CLAHE) on luminance: tiles per side, and how
# many times a tile's average count a histogram bin may hold before it is clipped.
EQUALISE_TILES = 4
EQUALISE_CLIP = 2.0

# A dark face (the mean luminance of the crop's central 60%, 0..1, below DARK_FACE) is brightened
# by the gamma that brings that mean to LIGHT_TARGET before it is embedded: the network, trained on
# photos lit for the camera, puts very dark faces near each other whoever they are (on LFW photos
# darkened and lit from one side: 51% -> 88% 10-fold accuracy). Crops lit as LFW's (1% of its
# faces are darker than 0.26) are left as they are.
DARK_FACE = 0.3
LIGHT_TARGET = 0.5

# ---------------------------------------------------------------------------------------------
# Crop -> standardised tensor -> embedding

# Fixed standardisation Sandberg trained 20180408-102900 with: (x - 127.5) / 128.
PIXEL_CENTER = 127.5
PIXEL_SCALE = 1 / 128
EMBEDDING_SIZE = 512
# Bumped whenever a change of the pipeline (detection, crop, standardisation, flip) changes the
# embeddings: it keys the embedding cache and is stored in saved face databases.
PIPELINE_VERSION = 3

# ---------------------------------------------------------------------------------------------
# Distance -> decision

# Decision threshold on the L2 distance between unit-length embeddings (0 = same, 2 = opposite):
# the mean of the 10 thresholds LFW's protocol chose for this pipeline (margin 0.1, flip), as
# printed by benchmarks/lfw_verification.py. The notebook shows how to choose it from data.
VERIFICATION_THRESHOLD = 1.11

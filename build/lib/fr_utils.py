"""The notebook's front door: from a photo to a FaceNet embedding, and distances between them.

    photo -> face crop (faces.py) -> standardised tensor -> network -> unit-length embedding
          (embeddings.py) -> L2 distance -> decision (distances.py)

The notebooks import what they use from here (``img_to_encoding``, ``encode_images``,
``l2_distance``, ``load_facenet``, ...); each name is defined in the module of its step, and the
sizes and thresholds in ``settings.py``.
"""

from distances import best_threshold, l2_distance, pairwise_distances
from embeddings import (
    embed_crops,
    encode_images,
    img_to_encoding,
    load_facenet,
    standardise,
    weights_sha256,
)
from faces import (
    FaceNotFoundError,
    FaceWarning,
    ImageReadError,
    SeveralFacesWarning,
    crop_face,
    detect_faces,
    face_crops,
    main_face,
    read_image,
)
from quiet_tensorflow import import_tensorflow
from settings import (
    CACHE_DIR,
    CAMERA_DIR,
    DATABASE_DIR,
    FACE_MARGIN,
    FACE_SIZE,
    IMAGES_DIR,
    PROJECT_DIR,
    VERIFICATION_THRESHOLD,
)

__all__ = [
    "CACHE_DIR", "CAMERA_DIR", "DATABASE_DIR", "FACE_MARGIN", "FACE_SIZE", "IMAGES_DIR", "PROJECT_DIR",
    "VERIFICATION_THRESHOLD", "FaceNotFoundError", "best_threshold", "FaceWarning", "ImageReadError", "SeveralFacesWarning",
    "crop_face", "detect_faces", "embed_crops", "encode_images", "face_crops", "img_to_encoding",
    "import_tensorflow", "l2_distance", "load_facenet", "main_face", "pairwise_distances", "read_image",
    "standardise", "weights_sha256",
]

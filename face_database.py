"""The notebook's photos: a database of known people and "camera" photos to check against it.

Layout (built at run time, git-ignored, never committed):

    images/database/<name>.jpg     one photo per known person; the file name is the identity
    images/camera/<file>.jpg       photos "taken at the door"
    images/camera/manifest.csv     columns file,identity: who each camera photo shows, or "unknown"

``build_from_lfw`` fills it from Labeled Faces in the Wild as ``images/lfw_selection.json``
says; ``build_from_folder`` copies an instructor's own folder laid out the same way. Both are
behind ``python scripts/build_images.py``.
"""

import csv
import hashlib
import json
import shutil
from pathlib import Path

import embeddings
import faces
import lfw
import settings

SELECTION_PATH = settings.IMAGES_DIR / "lfw_selection.json"
MANIFEST_NAME = "manifest.csv"
BUILT_FROM_NAME = "built_from.json"  # where images/ came from: LFW (and which selection) or a folder
UNKNOWN = "unknown"
PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png")
# The LFW camera photos are chosen so that each decision is at least this far (L2) from
# VERIFICATION_THRESHOLD: known people below it, unknown people above it. Another crop of the
# same photos (the funneled LFW that the download fetches, a different margin) moves distances
# by a few hundredths, so the camera table holds there too.
DECISION_MARGIN = 0.15


def images_ready(images_dir=settings.IMAGES_DIR):
    """True when the database folder and the camera manifest exist."""
    images_dir = Path(images_dir)
    return any(database_photos(images_dir / "database")) and (images_dir / "camera" / MANIFEST_NAME).is_file()


def database_photos(database_dir=settings.DATABASE_DIR):
    """{identity: photo path} for the photos of a database folder, sorted by identity."""
    database_dir = Path(database_dir)
    if not database_dir.is_dir():
        return {}
    return {
        path.stem: path
        for path in sorted(database_dir.iterdir())
        if path.suffix.lower() in PHOTO_SUFFIXES
    }


def read_manifest(camera_dir=settings.CAMERA_DIR):
    """[(photo path, identity)] from ``camera/manifest.csv``; identity is a name or "unknown"."""
    camera_dir = Path(camera_dir)
    manifest = camera_dir / MANIFEST_NAME
    if not manifest.is_file():
        raise FileNotFoundError(f"{manifest} is missing. Run: python scripts/build_images.py")
    with open(manifest, newline="") as handle:
        rows = list(csv.DictReader(handle))
    if rows and set(rows[0]) != {"file", "identity"}:
        raise ValueError(f"{manifest} must have the two columns file,identity.")
    return [(camera_dir / row["file"], row["identity"]) for row in rows]


def _write_manifest(camera_dir, rows):
    with open(Path(camera_dir) / MANIFEST_NAME, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["file", "identity"])
        writer.writerows(rows)


def _fresh_folders(images_dir):
    database_dir, camera_dir = Path(images_dir) / "database", Path(images_dir) / "camera"
    for folder in (database_dir, camera_dir):
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir(parents=True)
    return database_dir, camera_dir


def build_from_lfw(lfw_dir=None, selection_path=SELECTION_PATH, images_dir=settings.IMAGES_DIR):
    """Copy the selected LFW photos into ``images_dir``.

    Args:
        lfw_dir: the LFW folder (default: ``lfw.lfw_root()``, $LFW_DIR or a download).
        selection_path: JSON with "database" {identity: "<LFW name>_<NNNN>"} and "camera"
            [{"file", "lfw", "identity"}].
        images_dir: destination holding database/ and camera/.
    """
    root = Path(lfw_dir) if lfw_dir else lfw.lfw_root()
    selection = json.loads(Path(selection_path).read_text())

    def source(photo_id):
        name, number = photo_id.rsplit("_", 1)
        return lfw.photo_path(root, name, number)

    database_dir, camera_dir = _fresh_folders(images_dir)
    for identity, photo_id in selection["database"].items():
        shutil.copyfile(source(photo_id), database_dir / f"{identity}.jpg")
    for entry in selection["camera"]:
        shutil.copyfile(source(entry["lfw"]), camera_dir / entry["file"])
    _write_manifest(camera_dir, [(entry["file"], entry["identity"]) for entry in selection["camera"]])
    _write_built_from(images_dir, {"source": "lfw", "selection_sha256": _sha256(selection_path)})


def _sha256(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _write_built_from(images_dir, record):
    (Path(images_dir) / BUILT_FROM_NAME).write_text(json.dumps(record) + "\n")


def built_from(images_dir=settings.IMAGES_DIR):
    """What ``images_dir`` was built from: {"source": "lfw", "selection_sha256"} or {"source": folder};
    {} when unknown (built by an older version)."""
    path = Path(images_dir) / BUILT_FROM_NAME
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def build_from_folder(folder, images_dir=settings.IMAGES_DIR):
    """Use an instructor's own photos: ``folder`` holds database/ and camera/ as described above.

    Each photo is read once (``faces.read_image``) so that a damaged file is reported now,
    with its name, rather than in the middle of the notebook.
    """
    folder = Path(folder)
    photos = database_photos(folder / "database")
    if not photos:
        raise FileNotFoundError(f"{folder / 'database'} has no .jpg/.jpeg/.png photos named <identity>.jpg.")
    manifest = read_manifest(folder / "camera")
    unknown_names = {identity for _, identity in manifest} - set(photos) - {UNKNOWN}
    if unknown_names:
        raise ValueError(
            f"{folder / 'camera' / MANIFEST_NAME} names {sorted(unknown_names)}, who have no photo in "
            f"{folder / 'database'}; use one of {sorted(photos)} or '{UNKNOWN}'."
        )
    for path in list(photos.values()) + [path for path, _ in manifest]:
        faces.read_image(path)
    database_dir, camera_dir = _fresh_folders(images_dir)
    for identity, path in photos.items():
        shutil.copyfile(path, database_dir / path.name)
    for path, _ in manifest:
        shutil.copyfile(path, camera_dir / path.name)
    _write_manifest(camera_dir, [(path.name, identity) for path, identity in manifest])
    _write_built_from(images_dir, {"source": str(folder.resolve())})


def ensure_images(images_dir=settings.IMAGES_DIR):
    """Build the photos from LFW unless they are there (the notebook's first cell). Photos built
    from an older LFW selection are rebuilt; an instructor's own photos are kept."""
    settings.require_project_dir()  # the selection and the photos live in the clone
    record = built_from(images_dir)
    stale = record.get("source") == "lfw" and record.get("selection_sha256") != _sha256(SELECTION_PATH)
    if not images_ready(images_dir) or stale:
        build_from_lfw(images_dir=images_dir)


def build_database(model, database_dir=settings.DATABASE_DIR, **options):
    """{identity: (512,) float32 unit-length embedding} for every photo of the database folder.

    Embeddings come from ``embeddings.encode_images``, cached by photo content and weights, so a
    changed photo or new weights are encoded again and the rest is read from the cache.
    """
    photos = database_photos(database_dir)
    vectors = embeddings.encode_images(list(photos.values()), model, progress=False, **options)
    return dict(zip(photos, vectors))

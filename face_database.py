"""The notebook's photos: a database of known people and "camera" photos to check against it.

Layout (built at run time, git-ignored, never committed):

    images/database/<name>.jpg     one photo per known person; the file name is the identity
    images/camera/<file>.jpg       photos "taken at the door"
    images/camera/manifest.csv     columns file,identity: who each camera photo shows, or "unknown"

``build_from_lfw`` fills it from Labeled Faces in the Wild as ``images/lfw_selection.json``
says; ``build_from_folder`` copies an instructor's own folder laid out the same way. Both are
behind ``python scripts/build_images.py``. ``build_database`` embeds the database folder into the
dict of one embedding per name that the graded ``who_is_it`` searches.

``FaceDatabase`` holds several photos per person: enrol, remove, identify, save to one file and
load it back (refused if other weights or another pipeline made it).
"""

import csv
import io
import json
import os
import shutil
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image

import embeddings
import faces
import files
import lfw
import settings
from distances import l2_distance

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
    _write_built_from(images_dir, {"source": "lfw", "selection_sha256": files.sha256_of_file(selection_path)})


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
    stale = record.get("source") == "lfw" and record.get("selection_sha256") != files.sha256_of_file(SELECTION_PATH)
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


# ---------------------------------------------------------------------------------------------
# Several photos per person: FaceDatabase
#
# The notebook's database above holds one embedding per name, the dict the graded ``who_is_it``
# searches. ``FaceDatabase`` holds several per name. Which person a photo shows, and whether to
# let them in, is decided by ``decide`` (the reasons, with the measurements, are in its docstring
# and in source/Face_Recognition_several_photos.ipynb).

FILE_FORMAT = "facenet-course face database"
FILE_FORMAT_VERSION = 1


class DatabaseFileError(ValueError):
    """A file is not a face database saved by ``FaceDatabase.save``, or it is damaged."""


class IncompatibleDatabaseError(ValueError):
    """A saved face database was made with other weights or another version of the pipeline."""


def pipeline_settings(flip=True):
    """What makes embeddings comparable, as plain data: stored in each saved database.

    Two embeddings can be compared only if the same pipeline (``settings.PIPELINE_VERSION``: the
    detection, the crop, its size and margin, the standardisation) and the same flip made them,
    from the same weights (``embeddings.weights_sha256()``, stored beside these settings).
    """
    return {"version": settings.PIPELINE_VERSION, "face_size": settings.FACE_SIZE,
            "margin": settings.FACE_MARGIN, "flip": bool(flip)}


def person_means(embeddings_per_person):
    """The mean of each person's unit-length embeddings, not re-normalised.

    Args:
        embeddings_per_person: a sequence of K float arrays (n_k, d), unit-length rows, n_k >= 1.

    Returns:
        float64 array (K, d). Row k has L2 norm in (0, 1]: 1 when person k's photos all have the
        same embedding, less the more they differ.
    """
    return np.stack([np.mean(np.asarray(rows, np.float64), axis=0) for rows in embeddings_per_person])


def decide(probes, means, threshold=settings.VERIFICATION_THRESHOLD):
    """``FaceDatabase.identify``'s rule, for P probes at once: who is it, and are they let in?

    - **Who**: the person whose mean embedding, re-normalised to unit length, is nearest the
      probe (on LFW its rank-1 is at least the nearest photo's and the k-NN vote's).
    - **Let in?** Only if the root-mean-square L2 distance between the probe and that person's
      enrolled photos is below ``threshold``. With one photo per person it is the plain L2
      distance, so the rule is then ``who_is_it``'s. It equals
      sqrt(|probe - mean|^2 + 1 - |mean|^2): the distance to the (not re-normalised) mean plus
      the spread of the person's photos around it.

    Why this rule, measured on LFW (``python benchmarks/several_photos.py``: 143 people, 961
    probes, 1,000 strangers, 5 draws; at the fixed threshold 1.11):

        photos enrolled per person              1        5       10
        rank-1 (this rule's: the nearest mean)  97.6%    99.6%    99.6%
        strangers rejected, nearest photo       46.6%    22.2%    13.7%
        strangers rejected, mean embedding      46.6%    41.4%    40.4%
        strangers rejected, this rule           46.6%    62.3%    63.5%
        right and let in, this rule             97.1%    99.2%    99.4%

    Each added photo gives a stranger another chance to come close (the nearest photo), and the
    mean of several photos, re-normalised, is closer to everyone (the mean embedding): both let
    in more strangers than one photo does at the same threshold. The root-mean-square distance
    averages the n distances instead, so a stranger must be close to all of a person's photos:
    strangers are rejected more often than with one photo, and the people enrolled are still
    let in more often. The price: at a threshold calibrated on strangers of one's own for 1% of
    them let in, the distance to the mean separates people better (95.8% recognised with 10
    photos, against 89.4% for this rule); this rule is for the fixed threshold.

    Args:
        probes: float array (P, d), unit-length rows (from the same pipeline and weights).
        means: float array (K, d) from ``person_means``, K >= 1.
        threshold: L2 distance (the units of ``settings.VERIFICATION_THRESHOLD``); a probe is
            let in when its distance is strictly below it.

    Returns:
        (rows, distances, accepted): int array (P,), the row of ``means`` of each probe's person;
        float64 array (P,), the root-mean-square L2 distance to that person's photos, in [0, 2];
        bool array (P,), distance < threshold.
    """
    probes, means = np.atleast_2d(np.asarray(probes, np.float64)), np.atleast_2d(np.asarray(means, np.float64))
    norms = np.linalg.norm(means, axis=1)
    # For unit-length vectors the nearest re-normalised mean is the one with the largest dot product.
    rows = np.argmax(probes @ (means / norms[:, None]).T, axis=1)
    spread = np.maximum(1.0 - norms[rows] ** 2, 0.0)
    distances = np.sqrt(l2_distance(probes, means[rows]) ** 2 + spread)
    return rows, distances, distances < threshold


def _photo_list(photos):
    """One photo (a path, a PIL image, an array) or a list of them, as a list."""
    if isinstance(photos, (str, os.PathLike, np.ndarray, Image.Image)):
        return [photos]
    try:
        return list(photos)
    except TypeError:
        raise TypeError(
            f"photos must be a photo (a file path, a PIL image or an RGB array) or a list of photos; "
            f"got {type(photos).__name__}."
        ) from None


def _photo_name(photo, index, count):
    if isinstance(photo, (str, os.PathLike)):
        return str(photo)
    kind = "a PIL image" if isinstance(photo, Image.Image) else f"an array of shape {getattr(photo, 'shape', '?')}"
    return f"photo {index + 1} of {count} ({kind})" if count > 1 else f"the photo ({kind})"


def check_identity(identity):
    """Raise unless ``identity`` is a name: a str with something other than spaces in it."""
    if not isinstance(identity, str):
        raise TypeError(f"An identity must be a person's name (a str), not {type(identity).__name__}: {identity!r}.")
    if not identity.strip():
        raise ValueError(f"An identity must be a person's name; got the empty name {identity!r}.")
    return identity


class FaceDatabase:
    """People, each with one or more enrolled photos, and a rule to recognise them.

    Each photo goes through the notebook's pipeline (``faces.read_image``, ``faces.face_crops``
    with MTCNN, ``embeddings.embed_crops`` with the mirror image averaged in) to one unit-length
    512-d float32 embedding; the database keeps every embedding of every person, and
    ``identify`` decides with ``decide``.

        people = FaceDatabase(model)
        people.add("ada", ["ada_1.jpg", "ada_2.jpg", "ada_3.jpg"])
        people.identify("door.jpg")            # ("ada", 0.71) or (None, 1.32)
        people.save("people.npz")
        people = FaceDatabase.load("people.npz", model)

    With one photo per person it is the graded exercises' dict (``as_dict``, ``from_dict``), and
    ``identify`` answers as ``who_is_it`` does.
    """

    def __init__(self, model, threshold=settings.VERIFICATION_THRESHOLD):
        """
        Args:
            model: the network from ``embeddings.load_facenet`` (``fr_utils.load_facenet``).
            threshold: ``identify``'s default threshold, an L2 distance.
        """
        self.model = model
        self.threshold = float(threshold)
        self.weights_sha256 = embeddings.weights_sha256()
        self.pipeline = pipeline_settings()
        self._people = {}  # identity -> float32 array (n, 512)
        self._means = None  # (identities in order, (K, 512) means), recomputed after a change

    # -- building -------------------------------------------------------------------------------

    def embed(self, photos):
        """The embeddings of photos, one face each, without adding them.

        Args:
            photos: a photo or a list of photos: file paths, PIL images or RGB arrays (H, W, 3).

        Returns:
            float32 array (N, 512), unit-length rows, in the order of ``photos``.

        Raises:
            faces.ImageReadError: a photo cannot be read (the message names it).
            faces.FaceNotFoundError: no face in a photo (the message names it).
        Warns:
            faces.SeveralFacesWarning: a photo shows several faces (the largest, most central is used).
        """
        photos = _photo_list(photos)
        names = [_photo_name(photo, index, len(photos)) for index, photo in enumerate(photos)]
        images = [faces.read_image(photo) for photo in photos]
        crops, _, _ = faces.face_crops(images, names, on_no_face="error")
        return embeddings.embed_crops(crops, self.model, flip=self.pipeline["flip"])

    def add(self, identity, photos):
        """Enrol ``identity`` with one or more photos (or add photos to someone enrolled).

        Every photo is read and embedded before anything changes: if one cannot be read or shows
        no face, the error names it and the database is as before.

        Args:
            identity: the person's name, a non-empty str.
            photos: a photo or a list of photos (file paths, PIL images, RGB arrays), one face each.

        Returns:
            float32 array (N, 512): the embeddings added.
        """
        check_identity(identity)
        photos = _photo_list(photos)
        if not photos:
            raise ValueError(f"No photos given for {identity!r}: add at least one photo of their face.")
        return self.add_embeddings(identity, self.embed(photos))

    def add_embeddings(self, identity, vectors):
        """Enrol ``identity`` with embeddings already computed by this pipeline and these weights.

        Args:
            identity: the person's name, a non-empty str.
            vectors: float array (512,) or (N, 512), unit-length rows (e.g. from ``encode_images``).

        Returns:
            float32 array (N, 512): the embeddings added.
        """
        check_identity(identity)
        vectors = np.array(vectors, dtype=np.float32, ndmin=2)
        if vectors.ndim != 2 or vectors.shape[1] != settings.EMBEDDING_SIZE or len(vectors) == 0:
            raise ValueError(f"Embeddings must have shape (N, {settings.EMBEDDING_SIZE}) with N >= 1; got {vectors.shape}.")
        norms = np.linalg.norm(vectors, axis=1)
        if not np.all(np.isfinite(vectors)) or np.any(np.abs(norms - 1.0) > 1e-3):
            raise ValueError("Embeddings must be finite and of L2 norm 1, as the network's are.")
        known = self._people.get(identity)
        self._people[identity] = vectors if known is None else np.concatenate([known, vectors])
        self._means = None
        return vectors

    def remove(self, identity):
        """Forget ``identity`` and all their photos' embeddings. Raises KeyError if unknown."""
        if identity not in self._people:
            raise KeyError(f"{identity!r} is not in the database; it holds {self.identities()}.")
        del self._people[identity]
        self._means = None

    # -- reading --------------------------------------------------------------------------------

    def identities(self):
        """The enrolled names, sorted."""
        return sorted(self._people)

    def embeddings(self, identity):
        """A copy of ``identity``'s embeddings: float32 array (n, 512), in the order they were added."""
        return self._people[identity].copy()

    def photo_counts(self):
        """{identity: number of photos enrolled}."""
        return {identity: len(self._people[identity]) for identity in self.identities()}

    def __len__(self):
        return len(self._people)

    def __contains__(self, identity):
        return identity in self._people

    def __repr__(self):
        return f"FaceDatabase({len(self)} people, {sum(self.photo_counts().values())} photos)"

    def as_dict(self):
        """{identity: (512,) float32 unit-length embedding}: the graded exercises' database.

        Each person's embedding is the mean of their photos' embeddings, re-normalised; with one
        photo per person it is that photo's embedding, and ``who_is_it(photo, as_dict(), model)``
        then answers as ``identify`` does.
        """
        names, means = self._summary()
        if not names:
            return {}
        return {name: (mean / np.linalg.norm(mean)).astype(np.float32) for name, mean in zip(names, means)}

    @classmethod
    def from_dict(cls, model, database, threshold=settings.VERIFICATION_THRESHOLD):
        """A FaceDatabase holding the graded exercises' database: one embedding per name.

        Args:
            database: {identity: (512,) unit-length embedding}, e.g. ``build_database(model)``.
        """
        people = cls(model, threshold)
        for identity, vector in database.items():
            people.add_embeddings(identity, vector)
        return people

    def _summary(self):
        if self._means is None:
            names = list(self._people)
            self._means = (names, person_means([self._people[name] for name in names]) if names else None)
        return self._means

    # -- recognising ----------------------------------------------------------------------------

    def identify_embeddings(self, vectors, threshold=None):
        """``identify`` for embeddings already computed: [(identity or None, distance)] per row.

        Args:
            vectors: float array (512,) or (P, 512), unit-length rows.
            threshold: see ``identify``.
        """
        threshold = self.threshold if threshold is None else float(threshold)
        names, means = self._summary()
        if not names:
            raise ValueError("The database is empty: enrol someone first with add(identity, photos).")
        rows, distances, accepted = decide(np.array(vectors, np.float64, ndmin=2), means, threshold)
        return [(names[row] if ok else None, float(distance)) for row, distance, ok in zip(rows, distances, accepted)]

    def identify(self, photo, threshold=None):
        """Who is in the photo, if anyone the database knows.

        Args:
            photo: a file path, a PIL image or an RGB array, showing one face.
            threshold: an L2 distance; default ``self.threshold`` (``VERIFICATION_THRESHOLD``,
                1.11). A larger one lets more people in, strangers too; 2 or more lets everyone in.

        Returns:
            (identity or None, distance): the nearest person (see ``decide``) if their distance is
            below the threshold, else None; the distance (root-mean-square L2 distance to that
            person's photos, in [0, 2]) either way.

        Raises:
            faces.ImageReadError, faces.FaceNotFoundError: as ``embed``. ValueError: no one enrolled.
        """
        if not self._people:
            raise ValueError("The database is empty: enrol someone first with add(identity, photos).")
        [answer] = self.identify_embeddings(self.embed([photo]), threshold)
        return answer

    # -- one file -------------------------------------------------------------------------------

    def save(self, path):
        """Write the database to one file (``.npz``), atomically: a reader never sees half a file.

        The file holds a JSON header (format, identities and their photo counts, the weights'
        SHA-256, the pipeline's settings, the threshold) and the (N, 512) float32 embeddings; no
        photos and no pickled objects.

        Returns:
            The path, as a Path.
        """
        names = list(self._people)
        header = {
            "format": FILE_FORMAT, "format_version": FILE_FORMAT_VERSION,
            "weights_sha256": self.weights_sha256, "pipeline": self.pipeline, "threshold": self.threshold,
            "identities": names, "photos": [len(self._people[name]) for name in names],
        }
        vectors = (np.concatenate([self._people[name] for name in names]) if names
                   else np.zeros((0, settings.EMBEDDING_SIZE), np.float32))
        buffer = io.BytesIO()
        np.savez(buffer, header=np.array(json.dumps(header)), embeddings=vectors)
        return files.atomic_write(path, buffer.getvalue())

    @classmethod
    def load(cls, path, model):
        """A database saved by ``save``, for ``model``.

        Raises:
            FileNotFoundError: no such file.
            DatabaseFileError: the file is not a saved face database, or it is damaged.
            IncompatibleDatabaseError: it was made with other weights or another pipeline
                version, whose embeddings cannot be compared with this model's; the message says
                how to rebuild it.
        """
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no such file. Check the path (it is relative to {Path.cwd()}).")
        header, vectors = _read_database_file(path)
        people = cls(model, header["threshold"])
        rebuild = (f"Build it again from the photos with this model (people = FaceDatabase(model); "
                   f"people.add(name, photos) for each person), then save it over {path.name}.")
        if header["weights_sha256"] != people.weights_sha256:
            raise IncompatibleDatabaseError(
                f"{path} was made with other weights (SHA-256 {header['weights_sha256'][:12]}...; this model's: "
                f"{people.weights_sha256[:12]}...). Embeddings of different weights cannot be compared. {rebuild}"
            )
        if header["pipeline"] != people.pipeline:
            changed = sorted(key for key in set(header["pipeline"]) | set(people.pipeline)
                             if header["pipeline"].get(key) != people.pipeline.get(key))
            differences = ", ".join(f"{key}: {header['pipeline'].get(key)!r} in the file, {people.pipeline.get(key)!r} now"
                                    for key in changed)
            raise IncompatibleDatabaseError(
                f"{path} was made with another version of the pipeline ({differences}). "
                f"Its embeddings cannot be compared with today's. {rebuild}"
            )
        start = 0
        for name, count in zip(header["identities"], header["photos"]):
            people._people[name] = vectors[start : start + count].copy()
            start += count
        return people


def _read_database_file(path):
    """(header dict, float32 (N, 512) embeddings) of a saved database, every field checked."""
    damaged = (f"{path} is not a face database saved by FaceDatabase.save, or it is damaged "
               f"({{}}). Save the database again, or build it again from the photos.")
    try:
        data = np.load(path, allow_pickle=False)
        if not isinstance(data, np.lib.npyio.NpzFile):
            raise DatabaseFileError(damaged.format("it is a single .npy array, not an .npz archive"))
        with data:
            if {"header", "embeddings"} - set(data.files):
                raise DatabaseFileError(damaged.format("no header and embeddings in it"))
            header = json.loads(str(data["header"][()]))
            vectors = np.asarray(data["embeddings"])
    except DatabaseFileError:
        raise
    except (OSError, ValueError, KeyError, EOFError, TypeError, zipfile.BadZipFile) as error:
        reason = ("it holds pickled Python objects, which are never loaded" if "pickle" in str(error)
                  else f"it cannot be read as an .npz archive: {type(error).__name__}: {error}")
        raise DatabaseFileError(damaged.format(reason)) from None
    if not isinstance(header, dict) or header.get("format") != FILE_FORMAT:
        raise DatabaseFileError(damaged.format("its header does not name the format"))
    if header.get("format_version") != FILE_FORMAT_VERSION:
        raise DatabaseFileError(damaged.format(
            f"format version {header.get('format_version')!r}; this code reads version {FILE_FORMAT_VERSION}"))
    names, counts = header.get("identities"), header.get("photos")
    well_formed = (
        isinstance(names, list) and isinstance(counts, list) and len(names) == len(counts)
        and all(isinstance(name, str) and name.strip() for name in names) and len(set(names)) == len(names)
        and all(isinstance(count, int) and count >= 1 for count in counts)
        and isinstance(header.get("weights_sha256"), str) and isinstance(header.get("pipeline"), dict)
        and isinstance(header.get("threshold"), (int, float))
        and vectors.dtype == np.float32 and vectors.shape == (sum(counts), settings.EMBEDDING_SIZE)
        and np.all(np.isfinite(vectors)) and np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-3)
    )
    if not well_formed:
        raise DatabaseFileError(damaged.format("its header and embeddings do not agree"))
    return header, vectors

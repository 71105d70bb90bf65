"""Labeled Faces in the Wild: where the photos are (a folder of yours, or a checked download), the
official pairs files, and who has how many photos. The 10-fold protocol is in ``distances.py``.

The folder comes from the environment variable ``LFW_DIR`` (CI sets it to the shared, read-only
copy). Without it, ``lfw_root()`` downloads LFW once into ``~/.cache/facenet-course/lfw``: the
files scikit-learn's LFW fetcher uses, each checked against its SHA-256.

A download that fails in any way (no network, a host down, a truncated or corrupted file, Ctrl-C)
raises ``LFWDownloadError``, whose message says what happened and what to do; in a notebook the
cell shows that message only, not a traceback. Each file is written to ``<name>.part`` and renamed
only once its SHA-256 is right, the archive is unpacked into a temporary folder that is renamed
only once complete, and a marker file written last tells ``lfw_root()`` the folder is complete: a
partial file or folder is never used, and the next run starts clean.

Layout read (as in LFW's README): ``<variant>/<Name>/<Name>_NNNN.jpg`` beside ``pairs.txt``,
where the variant is ``lfw-deepfunneled``, ``lfw_funneled``, ``lfw-funneled`` or ``lfw``.
"""

import os
from dataclasses import dataclass
from pathlib import Path

import files

LFW_DIR_ENV = "LFW_DIR"
DEFAULT_LFW_HOME = Path.home() / ".cache" / "facenet-course" / "lfw"
PHOTO_VARIANTS = ("lfw-deepfunneled", "lfw_funneled", "lfw-funneled", "lfw")
# name -> (address, SHA-256, size in bytes): the public copies scikit-learn's fetch_lfw_* download
# (addresses and checksums as in sklearn/datasets/_lfw.py). The sizes are for the messages only:
# the pairs files' are exact (measured on copies with these checksums); the archive's is the
# "233MB" of LFW's own download page (scikit-learn's fetcher logs "~200MB").
LFW_SOURCES = {
    "pairs.txt": (
        "https://ndownloader.figshare.com/files/5976006",
        "ea42330c62c92989f9d7c03237ed5d591365e89b3e649747777b70e692dc1592",
        155_335,
    ),
    "pairsDevTrain.txt": (
        "https://ndownloader.figshare.com/files/5976012",
        "1d454dada7dfeca0e7eab6f65dc4e97a6312d44cf142207be28d688be92aabfa",
        56_579,
    ),
    "pairsDevTest.txt": (
        "https://ndownloader.figshare.com/files/5976009",
        "7cb06600ea8b2814ac26e946201cdb304296262aad67d046a16a7ec85d0ff87c",
        26_002,
    ),
    "lfw-funneled.tgz": (
        "https://ndownloader.figshare.com/files/5976015",
        "b47c8422c8cded889dc5a13418c4bc2abbda121092b3533a83306f90d900100a",
        233_000_000,
    ),
}
ARCHIVE_SUFFIXES = (".tgz", ".tar.gz")
# Written last into the download folder; lfw_root() trusts the folder only when it is there.
COMPLETE_MARKER = ".lfw-complete"


class LFWNotFoundError(FileNotFoundError):
    """The LFW folder is missing or not laid out as expected; the message says what to do."""

    def _render_traceback_(self):
        # IPython (and so Jupyter) calls this instead of printing a traceback: the cell shows
        # the message alone, not pages of library frames.
        return f"{type(self).__name__}: {self}".splitlines()


class LFWDownloadError(LFWNotFoundError):
    """Downloading LFW failed. The message says why and what to do; nothing partial was kept."""


@dataclass(frozen=True)
class Pair:
    """One line of an LFW pairs file: two photos, whether they show the same person, the fold."""

    first: Path
    second: Path
    same: bool
    fold: int


def photos_dir(root):
    """The folder of per-person photo folders inside an LFW folder ``root``."""
    root = Path(root)
    candidates = [root] + sorted(root.glob("*_extracted"))
    for base in candidates:
        for variant in PHOTO_VARIANTS:
            if (base / variant).is_dir():
                return base / variant
    raise LFWNotFoundError(
        f"{root} has none of the photo folders {', '.join(PHOTO_VARIANTS)}. Point {LFW_DIR_ENV} "
        f"at a folder laid out like LFW (see README.md), or unset it to download LFW."
    )


# ---------------------------------------------------------------------------------------------
# Downloading (with files.download and files.unpack_tar)


def _sources(sources):
    """{name: (address, sha256, size or None)} from entries of 2 or 3 items."""
    return {name: (entry[0], entry[1], entry[2] if len(entry) > 2 else None) for name, entry in sources.items()}


def _download_size(sources):
    """'about 233 MB (lfw-funneled.tgz 233 MB, 3 small files 0.2 MB)', or '' when unknown."""
    sizes = {name: size for name, (_, _, size) in sources.items() if size}
    if not sizes:
        return ""
    large = [f"{name} {files.megabytes(size)}" for name, size in sizes.items() if size >= 1e6]
    small = [size for size in sizes.values() if size < 1e6]
    if small:
        count = f"{len(small)} small file{'s' if len(small) > 1 else ''}"
        large.append(f"{count} {files.megabytes(sum(small))}")
    return f"about {files.megabytes(sum(sizes.values()))} ({', '.join(large)})"


def _marker_text(sources):
    return "".join(f"{sha256}  {name}\n" for name, (_, sha256, _) in sorted(sources.items()))


def _is_complete(home, sources):
    """True when ``home`` holds a download that finished, of these very files."""
    marker = Path(home) / COMPLETE_MARKER
    try:
        if marker.read_text() != _marker_text(sources):
            return False
        photos_dir(home)
        return (Path(home) / "pairs.txt").is_file()
    except (OSError, LFWNotFoundError):
        return False


def _error_message(what, name, address, home, sources):
    size = _download_size(sources)
    lines = [f"Could not download LFW (Labeled Faces in the Wild): {what}."]
    if name:
        lines.append(f"  file:   {name}, from {address}")
    lines += [
        f"  cache:  {home}  (nothing partial was kept; files already complete stay there)",
        "What to do:",
        f"  - If you have a copy of LFW (a folder holding pairs.txt and lfw-deepfunneled/), point "
        f"{LFW_DIR_ENV} at it:",
        f"      {LFW_DIR_ENV}=/path/to/lfw jupyter lab Face_Recognition.ipynb",
        f'    or, in a notebook already open, run  os.environ["{LFW_DIR_ENV}"] = "/path/to/lfw"  '
        f"and this cell again.",
        "  - Otherwise run this again when the network works: it downloads"
        + (f" {size}" if size else " LFW")
        + " into the cache folder, once, starting afresh.",
    ]
    return "\n".join(lines)


def fetch_lfw(home=DEFAULT_LFW_HOME, sources=None, progress=True):
    """Download (once) and unpack LFW into ``home``, each file checked by SHA-256.

    Args:
        home: destination folder.
        sources: {file name: (address, sha256[, size in bytes])}; defaults to LFW_SOURCES.
        progress: show a progress bar for each file.

    Returns:
        ``home`` as a Path.

    Raises:
        LFWDownloadError: any failure (network, checksum, disk, unpacking, Ctrl-C), with a message
            saying what to do. No partial file or folder is left where it could be used.
    """
    home = Path(home)
    sources = _sources(sources or LFW_SOURCES)
    if _is_complete(home, sources):
        return home
    name, address = None, None
    try:
        home.mkdir(parents=True, exist_ok=True)
        (home / COMPLETE_MARKER).unlink(missing_ok=True)
        files.remove_leftovers(home)
        archives = [entry for entry in sources if entry.endswith(ARCHIVE_SUFFIXES)]
        # A file already there is used only if its checksum is right (an older version of this
        # code downloaded in place, so a file at its final name may be partial).
        needed = [
            entry for entry in sources
            if not (home / entry).is_file() or files.sha256_of_file(home / entry) != sources[entry][1]
        ]
        if needed and progress:
            size = _download_size({entry: sources[entry] for entry in needed})
            print(
                f"Downloading LFW{f', {size},' if size else ''} into {home}, once. "
                f"To use a copy you already have, set {LFW_DIR_ENV}=/path/to/lfw instead.",
                flush=True,
            )
        for name in needed:
            address, sha256, _ = sources[name]
            files.remove(home / name)
            files.download(address, home / name, sha256, progress)
        for name in archives:
            address = sources[name][0]
            files.unpack_tar(home / name, home)
        name = address = None
        (home / COMPLETE_MARKER).write_text(_marker_text(sources))
        for archive in archives:  # unpacked and no longer needed; frees its space
            (home / archive).unlink(missing_ok=True)
    except files.TransferFailed as failure:
        raise LFWDownloadError(_error_message(str(failure), name, address, home, sources)) from None
    except KeyboardInterrupt:
        files.remove_leftovers(home)
        raise LFWDownloadError(
            _error_message("interrupted (Ctrl-C or the kernel was interrupted)", name, address, home, sources)
        ) from None
    except OSError as error:  # the cache folder: no space left, no permission, ...
        raise LFWDownloadError(
            _error_message(f"the cache folder could not be written ({error})", name, address, home, sources)
        ) from None
    return home


def lfw_root(download=True):
    """The LFW folder: ``$LFW_DIR`` if set, else the downloaded copy (fetched when missing).

    Raises:
        LFWNotFoundError: ``$LFW_DIR`` is set but wrong, or LFW is absent and download is False.
        LFWDownloadError: the download failed; its message says why and what to do.
    """
    configured = os.environ.get(LFW_DIR_ENV)
    if configured:
        root = Path(configured)
        if not (root / "pairs.txt").is_file():
            raise LFWNotFoundError(
                f"{LFW_DIR_ENV}={configured} has no pairs.txt. Point it at the LFW folder "
                f"(the one holding pairs.txt and lfw-deepfunneled/), or unset it to download LFW."
            )
        photos_dir(root)
        return root
    root = DEFAULT_LFW_HOME
    if _is_complete(root, _sources(LFW_SOURCES)):
        return root
    if not download:
        raise LFWNotFoundError(f"LFW is not in {root}; set {LFW_DIR_ENV} or allow the download.")
    return fetch_lfw(root)


def photo_path(root, name, number):
    """Path of photo ``number`` (1-based) of person ``name``."""
    return photos_dir(root) / name / f"{name}_{int(number):04d}.jpg"


def read_pairs(root, filename="pairs.txt"):
    """Read an LFW pairs file.

    ``pairs.txt`` starts with "10 300": 10 folds, each of 300 matching lines ("Name n1 n2")
    followed by 300 non-matching lines ("Name1 n1 Name2 n2"). The View 1 files start with one
    number, the count of matching pairs, and make a single fold.

    Returns:
        A list of Pair, in file order.
    """
    lines = (Path(root) / filename).read_text().split("\n")
    header = lines[0].split()
    folds, per_fold = (int(header[0]), int(header[1])) if len(header) == 2 else (1, int(header[0]))
    body = [line.split() for line in lines[1:] if line.strip()]
    if len(body) != folds * 2 * per_fold:
        raise ValueError(f"{filename}: expected {folds * 2 * per_fold} pairs, found {len(body)}.")
    pairs = []
    for index, fields in enumerate(body):
        fold = index // (2 * per_fold)
        if len(fields) == 3:
            name, first, second = fields
            pairs.append(Pair(photo_path(root, name, first), photo_path(root, name, second), True, fold))
        elif len(fields) == 4:
            name_1, first, name_2, second = fields
            pairs.append(Pair(photo_path(root, name_1, first), photo_path(root, name_2, second), False, fold))
        else:
            raise ValueError(f"{filename}, line {index + 2}: cannot read {' '.join(fields)!r}.")
    return pairs


def people_with_photos(root, minimum=1):
    """{name: sorted photo paths} for people with at least ``minimum`` photos."""
    people = {}
    for folder in sorted(photos_dir(root).iterdir()):
        if folder.is_dir():
            photos = sorted(folder.glob("*.jpg"))
            if len(photos) >= minimum:
                people[folder.name] = photos
    return people

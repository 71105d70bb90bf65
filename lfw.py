"""Labeled Faces in the Wild: where the photos are, the official pairs, and the 10-fold protocol.

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

import hashlib
import http.client
import os
import shutil
import socket
import tarfile
import tempfile
import urllib.error
import urllib.request
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

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
PART_SUFFIX = ".part"
UNPACKING_PREFIX = ".unpacking-"
DOWNLOAD_TIMEOUT = 60  # seconds without a byte from the server before giving up
CHUNK_BYTES = 1 << 20


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
# Downloading


class _Failure(Exception):
    """One download step failed (the argument says how); ``fetch_lfw`` makes it an LFWDownloadError."""


def _sources(sources):
    """{name: (address, sha256, size or None)} from entries of 2 or 3 items."""
    return {name: (entry[0], entry[1], entry[2] if len(entry) > 2 else None) for name, entry in sources.items()}


def _megabytes(count):
    return f"{count / 1e6:.1f} MB" if count < 10e6 else f"{count / 1e6:.0f} MB"


def _download_size(sources):
    """'about 233 MB (lfw-funneled.tgz 233 MB, 3 small files 0.2 MB)', or '' when unknown."""
    sizes = {name: size for name, (_, _, size) in sources.items() if size}
    if not sizes:
        return ""
    large = [f"{name} {_megabytes(size)}" for name, size in sizes.items() if size >= 1e6]
    small = [size for size in sizes.values() if size < 1e6]
    if small:
        count = f"{len(small)} small file{'s' if len(small) > 1 else ''}"
        large.append(f"{count} {_megabytes(sum(small))}")
    return f"about {_megabytes(sum(sizes.values()))} ({', '.join(large)})"


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


def _sha256_of(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(CHUNK_BYTES), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _remove(path):
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    elif path.exists() or path.is_symlink():
        path.unlink()


def _remove_leftovers(home):
    """What an interrupted earlier run may have left: partial files, half-unpacked folders."""
    for path in list(home.glob(f"*{PART_SUFFIX}")) + list(home.glob(f"{UNPACKING_PREFIX}*")):
        _remove(path)


def _describe(error):
    """A short, plain account of a network or file error."""
    reason = getattr(error, "reason", None)
    if isinstance(error, urllib.error.HTTPError):
        return f"the server answered HTTP {error.code} ({error.reason})"
    if isinstance(reason, socket.gaierror) or isinstance(error, socket.gaierror):
        return f"the server's name could not be looked up: no network connection? ({reason or error})"
    if isinstance(reason, (TimeoutError, socket.timeout)) or isinstance(error, (TimeoutError, socket.timeout)):
        return f"the server sent nothing for {DOWNLOAD_TIMEOUT} s: the host may be down or the network too slow"
    if isinstance(reason, ConnectionError) or isinstance(error, ConnectionError):
        return f"the connection failed: the host may be down ({reason or error})"
    if isinstance(reason, FileNotFoundError):
        return f"there is no such file ({reason})"
    if isinstance(error, http.client.IncompleteRead):
        return f"the connection ended early, after {_megabytes(len(error.partial))} of the file"
    return f"{type(error).__name__}: {reason or error}"


def _download(name, address, sha256, destination, progress):
    """Copy ``address`` to ``destination`` through ``<destination>.part``, renamed once verified."""
    from tqdm.auto import tqdm

    part = destination.with_name(destination.name + PART_SUFFIX)
    digest, received = hashlib.sha256(), 0
    try:
        with urllib.request.urlopen(address, timeout=DOWNLOAD_TIMEOUT) as response, open(part, "wb") as out:
            total = int(response.headers.get("Content-Length") or 0) or None
            with tqdm(total=total, desc=name, unit="B", unit_scale=True, unit_divisor=1000,
                      disable=not progress) as bar:
                for chunk in iter(lambda: response.read(CHUNK_BYTES), b""):
                    out.write(chunk)
                    digest.update(chunk)
                    received += len(chunk)
                    bar.update(len(chunk))
        if total is not None and received < total:
            raise _Failure(f"the connection ended early, after {_megabytes(received)} of {_megabytes(total)}")
        if digest.hexdigest() != sha256:
            raise _Failure(
                f"the {_megabytes(received)} received do not match the file's SHA-256 checksum: "
                f"the file is corrupted or incomplete, and was deleted"
            )
        os.replace(part, destination)
    except (OSError, http.client.HTTPException) as error:
        raise _Failure(_describe(error)) from None
    finally:
        part.unlink(missing_ok=True)


def _safe_members(tar):
    """For Pythons without tarfile's "data" filter: refuse links and paths that leave the folder."""
    for member in tar.getmembers():
        path = Path(member.name)
        if path.is_absolute() or ".." in path.parts or not (member.isfile() or member.isdir()):
            raise tarfile.TarError(f"unsafe entry {member.name!r}: a link, or a path leaving the folder")
    return tar.getmembers()


def _unpack(archive, home):
    """Unpack ``archive`` into a temporary folder in ``home``, then move its entries into place."""
    staging = Path(tempfile.mkdtemp(prefix=UNPACKING_PREFIX, dir=home))
    try:
        with tarfile.open(archive) as tar:
            if hasattr(tarfile, "data_filter"):
                tar.extractall(staging, filter="data")
            else:
                tar.extractall(staging, members=_safe_members(tar))
        for entry in sorted(staging.iterdir()):
            _remove(home / entry.name)
            os.replace(entry, home / entry.name)
    except (tarfile.TarError, EOFError, zlib.error) as error:
        raise _Failure(f"the archive could not be unpacked ({type(error).__name__}: {error})") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)


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
        _remove_leftovers(home)
        archives = [entry for entry in sources if entry.endswith(ARCHIVE_SUFFIXES)]
        # A file already there is used only if its checksum is right (an older version of this
        # code downloaded in place, so a file at its final name may be partial).
        needed = [
            entry for entry in sources
            if not (home / entry).is_file() or _sha256_of(home / entry) != sources[entry][1]
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
            _remove(home / name)
            _download(name, address, sha256, home / name, progress)
        for name in archives:
            address = sources[name][0]
            _unpack(home / name, home)
        name = address = None
        (home / COMPLETE_MARKER).write_text(_marker_text(sources))
        for archive in archives:  # unpacked and no longer needed; frees its space
            (home / archive).unlink(missing_ok=True)
    except _Failure as failure:
        raise LFWDownloadError(_error_message(str(failure), name, address, home, sources)) from None
    except KeyboardInterrupt:
        _remove_leftovers(home)
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


# ---------------------------------------------------------------------------------------------
# The protocol: threshold chosen on 9 folds, accuracy on the 10th


def pair_distances(first, second, metric="l2", mean=None):
    """Distances between rows of two (N, 512) arrays.

    Args:
        metric: "l2" (L2 distance) or "cosine" (1 - cosine similarity).
        mean: a (512,) vector subtracted from both sides first (Sandberg's --subtract_mean).

    Returns:
        float64 array (N,).
    """
    first, second = np.asarray(first, np.float64), np.asarray(second, np.float64)
    if mean is not None:
        first, second = first - mean, second - mean
    if metric == "l2":
        return np.linalg.norm(first - second, axis=1)
    if metric == "cosine":
        similarity = np.sum(first * second, axis=1) / (
            np.linalg.norm(first, axis=1) * np.linalg.norm(second, axis=1)
        )
        return 1.0 - similarity
    raise ValueError(f"metric must be 'l2' or 'cosine', not {metric!r}.")


def best_threshold(distances, same):
    """The distance threshold with the highest accuracy, deciding "same" when distance < it.

    Candidates are the midpoints between consecutive sorted distances (and the two ends), so the
    chosen threshold sits in the middle of the gap rather than on a training pair.
    """
    order = np.argsort(distances)
    ordered, matching = np.asarray(distances, np.float64)[order], np.asarray(same, bool)[order]
    candidates = np.concatenate([[ordered[0] - 1e-6], (ordered[:-1] + ordered[1:]) / 2, [ordered[-1] + 1e-6]])
    # Threshold k accepts the k smallest distances: correct are the matching ones among them
    # plus the non-matching ones above.
    accepted_matching = np.concatenate([[0], np.cumsum(matching)])
    rejected_different = np.sum(~matching) - np.concatenate([[0], np.cumsum(~matching)])
    accuracy = (accepted_matching + rejected_different) / len(matching)
    return float(candidates[int(np.argmax(accuracy))])


def threshold_at_far(distances, same, far):
    """The largest threshold whose false accept rate on these pairs is at most ``far``."""
    different = np.sort(np.asarray(distances)[~np.asarray(same, bool)])
    allowed = int(np.floor(far * len(different)))
    return float(different[allowed]) if allowed < len(different) else float(different[-1])


def evaluate_protocol(first, second, same, folds, metric="l2", subtract_mean=False, far=1e-3):
    """LFW's 10-fold protocol on embedding pairs.

    For each fold: choose the accuracy-maximising threshold (and the threshold at false accept
    rate ``far``) on the other folds, then measure on this one.

    Args:
        first, second: (N, 512) embeddings of each pair's two photos.
        same: (N,) bools. folds: (N,) fold index of each pair.
        metric, subtract_mean: see ``pair_distances``; the mean comes from the training folds.

    Returns:
        dict with accuracy_mean, accuracy_std, per-fold accuracies, thresholds, val_at_far
        (mean TAR at the FAR target), far (mean measured FAR), auc (on all pairs).
    """
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import PredefinedSplit

    same, folds = np.asarray(same, bool), np.asarray(folds)
    accuracies, thresholds, validation_rates, false_accept_rates = [], [], [], []
    all_distances = np.zeros(len(same))
    for train, test in PredefinedSplit(folds).split():
        mean = None
        if subtract_mean:
            mean = np.mean(np.concatenate([first[train], second[train]]), axis=0)
        train_distances = pair_distances(first[train], second[train], metric, mean)
        test_distances = pair_distances(first[test], second[test], metric, mean)
        all_distances[test] = test_distances
        threshold = best_threshold(train_distances, same[train])
        accuracies.append(np.mean((test_distances < threshold) == same[test]))
        thresholds.append(threshold)
        far_threshold = threshold_at_far(train_distances, same[train], far)
        accepted = test_distances < far_threshold
        validation_rates.append(np.mean(accepted[same[test]]))
        false_accept_rates.append(np.mean(accepted[~same[test]]))
    return {
        "accuracy_mean": float(np.mean(accuracies)),
        "accuracy_std": float(np.std(accuracies)),
        "fold_accuracies": [float(value) for value in accuracies],
        "threshold_mean": float(np.mean(thresholds)),
        "thresholds": [float(value) for value in thresholds],
        "val_at_far": float(np.mean(validation_rates)),
        "val_at_far_std": float(np.std(validation_rates)),
        "far_target": far,
        "far_measured": float(np.mean(false_accept_rates)),
        "auc": float(roc_auc_score(same, -all_distances)),
    }

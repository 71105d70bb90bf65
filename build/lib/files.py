"""File helpers used across the project: one SHA-256, one atomic write, one checked download.

- ``sha256_of_file``: the hex SHA-256 of a file, read in chunks.
- ``atomic_write``: write bytes or text through a temporary file and a rename, so that a reader
  never sees half a file; the file gets the permissions any new file of the user would get
  (0666 minus the umask), not the temporary file's 0600.
- ``download``: copy a URL to a file through ``<file>.part``, renamed only once its SHA-256 is
  right; every failure is a ``TransferFailed`` whose text says what happened, in plain words.
- ``unpack_tar``: unpack an archive into a folder through a temporary folder, refusing links
  and paths that leave it.
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
from pathlib import Path

CHUNK_BYTES = 1 << 20
PART_SUFFIX = ".part"
UNPACKING_PREFIX = ".unpacking-"
DOWNLOAD_TIMEOUT = 60  # seconds without a byte from the server before giving up


class TransferFailed(Exception):
    """A download or an unpacking failed; the argument says how, in plain words."""


def sha256_of_file(path):
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(CHUNK_BYTES), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _umask():
    """The process's umask (reading it means setting it; it is put back at once)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_write(path, data, mode=None):
    """Write ``data`` (bytes or str, UTF-8) to ``path`` through a temporary file and a rename.

    Args:
        path: the destination; its folder is created if needed.
        data: bytes, or text written as UTF-8 with newlines as given.
        mode: the file's permissions; default 0o666 minus the umask, as ``open()`` would give.

    Returns:
        ``path`` as a Path.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = data.encode("utf-8") if isinstance(data, str) else data
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(payload)
            os.fchmod(handle.fileno(), 0o666 & ~_umask() if mode is None else mode)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def megabytes(count):
    """A byte count as '0.2 MB' or '233 MB'."""
    return f"{count / 1e6:.1f} MB" if count < 10e6 else f"{count / 1e6:.0f} MB"


def remove(path):
    """Remove a file, a link or a folder, whichever ``path`` is; nothing if it is absent."""
    path = Path(path)
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    elif path.exists() or path.is_symlink():
        path.unlink()


def describe_error(error):
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
        return f"the connection ended early, after {megabytes(len(error.partial))} of the file"
    return f"{type(error).__name__}: {reason or error}"


def download(address, destination, sha256, progress=True, label=None):
    """Copy ``address`` to ``destination`` through ``<destination>.part``, renamed once verified.

    Args:
        address: an http(s):// or file:// URL.
        destination: the file to write.
        sha256: the hex SHA-256 the bytes must have.
        progress: show a tqdm progress bar.
        label: the bar's label (default: the file's name).

    Raises:
        TransferFailed: the network, the server, the disk or the checksum failed; nothing is
            left at ``destination`` or ``<destination>.part``.
    """
    from tqdm.auto import tqdm

    destination = Path(destination)
    part = destination.with_name(destination.name + PART_SUFFIX)
    digest, received = hashlib.sha256(), 0
    try:
        with urllib.request.urlopen(address, timeout=DOWNLOAD_TIMEOUT) as response, open(part, "wb") as out:
            total = int(response.headers.get("Content-Length") or 0) or None
            with tqdm(total=total, desc=label or destination.name, unit="B", unit_scale=True, unit_divisor=1000,
                      disable=not progress) as bar:
                for chunk in iter(lambda: response.read(CHUNK_BYTES), b""):
                    out.write(chunk)
                    digest.update(chunk)
                    received += len(chunk)
                    bar.update(len(chunk))
        if total is not None and received < total:
            raise TransferFailed(f"the connection ended early, after {megabytes(received)} of {megabytes(total)}")
        if digest.hexdigest() != sha256:
            raise TransferFailed(
                f"the {megabytes(received)} received do not match the file's SHA-256 checksum: "
                f"the file is corrupted or incomplete, and was deleted"
            )
        os.replace(part, destination)
    except (OSError, http.client.HTTPException) as error:
        raise TransferFailed(describe_error(error)) from None
    finally:
        part.unlink(missing_ok=True)


def _safe_members(tar):
    """For Pythons without tarfile's "data" filter: refuse links and paths that leave the folder."""
    for member in tar.getmembers():
        path = Path(member.name)
        if path.is_absolute() or ".." in path.parts or not (member.isfile() or member.isdir()):
            raise tarfile.TarError(f"unsafe entry {member.name!r}: a link, or a path leaving the folder")
    return tar.getmembers()


def unpack_tar(archive, folder):
    """Unpack ``archive`` into a temporary folder inside ``folder``, then move its entries into place.

    Raises:
        TransferFailed: the archive is damaged or holds unsafe entries; the temporary folder is removed.
    """
    folder = Path(folder)
    staging = Path(tempfile.mkdtemp(prefix=UNPACKING_PREFIX, dir=folder))
    try:
        with tarfile.open(archive) as tar:
            if hasattr(tarfile, "data_filter"):
                tar.extractall(staging, filter="data")
            else:
                tar.extractall(staging, members=_safe_members(tar))
        for entry in sorted(staging.iterdir()):
            remove(folder / entry.name)
            os.replace(entry, folder / entry.name)
    except (tarfile.TarError, EOFError, zlib.error) as error:
        raise TransferFailed(f"the archive could not be unpacked ({type(error).__name__}: {error})") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def remove_leftovers(folder):
    """What an interrupted earlier download may have left in ``folder``: partial files,
    half-unpacked folders."""
    folder = Path(folder)
    for path in list(folder.glob(f"*{PART_SUFFIX}")) + list(folder.glob(f"{UNPACKING_PREFIX}*")):
        remove(path)

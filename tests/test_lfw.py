"""LFW reading, the download path (against a local file:// source) and the 10-fold protocol."""

import contextlib
import hashlib
import http.server
import os
import socket
import tarfile
import threading
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest

import distances
import files
import lfw


def test_official_pairs_resolve_to_photos(lfw_dir):
    pairs = lfw.read_pairs(lfw_dir)
    assert len(pairs) == 6000
    assert sum(pair.same for pair in pairs) == 3000
    assert sorted({pair.fold for pair in pairs}) == list(range(10))
    assert all(pair.first.is_file() and pair.second.is_file() for pair in pairs[::97])
    view_1 = lfw.read_pairs(lfw_dir, "pairsDevTest.txt")
    assert len(view_1) == 1000 and {pair.fold for pair in view_1} == {0}


def test_wrong_lfw_dir_says_what_to_do(tmp_path, monkeypatch):
    monkeypatch.setenv(lfw.LFW_DIR_ENV, str(tmp_path))
    with pytest.raises(lfw.LFWNotFoundError, match="has no pairs.txt") as error:
        lfw.lfw_root()
    # In a notebook the message shows alone, without the library's traceback.
    assert error.value._render_traceback_() == f"LFWNotFoundError: {error.value}".splitlines()
    (tmp_path / "pairs.txt").write_text("10 300\n")
    with pytest.raises(lfw.LFWNotFoundError, match="none of the photo folders"):
        lfw.lfw_root()


def make_source(folder):
    """A miniature LFW as it is published: a pairs file and a .tgz of photo folders."""
    photos = folder / "build" / "lfw_funneled" / "Ada_Lovelace"
    photos.mkdir(parents=True)
    for number in (1, 2):
        # Large enough for the archive to take several reads of a few hundred bytes.
        (photos / f"Ada_Lovelace_{number:04d}.jpg").write_bytes(b"\xff\xd8" + os.urandom(3000))
    archive = folder / "lfw-funneled.tgz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(folder / "build" / "lfw_funneled", arcname="lfw_funneled")
    pairs = folder / "pairs.txt"
    pairs.write_text("1 1\nAda_Lovelace 1 2\nAda_Lovelace 1 Ada_Lovelace 2\n")
    return {
        path.name: (path.as_uri(), hashlib.sha256(path.read_bytes()).hexdigest())
        for path in (pairs, archive)
    }


def leftovers(home):
    """Partial files and half-unpacked folders left in a download folder."""
    return sorted(
        path.name for path in home.iterdir() if path.name.endswith(".part") or path.name.startswith(".unpacking")
    )


def assert_not_usable(home, monkeypatch):
    """Nothing in ``home`` is taken for LFW: no photo folder, and lfw_root() refuses it."""
    monkeypatch.delenv(lfw.LFW_DIR_ENV, raising=False)
    monkeypatch.setattr(lfw, "DEFAULT_LFW_HOME", home)
    assert leftovers(home) == []
    assert not (home / "lfw-funneled.tgz").exists() and not (home / lfw.COMPLETE_MARKER).exists()
    with pytest.raises(lfw.LFWNotFoundError, match="LFW is not in"):
        lfw.lfw_root(download=False)


def assert_says_what_to_do(error, address, home):
    message = str(error)
    assert message.startswith("Could not download LFW")
    for part in (address, str(home), f"{lfw.LFW_DIR_ENV}=/path/to/lfw", "nothing partial was kept"):
        assert part in message, part
    # A short chain: the message, not pages of urllib frames.
    assert error.__cause__ is None and error.__suppress_context__
    assert error._render_traceback_() == f"LFWDownloadError: {message}".splitlines()


def test_fetch_downloads_checks_and_unpacks(tmp_path, capsys, monkeypatch, tar_filter):
    sources = make_source(tmp_path / "server")
    home = lfw.fetch_lfw(tmp_path / "home", sources)
    pairs = lfw.read_pairs(home)
    assert [pair.same for pair in pairs] == [True, False]
    assert pairs[0].first.is_file() and pairs[0].first.parent.parent.name == "lfw_funneled"
    assert (home / lfw.COMPLETE_MARKER).is_file() and leftovers(home) == []
    assert not (home / "lfw-funneled.tgz").exists(), "the unpacked archive is deleted"
    assert "100%" in capsys.readouterr().err, "the download shows progress"
    monkeypatch.delenv(lfw.LFW_DIR_ENV, raising=False)
    monkeypatch.setattr(lfw, "DEFAULT_LFW_HOME", home)
    monkeypatch.setattr(lfw, "LFW_SOURCES", sources)
    assert lfw.lfw_root(download=False) == home


def test_a_file_with_the_wrong_bytes_is_refused_and_deleted(tmp_path, monkeypatch):
    sources = make_source(tmp_path / "server")
    address, _ = sources["pairs.txt"]
    sources["pairs.txt"] = (address, "0" * 64)
    with pytest.raises(lfw.LFWDownloadError, match="checksum: the file is corrupted or incomplete") as caught:
        lfw.fetch_lfw(tmp_path / "home", sources)
    assert_says_what_to_do(caught.value, address, tmp_path / "home")
    assert not (tmp_path / "home" / "pairs.txt").exists()
    assert_not_usable(tmp_path / "home", monkeypatch)


def test_a_truncated_file_is_refused_and_deleted(tmp_path, monkeypatch):
    sources = make_source(tmp_path / "server")
    archive = tmp_path / "server" / "lfw-funneled.tgz"
    archive.write_bytes(archive.read_bytes()[: archive.stat().st_size // 2])
    with pytest.raises(lfw.LFWDownloadError, match="corrupted or incomplete") as caught:
        lfw.fetch_lfw(tmp_path / "home", sources)
    assert_says_what_to_do(caught.value, sources["lfw-funneled.tgz"][0], tmp_path / "home")
    assert not (tmp_path / "home" / "lfw_funneled").exists()
    assert_not_usable(tmp_path / "home", monkeypatch)


def test_a_missing_file_says_so(tmp_path, monkeypatch):
    sources = make_source(tmp_path / "server")
    (tmp_path / "server" / "lfw-funneled.tgz").unlink()
    with pytest.raises(lfw.LFWDownloadError, match="there is no such file") as caught:
        lfw.fetch_lfw(tmp_path / "home", sources)
    assert_says_what_to_do(caught.value, sources["lfw-funneled.tgz"][0], tmp_path / "home")
    assert_not_usable(tmp_path / "home", monkeypatch)


def test_no_network_through_lfw_root_names_lfw_dir_and_the_size(tmp_path, monkeypatch):
    def no_network(*arguments, **keywords):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_network)
    monkeypatch.delenv(lfw.LFW_DIR_ENV, raising=False)
    monkeypatch.setattr(lfw, "DEFAULT_LFW_HOME", tmp_path / "home")
    sources = {name: (f"https://lfw-test.invalid/{name}",) + entry[1:] for name, entry in lfw.LFW_SOURCES.items()}
    monkeypatch.setattr(lfw, "LFW_SOURCES", sources)
    with pytest.raises(lfw.LFWDownloadError, match="no network connection") as caught:
        lfw.lfw_root()
    assert_says_what_to_do(caught.value, sources["pairs.txt"][0], tmp_path / "home")
    assert "about 233 MB (lfw-funneled.tgz 233 MB, 3 small files 0.2 MB)" in str(caught.value)
    assert_not_usable(tmp_path / "home", monkeypatch)


@contextlib.contextmanager
def loopback_server(handler_class):
    """An HTTP server on 127.0.0.1 in a thread, for the length of a with block."""
    server = http.server.HTTPServer(("127.0.0.1", 0), handler_class)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


class _HalfThenHangUp(http.server.BaseHTTPRequestHandler):
    """Announces 100,000 bytes, sends 30,000, and closes the connection."""

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", "100000")
        self.end_headers()
        self.wfile.write(b"x" * 30000)
        self.wfile.flush()
        self.close_connection = True

    def log_message(self, *arguments):
        pass


def test_a_connection_that_ends_early_is_refused(tmp_path, monkeypatch):
    with loopback_server(_HalfThenHangUp) as address:
        sources = {"pairs.txt": (f"{address}/pairs.txt", "0" * 64)}
        with pytest.raises(lfw.LFWDownloadError, match="the connection ended early") as caught:
            lfw.fetch_lfw(tmp_path / "home", sources)
    assert_says_what_to_do(caught.value, sources["pairs.txt"][0], tmp_path / "home")
    assert list((tmp_path / "home").iterdir()) == []


class _Stalls(http.server.BaseHTTPRequestHandler):
    """Sends the headers and a few bytes, then nothing for a while."""

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", "100000")
        self.end_headers()
        self.wfile.write(b"x" * 100)
        self.wfile.flush()
        time.sleep(1.5)

    def log_message(self, *arguments):
        pass


def test_a_server_that_stops_sending_times_out(tmp_path, monkeypatch):
    monkeypatch.setattr(files, "DOWNLOAD_TIMEOUT", 0.3)
    with loopback_server(_Stalls) as address:
        sources = {"pairs.txt": (f"{address}/pairs.txt", "0" * 64)}
        with pytest.raises(lfw.LFWDownloadError, match="the server sent nothing for 0.3 s") as caught:
            lfw.fetch_lfw(tmp_path / "home", sources)
    assert_says_what_to_do(caught.value, sources["pairs.txt"][0], tmp_path / "home")
    assert list((tmp_path / "home").iterdir()) == []


def test_a_host_that_is_down_says_so(tmp_path):
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    sources = {"pairs.txt": (f"http://127.0.0.1:{port}/pairs.txt", "0" * 64)}
    with pytest.raises(lfw.LFWDownloadError, match="the host may be down") as caught:
        lfw.fetch_lfw(tmp_path / "home", sources)
    assert_says_what_to_do(caught.value, sources["pairs.txt"][0], tmp_path / "home")


def test_ctrl_c_half_way_leaves_nothing_usable_and_the_next_run_starts_clean(tmp_path, monkeypatch):
    sources = make_source(tmp_path / "server")
    home = tmp_path / "home"
    real_urlopen = urllib.request.urlopen
    seen_part = []

    class InterruptedResponse:
        """The real response, with Ctrl-C pressed once half the archive has been read."""

        def __init__(self, response):
            self.response, self.headers, self.given = response, response.headers, 0

        def read(self, size):
            if self.given >= int(self.headers["Content-Length"]) // 2:
                seen_part.append((home / "lfw-funneled.tgz.part").is_file())
                raise KeyboardInterrupt
            chunk = self.response.read(size)
            self.given += len(chunk)
            return chunk

        def __enter__(self):
            return self

        def __exit__(self, *exc_info):
            self.response.close()

    def urlopen(address, *arguments, **keywords):
        response = real_urlopen(address, *arguments, **keywords)
        return InterruptedResponse(response) if address.endswith("lfw-funneled.tgz") else response

    monkeypatch.setattr(files, "CHUNK_BYTES", 256)
    monkeypatch.setattr(urllib.request, "urlopen", urlopen)
    with pytest.raises(lfw.LFWDownloadError, match="interrupted") as caught:
        lfw.fetch_lfw(home, sources)
    assert seen_part == [True], "the interruption came half-way through writing the archive"
    assert_says_what_to_do(caught.value, sources["lfw-funneled.tgz"][0], home)
    assert_not_usable(home, monkeypatch)
    assert (home / "pairs.txt").is_file(), "the file that was complete stays"

    monkeypatch.setattr(urllib.request, "urlopen", real_urlopen)
    monkeypatch.setattr(lfw, "LFW_SOURCES", sources)
    assert lfw.lfw_root() == home
    assert len(lfw.read_pairs(home)) == 2 and leftovers(home) == []


def test_an_interrupted_unpack_is_not_taken_for_lfw(tmp_path, monkeypatch):
    sources = make_source(tmp_path / "server")
    home = tmp_path / "home"
    real_extractall = tarfile.TarFile.extractall

    def extract_then_interrupt(self, path, *arguments, **keywords):
        real_extractall(self, path, *arguments, **keywords)
        assert any(Path(path).rglob("*.jpg")), "the photos were being unpacked"
        raise KeyboardInterrupt

    monkeypatch.setattr(tarfile.TarFile, "extractall", extract_then_interrupt)
    with pytest.raises(lfw.LFWDownloadError, match="interrupted"):
        lfw.fetch_lfw(home, sources)
    assert not (home / "lfw_funneled").exists() and leftovers(home) == []
    assert not (home / lfw.COMPLETE_MARKER).exists()
    monkeypatch.setattr(lfw, "DEFAULT_LFW_HOME", home)
    monkeypatch.setattr(lfw, "LFW_SOURCES", sources)
    monkeypatch.delenv(lfw.LFW_DIR_ENV, raising=False)
    with pytest.raises(lfw.LFWNotFoundError, match="LFW is not in"):
        lfw.lfw_root(download=False)


def test_what_a_killed_run_left_is_never_used(tmp_path, monkeypatch):
    """A run killed outright (no clean-up) may leave a .part, a half-unpacked folder, a file
    written in place by an older version, or an unpacked folder without the completion marker."""
    sources = make_source(tmp_path / "server")
    home = tmp_path / "home"
    (home / ".unpacking-x1y2" / "lfw_funneled" / "Ada_Lovelace").mkdir(parents=True)
    (home / "lfw-funneled.tgz.part").write_bytes(b"half an archive")
    (home / "pairs.txt").write_text("1 1\nAda_Lovelace 1 2\n")  # the wrong bytes at the right name
    (home / "lfw_funneled" / "Ada_Lovelace").mkdir(parents=True)  # no photos: half unpacked
    monkeypatch.setattr(lfw, "DEFAULT_LFW_HOME", home)
    monkeypatch.setattr(lfw, "LFW_SOURCES", sources)
    monkeypatch.delenv(lfw.LFW_DIR_ENV, raising=False)
    with pytest.raises(lfw.LFWNotFoundError, match="LFW is not in"):
        lfw.lfw_root(download=False)
    assert lfw.lfw_root() == home
    pairs = lfw.read_pairs(home)
    assert len(pairs) == 2 and pairs[0].first.is_file() and leftovers(home) == []


@pytest.fixture(params=["data filter", "no data filter"])
def tar_filter(request, monkeypatch):
    """Unpack with tarfile's "data" filter, and as on a Python without it (before 3.10.12)."""
    if request.param == "no data filter":
        monkeypatch.delattr(tarfile, "data_filter", raising=False)
    return request.param


def test_an_archive_entry_outside_the_folder_is_refused(tmp_path, tar_filter):
    server = tmp_path / "server"
    server.mkdir()
    (server / "evil.txt").write_text("outside")
    archive = server / "lfw-funneled.tgz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(server / "evil.txt", arcname="../evil.txt")
    sources = {"lfw-funneled.tgz": (archive.as_uri(), hashlib.sha256(archive.read_bytes()).hexdigest())}
    with pytest.raises(lfw.LFWDownloadError, match="could not be unpacked"):
        lfw.fetch_lfw(tmp_path / "home", sources)
    assert not (tmp_path / "evil.txt").exists() and leftovers(tmp_path / "home") == []


def test_a_notebook_cell_shows_the_message_not_a_traceback(tmp_path):
    """In a real kernel the failed download prints the message alone (IPython's _render_traceback_)."""
    import nbformat
    from nbclient import NotebookClient

    missing = (tmp_path / "server" / "pairs.txt").as_uri()
    notebook = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell(
            "import os, pathlib\nimport lfw\nos.environ.pop('LFW_DIR', None)\n"
            f"lfw.DEFAULT_LFW_HOME = pathlib.Path({str(tmp_path / 'home')!r})\n"
            f"lfw.LFW_SOURCES = {{'pairs.txt': ({missing!r}, '0' * 64, 155_335)}}"
        ),
        nbformat.v4.new_code_cell("lfw.lfw_root()"),
    ])
    NotebookClient(notebook, timeout=120, kernel_name="python3", allow_errors=True,
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    errors = [output for output in notebook.cells[1].outputs if output.output_type == "error"]
    assert len(errors) == 1 and errors[0].ename == "LFWDownloadError"
    shown = "\n".join(errors[0].traceback)
    assert shown.startswith("LFWDownloadError: Could not download LFW")
    assert "there is no such file" in shown and "LFW_DIR=/path/to/lfw" in shown and missing in shown
    assert "Traceback" not in shown and "urllib" not in shown and 'File "' not in shown
    assert len(errors[0].traceback) <= 10


def synthetic_pairs(rng, pairs_per_fold=60, folds=10, separation=0.6):
    """Pairs whose matching distances are smaller than the non-matching ones, with overlap."""
    count = pairs_per_fold * folds
    same = np.tile(np.repeat([True, False], pairs_per_fold // 2), folds)
    fold = np.repeat(np.arange(folds), pairs_per_fold)
    first = rng.normal(size=(count, 8))
    noise = rng.normal(size=(count, 8))
    second = np.where(same[:, None], first + separation * noise, rng.normal(size=(count, 8)))
    return first, second, same, fold


def test_protocol_matches_a_direct_computation():
    rng = np.random.default_rng(3)
    first, second, same, folds = synthetic_pairs(rng)
    result = distances.evaluate_protocol(first, second, same, folds)
    between = np.linalg.norm(first - second, axis=1)
    direct = []
    for fold in range(10):
        train, test = folds != fold, folds == fold
        # Brute force over every candidate threshold on the training folds.
        ordered = np.sort(between[train])
        candidates = (ordered[:-1] + ordered[1:]) / 2
        accuracy = [np.mean((between[train] < t) == same[train]) for t in candidates]
        threshold = candidates[int(np.argmax(accuracy))]
        direct.append(np.mean((between[test] < threshold) == same[test]))
    assert result["accuracy_mean"] == pytest.approx(np.mean(direct), abs=1e-9)
    assert 0.7 < result["accuracy_mean"] < 1.0
    assert 0.5 < result["auc"] <= 1.0


def test_protocol_on_separable_and_on_random_pairs():
    rng = np.random.default_rng(4)
    first, second, same, folds = synthetic_pairs(rng, separation=0.01)
    assert distances.evaluate_protocol(first, second, same, folds)["accuracy_mean"] == 1.0
    random_second = rng.normal(size=first.shape)
    chance = distances.evaluate_protocol(first, random_second, same, folds)
    assert 0.35 < chance["accuracy_mean"] < 0.65 and 0.4 < chance["auc"] < 0.6


def test_cosine_and_mean_subtraction():
    rng = np.random.default_rng(5)
    first, second, same, folds = synthetic_pairs(rng)
    unit_first = first / np.linalg.norm(first, axis=1, keepdims=True)
    unit_second = second / np.linalg.norm(second, axis=1, keepdims=True)
    # On unit vectors L2 and cosine distance order the pairs the same way.
    l2 = distances.evaluate_protocol(unit_first, unit_second, same, folds, "l2")
    cosine = distances.evaluate_protocol(unit_first, unit_second, same, folds, "cosine")
    assert l2["fold_accuracies"] == cosine["fold_accuracies"]
    shifted = distances.evaluate_protocol(first + 5, second + 5, same, folds, "cosine", subtract_mean=True)
    assert shifted["accuracy_mean"] > distances.evaluate_protocol(first + 5, second + 5, same, folds, "cosine")["accuracy_mean"]
    with pytest.raises(ValueError, match="metric"):
        distances.pair_distances(first, second, "manhattan")

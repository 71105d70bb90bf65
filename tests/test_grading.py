"""The grader, through its real command, on the fixture submissions: right, wrong and hostile.

One run grades every fixture in ``tests/grading/fixtures/notebooks`` (except the slow ones),
the instructors' and the student notebook, and the attacks that need the machine's state
(a symbolic link, a FIFO, a device, a notebook over the size limit, one nested too deeply),
with two workers. The tests then compare each report with its expected report
(``fixtures/results``), and check from outside that the run left the checkout, $HOME and the
report folder as they were (apart from the report), left no process behind, and sent nothing
to the network.
"""

import csv
import json
import os
import shutil
import socket
import stat
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from tests.grading import grader, sandbox, submissions
from tests.grading.fixtures import attacks, make_fixtures

PROJECT_DIR = Path(__file__).resolve().parents[1]
FIXTURES = make_fixtures.NOTEBOOKS_DIR
RESULTS = make_fixtures.RESULTS_DIR
MADE_AT_TEST_TIME = {
    "symbolic_link": "is a symbolic link",
    "fifo": "not a regular file",
    "device": "not a regular file",
    "over_the_size_limit": "over the 20 MB limit",
    "nested_too_deeply": "nested too deeply",
}
# Names that would break a gradebook or a terminal: each holds a copy of a right who_is_it.
HOSTILE_NAMES = {
    "formula": "=HYPERLINK(\"example.invalid\").ipynb",
    "terminal escape and a new line": "\x1b[2J\nfake line.ipynb",
    "not UTF-8": os.fsdecode(b"bad\xff.ipynb"),
}


def grade(target, report, *options, env=None):
    """Run the README's grading command; returns (exit code, output)."""
    command = [sys.executable, "-m", "pytest", "tests/grading", "--submission", str(target),
               "--grade-report", str(report), "-q", *options]
    completed = subprocess.run(command, cwd=PROJECT_DIR, capture_output=True, text=True, env=env, timeout=1800)
    return completed.returncode, completed.stdout + completed.stderr


@pytest.fixture(scope="module")
def shared_cache(tmp_path_factory):
    """One embedding cache for this module's grading runs (the grader's own, not the project's)."""
    return tmp_path_factory.mktemp("grading-cache")


def grading_environment(tmp, cache):
    """The grader's environment for these tests: its own $HOME and caches, so that a change
    in the project's or the real $HOME can only come from a submission."""
    home = tmp / "home"
    home.mkdir()
    return dict(os.environ, HOME=str(home), FACENET_CACHE_DIR=str(cache), KERAS_HOME=str(tmp / "keras"),
                MPLCONFIGDIR=str(tmp / "matplotlib"), PYTHONDONTWRITEBYTECODE="1")


def top_level(folder):
    """The entries right under ``folder``, with their sizes and times (the real $HOME is large)."""
    return {entry.name: (entry.stat(follow_symlinks=False).st_mtime_ns, entry.stat(follow_symlinks=False).st_size)
            for entry in os.scandir(folder)}


def snapshot(folder, skip=()):
    """{relative path: (size, mtime, mode)} of everything under ``folder``."""
    found = {}
    for root, folders, files in os.walk(folder):
        folders[:] = [name for name in folders if os.path.join(root, name) not in skip]
        for name in folders + files:
            path = os.path.join(root, name)
            info = os.lstat(path)
            found[os.path.relpath(path, folder)] = (info.st_size, info.st_mtime_ns, info.st_mode)
    return found


def sandbox_processes():
    """Processes still running as a sandbox user, or running child.py."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            status = Path(f"/proc/{pid}/status").read_text()
            command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        uid = int(next(line.split()[1] for line in status.splitlines() if line.startswith("Uid:")))
        if uid >= sandbox.SANDBOX_UID_BASE or "/grading/child.py" in command:
            found.append((pid, uid, command[:100]))
    return found


def make_hostile_entries(folder):
    """The attacks that are made at test time (see MADE_AT_TEST_TIME)."""
    (folder / "symbolic_link.ipynb").symlink_to("/etc/passwd")
    os.mkfifo(folder / "fifo.ipynb")
    if os.geteuid() == 0:
        os.mknod(folder / "device.ipynb", 0o600 | stat.S_IFCHR, os.makedev(1, 3))  # like /dev/null
    (folder / "over_the_size_limit.ipynb").write_text('{"cells": [], "metadata": {"x": "' + "x" * 21_000_000 + '"}}')
    depth = 5_000_000
    (folder / "nested_too_deeply.ipynb").write_text('{"nbformat": 4, "cells": [], "metadata": ' + "[" * depth + "]" * depth + "}")
    for name in HOSTILE_NAMES.values():
        shutil.copy(FIXTURES / "lost_the_cell_metadata.ipynb", folder / name)


@pytest.fixture(scope="module")
def class_run(tmp_path_factory, lfw_dir, shared_cache):
    """Grade the whole class once: the fixtures, both notebooks, the test-time attacks."""
    import embeddings
    import face_database
    face_database.ensure_images()
    embeddings.weights_sha256()  # the weights exist before the snapshot
    tmp = tmp_path_factory.mktemp("class")
    folder, reports = tmp / "submissions", tmp / "reports"
    folder.mkdir()
    reports.mkdir()
    for notebook in FIXTURES.glob("*.ipynb"):
        if notebook.stem not in make_fixtures.graded_apart():
            shutil.copy(notebook, folder)
    shutil.copy(PROJECT_DIR / "source" / "Face_Recognition.ipynb", folder / "teacher.ipynb")
    shutil.copy(PROJECT_DIR / "Face_Recognition.ipynb", folder / "student.ipynb")
    make_hostile_entries(folder)
    environment = grading_environment(tmp, shared_cache)
    listener = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    listener.bind(("127.0.0.1", attacks.UDP_PORT))
    listener.setblocking(False)
    before = {"checkout": snapshot(PROJECT_DIR, skip={str(PROJECT_DIR / ".git")}),
              "home": snapshot(environment["HOME"]), "real home": top_level(Path.home()), "reports": snapshot(reports)}
    code, output = grade(folder, reports / "grades.json", "--time-limit", "60", "--workers", "2", env=environment)
    after = {"checkout": snapshot(PROJECT_DIR, skip={str(PROJECT_DIR / ".git")}),
             "home": snapshot(environment["HOME"]), "real home": top_level(Path.home()), "reports": snapshot(reports)}
    try:
        received = listener.recv(65536)
    except BlockingIOError:
        received = b""
    listener.close()
    graded = {Path(report["submission"]).stem: report for report in json.loads((reports / "grades.json").read_text())}
    return {"code": code, "output": output, "reports": graded, "before": before, "after": after,
            "received": received, "folder": folder, "report_dir": reports, "processes": sandbox_processes()}


def check_report(name, report, expected):
    """Differences between a report and its expected report, as lines."""
    problems = []
    for exercise, want in expected["exercises"].items():
        got = report["exercises"][exercise]
        if (got["points"] == got["max_points"]) != want["passes"]:
            problems.append(f"{name}/{exercise}: {got['points']}/{got['max_points']} points, message {got['message']!r}")
        if "message" in want and got["message"] != want["message"]:
            problems.append(f"{name}/{exercise}: message {got['message']!r}, expected {want['message']!r}")
        if "message_contains" in want and want["message_contains"] not in (got["message"] or ""):
            problems.append(f"{name}/{exercise}: message {got['message']!r} lacks {want['message_contains']!r}")
        if want["passes"] and got["message"] is not None:
            problems.append(f"{name}/{exercise}: passes but says {got['message']!r}")
    if "note_contains" in expected and not any(expected["note_contains"] in note for note in report["notes"]):
        problems.append(f"{name}: notes {report['notes']!r} lack {expected['note_contains']!r}")
    return problems


def test_fixtures_are_what_the_generator_writes():
    fixtures = make_fixtures.build()
    written = {path.stem for path in FIXTURES.glob("*.ipynb")}
    assert written == set(fixtures) == {path.stem for path in RESULTS.glob("*.json")}, \
        "run: python tests/grading/fixtures/make_fixtures.py"
    for name, (text, expected) in fixtures.items():
        assert (FIXTURES / f"{name}.ipynb").read_text() == text, f"{name}: run python tests/grading/fixtures/make_fixtures.py"
        assert (RESULTS / f"{name}.json").read_text() == make_fixtures.expected_text(expected), name


def test_a_prose_edit_in_the_source_notebook_changes_no_fixture(tmp_path):
    notebook = nbformat.read(make_fixtures.make_student_notebook.SOURCE_PATH, as_version=4)
    for cell in notebook.cells:
        if cell.cell_type == "markdown":
            cell.source = cell.source.replace("the", "THE") + "\n\nAn edited paragraph."
    edited = tmp_path / "edited.ipynb"
    nbformat.write(notebook, edited)
    assert make_fixtures.build(edited) == make_fixtures.build()


def test_every_submission_gets_its_expected_report(class_run):
    reports = class_run["reports"]
    problems = []
    for path in RESULTS.glob("*.json"):
        if path.stem in make_fixtures.graded_apart():
            continue
        assert path.stem in reports, f"{path.stem} was not graded: {class_run['output'][-3000:]}"
        problems += check_report(path.stem, reports[path.stem], json.loads(path.read_text()))
    assert not problems, "\n".join(problems)


def test_the_instructors_notebook_gets_full_marks_and_the_student_version_nothing(class_run):
    teacher, student = class_run["reports"]["teacher"], class_run["reports"]["student"]
    assert teacher["total"] == teacher["max_total"] == sum(grader.exercises_and_points().values()), teacher
    assert student["total"] == 0
    for result in student["exercises"].values():
        assert result["message"].endswith("is not written yet: replace the line raise NotImplementedError(...) with your code.")


def test_entries_that_are_not_notebooks_are_refused_unread(class_run):
    reports = class_run["reports"]
    for name, phrase in MADE_AT_TEST_TIME.items():
        if name == "device" and os.geteuid() != 0:
            continue
        for result in reports[name]["exercises"].values():
            assert result["points"] == 0 and phrase in result["message"], (name, result)
    messages = json.dumps([reports[name] for name in MADE_AT_TEST_TIME if name in reports])
    assert "root:" not in messages  # /etc/passwd, behind the symbolic link, was never read


def test_hostile_file_names_are_graded_and_spoil_neither_the_gradebook_nor_the_terminal(class_run):
    reports = [report for report in class_run["reports"].values()
               if Path(report["submission"]).name in HOSTILE_NAMES.values()]
    assert len(reports) == len(HOSTILE_NAMES)
    expected = json.loads((RESULTS / "lost_the_cell_metadata.json").read_text())
    assert all(check_report(report["submission"], report, expected) == [] for report in reports)
    with open(class_run["report_dir"] / "grades.csv", newline="", errors="strict") as handle:
        cells = [row[0] for row in csv.reader(handle)]
    assert not any(cell[:1] in "=+-@" for cell in cells if cell), [cell for cell in cells if cell[:1] in "=+-@"]
    assert "\x1b" not in class_run["output"] and "\nfake line.ipynb" not in class_run["output"]


def test_attacks_leave_no_trace(class_run):
    before, after = class_run["before"], class_run["after"]
    assert after["checkout"] == before["checkout"], sorted(set(after["checkout"].items()) ^ set(before["checkout"].items()))[:10]
    assert after["home"] == before["home"]
    assert after["real home"] == before["real home"]
    assert set(after["reports"]) - set(before["reports"]) == {"grades.json", "grades.csv"}
    assert class_run["processes"] == []
    assert class_run["received"] == b""
    assert not list(class_run["folder"].glob("grades*"))


def test_gradebook_and_summary(class_run):
    with open(class_run["report_dir"] / "grades.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    exercises = list(grader.exercises_and_points())
    assert list(rows[0]) == ["submission", *exercises, "total", "max_total"]
    graded = json.loads((class_run["report_dir"] / "grades.json").read_text())
    assert [row["submission"] for row in rows] == [submissions.spreadsheet_cell(report["submission"]) for report in graded]
    assert [report["submission"] for report in graded] == sorted(report["submission"] for report in graded)
    solved = next(row for row in rows if row["submission"].endswith("/solved.ipynb"))
    points = grader.exercises_and_points()
    assert [int(solved[name]) for name in exercises] == [points[name] for name in exercises]
    assert f"total          {sum(points.values())} / {sum(points.values())}" in class_run["output"]
    assert class_run["code"] == 1  # some submissions fail their tests


def test_one_notebook_at_a_time_gives_the_same_report(class_run, tmp_path, shared_cache):
    code, output = grade(FIXTURES / "solved.ipynb", tmp_path / "solved.json", "--workers", "1",
                         env=grading_environment(tmp_path, shared_cache))
    assert code == 0, output[-2000:]
    [again] = json.loads((tmp_path / "solved.json").read_text())
    first = class_run["reports"]["solved"]
    assert {key: value for key, value in again.items() if key != "submission"} == \
           {key: value for key, value in first.items() if key != "submission"}
    assert not (tmp_path / "solved.csv").exists()  # the gradebook is for folders


def test_time_limits_compose_with_no_global_timeout(tmp_path, lfw_dir, shared_cache):
    folder = tmp_path / "slow"
    folder.mkdir()
    for name in make_fixtures.slow_fixture_names():
        shutil.copy(FIXTURES / f"{name}.ipynb", folder)
    shutil.copy(FIXTURES / "lost_the_cell_metadata.ipynb", folder)
    # 3 s per exercise, one worker: the folder takes longer than pytest-timeout's 4 s, which
    # must not stop it (the grading tests carry no global timeout).
    code, output = grade(folder, tmp_path / "slow.json", "--time-limit", "3", "--workers", "1", "-o", "timeout=4",
                         env=grading_environment(tmp_path, shared_cache))
    reports = {Path(report["submission"]).stem: report for report in json.loads((tmp_path / "slow.json").read_text())}
    problems = []
    for name in make_fixtures.slow_fixture_names() | {"lost_the_cell_metadata"}:
        problems += check_report(name, reports[name], json.loads((RESULTS / f"{name}.json").read_text()))
    assert not problems, "\n".join(problems) + output[-2000:]
    assert "Timeout" not in output


def test_a_cpu_hog_does_not_starve_the_classmate_graded_beside_it(tmp_path, lfw_dir, shared_cache):
    folder = tmp_path / "two"
    folder.mkdir()
    shutil.copy(FIXTURES / "hogs_the_cpu.ipynb", folder)
    shutil.copy(FIXTURES / "solved.ipynb", folder)
    # The hog keeps 48 processes busy for most of its 30 s, while the classmate's three
    # exercises are graded by the other worker, with the same 30 s each. (Without cgroups the
    # classmate's triplet_loss runs out of time: checked at 20 s and 30 s.)
    code, output = grade(folder, tmp_path / "two.json", "--time-limit", "30", "--workers", "2",
                         env=grading_environment(tmp_path, shared_cache))
    reports = {Path(report["submission"]).stem: report for report in json.loads((tmp_path / "two.json").read_text())}
    assert reports["solved"]["total"] == reports["solved"]["max_total"], reports["solved"]
    assert not check_report("hogs_the_cpu", reports["hogs_the_cpu"], json.loads((RESULTS / "hogs_the_cpu.json").read_text()))


def test_without_bubblewrap_the_grader_refuses_and_says_how_to_install_it(tmp_path, lfw_dir, shared_cache):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("choom", "prlimit", "setpriv"):
        os.symlink(shutil.which(tool), bin_dir / tool)
    environment = dict(grading_environment(tmp_path, shared_cache), PATH=f"{Path(sys.executable).parent}:{bin_dir}")
    code, output = grade(FIXTURES / "solved.ipynb", tmp_path / "none.json", env=environment)
    assert code == 2 and "apt-get install -y bubblewrap" in output and "--no-sandbox" in output, output[-2000:]
    assert not (tmp_path / "none.json").exists()
    code, output = grade(FIXTURES / "lost_the_cell_metadata.ipynb", tmp_path / "unsafe.json", "--no-sandbox", env=environment)
    [report] = json.loads((tmp_path / "unsafe.json").read_text())
    assert report["exercises"]["who_is_it"]["points"] > 0, output[-2000:]
    assert "WARNING" in output and "--no-sandbox" in output

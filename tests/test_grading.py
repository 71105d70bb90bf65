"""The grader, through its real command, on the fixture submissions: right, wrong and hostile.

One run (``python -m grading``, two workers) grades the fixtures in
``tests/grading/fixtures/notebooks`` (but the slow ones and the catalogue's triplet-loss
mistakes, which the child's code grades in this process, below), the instructors' and the
student notebook, and the attacks that need the machine's state (a symbolic link, a FIFO, a
device, a notebook over the size limit, one nested too deeply, names that would spoil a
gradebook or a terminal, names that look alike). The tests then compare each report with its
expected report (``fixtures/results``), and check from outside that the run left the checkout,
$HOME and the report folder as they were (apart from the reports), left no process behind, and
sent nothing to the network.
"""

import csv
import json
import os
import shutil
import socket
import stat
import subprocess
import sys
import unicodedata
from pathlib import Path

import nbformat
import pytest

from exercises import catalogue, checks, contract
from grading import child, cli, grader, sandbox, submissions
from tests.grading.fixtures import attacks, make_fixtures
from tests.grading.runs import (
    FIXTURES,
    PROJECT_DIR,
    RESULTS,
    check_report,
    grade,
    grading_environment,
)

SEED = 20261202
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
    "composed": unicodedata.normalize("NFC", "José.ipynb"),
    "decomposed": unicodedata.normalize("NFD", "José.ipynb"),
}


# Fixtures graded by the child's own code in this process (test_benign_fixtures_get_their_reports
# _through_the_childs_code), where TensorFlow is loaded once instead of once per sandbox: the
# catalogue's, but for a few sent through the sandbox in the class run, and the triplet-loss
# attacks that change nothing of the process they run in.
THROUGH_THE_SANDBOX = {"triplet_loss__no_max", "verify__greater_than", "who_is_it__farthest", "verify__numpy_bool"}
BENIGN_ATTACKS = {"fake_eager_tensor", "numpy_loss_in_tf_constant", "symbolic_tensor", "numpy_loss_in_a_tensor_subclass",
                  "right_with_tf_and_math"}
# Students' habits and untidy or forged answer values that leave the process they run in as it
# was: graded in this process too (the class run keeps who_is_it_calls_verify, the time magics and
# the solved notebook, so each way through the sandbox is taken once).
HABITS = {"checks_itself_at_the_end", "checks_the_first_person", "checks_with_the_notebooks_names", "class_named_bool",
          "displays_its_distances", "distance_is_a_pair", "imports_fr_utils_itself",
          "leaves_a_help_line", "long_value_error", "min_dist_as_a_0_d_array", "nan_distance", "right_with_numpy_types",
          "shows_its_value_error", "timeit_cell", "tuple_that_lies_about_its_length", "uses_fr_utils_distance",
          "syntax_error", "looks_at_the_photo", "keeps_the_value_of_a_time_magic", "times_its_check",
          "lost_the_cell_metadata", "duplicate_grade_id"}


def in_process(name):
    """True for the fixtures graded in this process rather than in the class run."""
    return ("__" in name and name not in THROUGH_THE_SANDBOX) or name in BENIGN_ATTACKS | HABITS or name == "untouched"


@pytest.fixture(scope="module")
def shared_cache():
    """The project's embedding cache: the grader's encodings of the notebook's photos are the
    notebook's own (written atomically, so tests running at once share it safely)."""
    import settings

    return settings.CACHE_DIR


# Folders in the real $HOME that tools running beside this test may make or touch at any time
# (Jupyter's "migrated" marker, pip's and Keras's caches): left out of the comparison.
TOOLS_FOLDERS = {".jupyter", ".ipython", ".local", ".cache", ".config", ".keras", ".npm", ".pyenv"}


def top_level(folder):
    """The entries right under ``folder``, with their sizes and times (the real $HOME is large),
    except the folders other tools use."""
    return {entry.name: (entry.stat(follow_symlinks=False).st_mtime_ns, entry.stat(follow_symlinks=False).st_size)
            for entry in os.scandir(folder) if entry.name not in TOOLS_FOLDERS}


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


def sandbox_processes(grader_pid):
    """Processes still running as a user id of that grader's sandboxes (other graders, run by
    other tests at the same time, have ids of their own)."""
    first = sandbox.SANDBOX_UID_BASE + (grader_pid % 1_000_000) * sandbox.SLOTS_PER_GRADER
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            status = Path(f"/proc/{pid}/status").read_text()
            command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        uid = int(next(line.split()[1] for line in status.splitlines() if line.startswith("Uid:")))
        if first <= uid < first + sandbox.SLOTS_PER_GRADER:
            found.append((pid, uid, command[:100]))
    return found


def make_hostile_entries(folder):
    """The attacks that are made at test time (see MADE_AT_TEST_TIME and HOSTILE_NAMES)."""
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
        if notebook.stem not in make_fixtures.graded_apart() and not in_process(notebook.stem):
            shutil.copy(notebook, folder)
    shutil.copy(PROJECT_DIR / "source" / "Face_Recognition.ipynb", folder / "teacher.ipynb")
    shutil.copy(PROJECT_DIR / "Face_Recognition.ipynb", folder / "student.ipynb")
    make_hostile_entries(folder)
    environment = grading_environment(tmp, shared_cache)
    listener = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for port in attacks.UDP_PORTS:  # another run of the suite may hold some of them
        try:
            listener.bind(("127.0.0.1", port))
            break
        except OSError:
            continue
    listener.setblocking(False)
    skip = {str(PROJECT_DIR / name) for name in (".git", ".cache", "tests/screenshots", "executed")}  # other tests write there
    before = {"checkout": snapshot(PROJECT_DIR, skip=skip),
              "home": snapshot(environment["HOME"]), "real home": top_level(Path.home()), "reports": snapshot(reports)}
    old_umask = os.umask(0o022)
    try:
        pids = []
        code, output = grade([folder], reports / "grades.json", "--time-limit", "60", "--workers", "2",
                             "--seed", str(SEED), env=environment, pids=pids)
    finally:
        os.umask(old_umask)
    after = {"checkout": snapshot(PROJECT_DIR, skip=skip),
             "home": snapshot(environment["HOME"]), "real home": top_level(Path.home()), "reports": snapshot(reports)}
    try:
        received = listener.recv(65536)
    except BlockingIOError:
        received = b""
    listener.close()
    graded = json.loads((reports / "grades.json").read_text())
    return {"code": code, "output": output, "list": graded, "reports": {Path(report["submission"]).stem: report for report in graded},
            "before": before, "after": after, "received": received, "folder": folder, "report_dir": reports,
            "processes": sandbox_processes(pids[0])}


def test_fixtures_are_what_the_generator_writes():
    fixtures = make_fixtures.build()
    written = {path.stem for path in FIXTURES.glob("*.ipynb")}
    assert written == set(fixtures) == {path.stem for path in RESULTS.glob("*.json")}, \
        "run: python tests/grading/fixtures/make_fixtures.py"
    for name, (text, expected) in fixtures.items():
        assert (FIXTURES / f"{name}.ipynb").read_text() == text, f"{name}: run python tests/grading/fixtures/make_fixtures.py"
        assert (RESULTS / f"{name}.json").read_text() == make_fixtures.expected_text(expected), name


def test_a_prose_edit_in_the_source_notebook_changes_no_fixture(tmp_path):
    notebook = make_fixtures.read_source()
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
        if path.stem in make_fixtures.graded_apart() or in_process(path.stem):
            continue
        assert path.stem in reports, f"{path.stem} was not graded: {class_run['output'][-3000:]}"
        problems += check_report(path.stem, reports[path.stem], json.loads(path.read_text()))
    assert not problems, "\n".join(problems)


def test_benign_fixtures_get_their_reports_through_the_childs_code():
    """The fixtures of ``in_process`` (a catalogue mistake: its hint and no points; an untidy right
    answer: the points; the harmless triplet-loss attacks), graded by the code the sandbox runs
    (child.run_job), here, on cases drawn from a seed around stand-in photos and a database with
    the notebook's names; the class run sends a few of the catalogue's through the sandbox."""
    selection = json.loads((PROJECT_DIR / "images" / "lfw_selection.json").read_text())
    photos = {f"images/camera/camera_0{index}.jpg": checks.stand_in_encoding(index) for index in (1, 2)}
    database = {name: checks.stand_in_encoding(10 + index) for index, name in enumerate(selection["database"])}
    points = contract.exercises_and_points()
    case_sets = {exercise: checks.case_set(exercise, "grader", {} if exercise == "triplet_loss" else photos, 1.11,
                                           seed=SEED) for exercise in points}
    context = grader.GradingContext(points, case_sets, {}, {"database": grader._plain(database), "threshold": 1.11,
                                                            "photos": grader._plain(photos)}, SEED, contract.notebook_code())
    problems = []
    names = sorted(path.stem for path in FIXTURES.glob("*.ipynb") if in_process(path.stem))
    assert len(names) > 50
    for name in names:
        graded = submissions.read_graded_cells(FIXTURES / f"{name}.ipynb", list(points)).sources
        expected = json.loads((RESULTS / f"{name}.json").read_text())
        for exercise, want in expected["exercises"].items():
            if exercise not in graded:
                got = "no cell defines"
            else:
                message = child.run_job(dict(context.job(exercise, graded), output_limit=10**6))
                outcome = sandbox.Outcome(json.dumps(message).encode(), False, False, 0)
                kind, answers, _ = grader.read_answer(outcome, case_sets[exercise], sandbox.Limits(), 60)
                got = case_sets[exercise].message(answers) if kind == "answers" else answers
            if (got is None) != want["passes"] or ("message" in want and got != want["message"]) or (
                    "message_contains" in want and want["message_contains"] not in (got or "")):
                problems.append(f"{name}/{exercise}: {got!r}, expected {want}")
    assert not problems, "\n".join(problems)


def test_the_instructors_notebook_gets_full_marks_and_the_student_version_nothing(class_run):
    teacher, student = class_run["reports"]["teacher"], class_run["reports"]["student"]
    assert teacher["total"] == teacher["max_total"] == sum(contract.exercises_and_points().values()), teacher
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


def test_hostile_and_lookalike_names_are_graded_and_told_apart(class_run):
    reports = [report for report in class_run["list"] if report["submission"] in HOSTILE_NAMES.values()]
    assert len(reports) == len(HOSTILE_NAMES)
    expected = json.loads((RESULTS / "lost_the_cell_metadata.json").read_text())
    assert all(check_report(report["submission"], report, expected) == [] for report in reports)
    with open(class_run["report_dir"] / "grades.csv", newline="", errors="strict") as handle:
        rows = [row[0] for row in csv.reader(handle)]
    assert not any(cell[:1] in "=+-@" for cell in rows if cell), [cell for cell in rows if cell[:1] in "=+-@"]
    assert "\x1b" not in class_run["output"] and "\nfake line.ipynb" not in class_run["output"]
    composed, decomposed = (submissions.display_name(HOSTILE_NAMES[key]) for key in ("composed", "decomposed"))
    assert composed in rows and decomposed in rows and composed != decomposed
    for key in ("composed", "decomposed"):
        report = next(report for report in reports if report["submission"] == HOSTILE_NAMES[key])
        assert any("look alike" in note for note in report["notes"]), report["notes"]


def test_attacks_leave_no_trace(class_run):
    before, after = class_run["before"], class_run["after"]
    assert after["checkout"] == before["checkout"], sorted(set(after["checkout"].items()) ^ set(before["checkout"].items()))[:10]
    assert after["home"] == before["home"]
    assert after["real home"] == before["real home"]
    assert set(after["reports"]) - set(before["reports"]) == {"grades.json", "grades.csv"}
    assert class_run["processes"] == []
    assert class_run["received"] == b""
    assert not list(class_run["folder"].glob("grades*"))


def test_a_grader_gets_one_line_per_submission_a_table_relative_names_and_exit_0(class_run):
    output, graded = class_run["output"], class_run["list"]
    assert class_run["code"] == cli.EXIT_GRADED, output[-3000:]
    assert sum(line.startswith("[") and "/10" in line for line in output.splitlines()) == len(graded)
    exercises = list(contract.exercises_and_points())
    header = next(line for line in output.splitlines() if line.startswith("submission"))
    assert header.split() == ["submission", *exercises, "total"]
    assert any(line.startswith("solved.ipynb ") and line.split()[-1] == "10/10" for line in output.splitlines())
    assert "Traceback" not in output and "{'points'" not in output
    with open(class_run["report_dir"] / "grades.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == ["submission", *exercises, "total", "max_total"]
    assert [row["submission"] for row in rows] == [submissions.spreadsheet_cell(submissions.display_name(report["submission"]))
                                                   for report in graded]
    assert all("/" not in report["submission"] for report in graded)  # relative to the folder graded
    solved = next(row for row in rows if row["submission"] == "solved.ipynb")
    points = contract.exercises_and_points()
    assert [int(solved[name]) for name in exercises] == [points[name] for name in exercises]
    for name in ("grades.json", "grades.csv"):  # like any file the user writes, under umask 022
        assert stat.S_IMODE((class_run["report_dir"] / name).stat().st_mode) == 0o644
    assert all(report["seed"] == SEED for report in graded)


def test_pytest_gives_the_same_points_and_one_message_per_lost_exercise(class_run, tmp_path, shared_cache):
    folder = tmp_path / "two"
    folder.mkdir()
    for name in ("solved", "verify__greater_than"):
        shutil.copy(FIXTURES / f"{name}.ipynb", folder)
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--submission", str(folder),
               "--grade-report", str(tmp_path / "pytest.json"), "--seed", str(SEED), "-q"]
    completed = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=900,
                               env=grading_environment(tmp_path, shared_cache))
    output = completed.stdout + completed.stderr
    assert completed.returncode == 1, output[-3000:]  # a lost exercise is a failed test
    greater = next(entry for entry in catalogue.mistakes("verify") if entry.name == "greater_than")
    assert "FAILED verify__greater_than.ipynb::verify - 0/3: " in output, output[-3000:]
    assert f"\n0/3: {greater.hint}\n" in output, output[-3000:]  # the failure: its one message, nothing else
    assert "3 failed, 3 passed" in output and "'points'" not in output
    for report in json.loads((tmp_path / "pytest.json").read_text()):
        first = class_run["reports"][Path(report["submission"]).stem]
        assert {key: value for key, value in report.items() if key != "notes"} == \
               {key: value for key, value in first.items() if key != "notes"}


# Right answers written as students write them, and honest wrong ones: the notebook's test cell
# must pass exactly when the grader gives the points (hostile cells are left out: they rewrite the
# process they run in).
AGREEMENT = sorted(
    {f"{entry.exercise}__{entry.name}" for entry in catalogue.MISTAKES + catalogue.UNTIDY}
    | {"solved", "untouched", "right_but_prints_every_encoding", "right_with_a_time_magic", "right_with_numpy_types",
       "right_with_tf_and_math", "who_is_it_calls_verify", "uses_fr_utils_distance", "checks_itself_at_the_end",
       "leaves_a_help_line", "displays_its_distances", "long_value_error", "min_dist_as_a_0_d_array",
       "many_time_magics", "times_its_check", "keeps_the_value_of_a_time_magic", "checks_with_the_notebooks_names",
       "checks_the_first_person", "imports_fr_utils_itself", "looks_at_the_photo", "shows_its_value_error",
       "timeit_cell", "nan_distance", "class_named_bool", "tuple_that_lies_about_its_length", "distance_is_a_pair",
       "fake_eager_tensor", "numpy_loss_in_tf_constant", "numpy_loss_in_a_tensor_subclass", "symbolic_tensor",
       "writes_a_scratch_file", "syntax_error", "raises_when_defined", "lost_the_cell_metadata", "duplicate_grade_id"})


def test_the_notebooks_test_cell_passes_exactly_when_the_grader_gives_the_points(lfw_dir, tmp_path, monkeypatch):
    """The public cases (the notebook's test cell) and the grader's, each run on the cells as the
    notebook runs them (child.run_job replays the notebook around them), give the same verdict as
    the fixture's expected report, for each exercise of each fixture above."""
    import face_database

    face_database.ensure_images()
    monkeypatch.chdir(PROJECT_DIR)  # the notebook's folder: its photos are in images/
    photo = "images/camera/camera_01.jpg"
    encoding = checks.stand_in_encoding(1)
    selection = json.loads((PROJECT_DIR / "images" / "lfw_selection.json").read_text())
    database = {name: checks.stand_in_encoding(10 + index) for index, name in enumerate(selection["database"])}
    points = contract.exercises_and_points()
    public = {exercise: checks.case_set(exercise, "public", {} if exercise == "triplet_loss" else {photo: encoding}, 1.11)
              for exercise in points}
    context = grader.GradingContext(points, public, {}, {"database": grader._plain(database), "threshold": 1.11,
                                                         "photos": grader._plain({photo: encoding})}, SEED,
                                    contract.notebook_code())
    problems = []
    for name in AGREEMENT:
        graded = submissions.read_graded_cells(FIXTURES / f"{name}.ipynb", list(points)).sources
        for exercise, want in json.loads((RESULTS / f"{name}.json").read_text())["exercises"].items():
            if exercise not in graded:
                continue
            message = child.run_job(dict(context.job(exercise, graded), output_limit=10**6))
            outcome = sandbox.Outcome(json.dumps(message).encode(), False, False, 0)
            kind, answers, _ = grader.read_answer(outcome, public[exercise], sandbox.Limits(), 60)
            passes = kind == "answers" and public[exercise].message(answers) is None
            if passes != want["passes"]:
                problems.append(f"{name}/{exercise}: the test cell {'passes' if passes else 'fails'}, the grader "
                                f"{'gives' if want['passes'] else 'does not give'} the points"
                                + ("" if passes else f": {public[exercise].message(answers) if kind == 'answers' else answers}"))
    assert not problems, "\n".join(problems)

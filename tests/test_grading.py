"""The grader, through its real command, on known right, wrong and hostile submissions."""

import csv
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT_DIR = Path(__file__).resolve().parents[1]
FIXTURES = PROJECT_DIR / "tests" / "grading" / "fixtures"
SUBMISSIONS = FIXTURES / "submissions"

# submission -> (triplet_loss, verify, who_is_it points, a phrase the report must contain)
EXPECTED = {
    "solved": (3, 3, 4, None),
    "untouched": (0, 0, 0, "NotImplementedError: Exercise: replace this line with your code."),
    "not_a_notebook": (0, 0, 0, "the notebook cannot be read"),
    "triplet_no_max": (0, 3, 4, "take max(basic_loss, 0)"),
    "triplet_mean": (0, 3, 4, "the loss is the SUM over the m triplets"),
    "triplet_l2_not_squared": (0, 3, 4, "uses SQUARED distances"),
    "triplet_wrong_axis": (0, 3, 4, "over the wrong axis"),
    "triplet_returns_numpy": (0, 3, 4, "return a TensorFlow tensor"),
    "verify_numpy_bool": (3, 0, 4, "door_open must be a Python bool"),
    "verify_greater_than": (3, 0, 4, "did you write '>' instead of '<'?"),
    "verify_squared_distance": (3, 0, 4, "did you compare the SQUARED distance"),
    "verify_own_threshold": (3, 0, 4, "compare with the THRESHOLD variable"),
    "who_is_it_farthest": (3, 3, 0, "picked the FARTHEST person"),
    "who_is_it_never_unknown": (3, 3, 0, "return identity None"),
    "who_is_it_empty_database_crash": (3, 3, 0, "crashed on an empty database"),
    "syntax_error": (3, 0, 4, "SyntaxError"),
    "raises_when_defined": (0, 3, 4, "NameError"),
    "endless_loop": (3, 3, 0, "an endless loop?"),
    "calls_sys_exit": (0, 3, 4, "SystemExit"),
    "calls_os_exit": (3, 0, 4, "os._exit"),
    "prints_megabytes": (3, 3, 0, "printed more than"),
    "writes_files": (3, 0, 4, "writing files ('grades.json') is not allowed"),
    "exhausts_memory": (3, 3, 0, "ran out of memory"),
    "fakes_numpy_and_builtins": (0, 3, 4, "expected"),
    "fakes_the_checks": (0, 3, 4, "expected"),
    "forges_the_answer_stream": (3, 0, 4, "dist is 0.0000"),
}
EXERCISES = ("triplet_loss", "verify", "who_is_it")


def grade(target, report, extra=()):
    """Run the documented grading command; returns (exit code, output)."""
    command = [sys.executable, "-m", "pytest", "tests/grading", "--submission", str(target),
               "--grade-report", str(report), "-q", "-p", "no:randomly", *extra]
    completed = subprocess.run(command, cwd=PROJECT_DIR, capture_output=True, text=True, timeout=1800)
    return completed.returncode, completed.stdout + completed.stderr


@pytest.fixture(scope="module")
def folder_report(tmp_path_factory):
    folder = tmp_path_factory.mktemp("grades")
    code, output = grade(SUBMISSIONS, folder / "grades.json", ["--time-limit", "45"])
    return code, output, folder


def test_fixtures_are_what_the_generator_writes():
    from tests.grading.fixtures import make_fixtures

    written = {path.name: path.read_text() for path in SUBMISSIONS.glob("*.ipynb")}
    assert written == make_fixtures.build(), "run: python tests/grading/fixtures/make_fixtures.py"
    assert set(EXPECTED) == {Path(name).stem for name in written}


def test_every_submission_gets_its_expected_points(folder_report):
    code, output, folder = folder_report
    assert code == 1, output[-3000:]  # some submissions fail their tests
    reports = {Path(report["submission"]).stem: report for report in json.loads((folder / "grades.json").read_text())}
    assert set(reports) == set(EXPECTED)
    wrong = []
    for name, (*points, phrase) in EXPECTED.items():
        report = reports[name]
        got = [report["exercises"][exercise]["points"] for exercise in EXERCISES]
        messages = " | ".join(m for exercise in EXERCISES for m in report["exercises"][exercise]["messages"])
        if got != points or report["total"] != sum(points) or report["max_total"] != 10:
            wrong.append(f"{name}: got {got}, expected {points}; messages: {messages}")
        elif (phrase and phrase not in messages) or (not phrase and messages):
            wrong.append(f"{name}: expected {phrase!r} in the messages: {messages!r}")
    assert not wrong, "\n".join(wrong)


def test_gradebook_and_summary(folder_report):
    _, output, folder = folder_report
    with open(folder / "grades.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["submission"] for row in rows] == sorted(str(path) for path in SUBMISSIONS.glob("*.ipynb"))
    solved = next(row for row in rows if row["submission"].endswith("solved.ipynb"))
    assert solved == {"submission": solved["submission"], "triplet_loss": "3", "verify": "3",
                      "who_is_it": "4", "total": "10", "max_total": "10"}
    assert "solved.ipynb" in output and "total          10 / 10" in output


def test_one_notebook_and_determinism(folder_report, tmp_path):
    _, _, folder = folder_report
    first = {report["submission"]: report for report in json.loads((folder / "grades.json").read_text())}
    for name in ("solved", "verify_squared_distance"):
        code, output = grade(SUBMISSIONS / f"{name}.ipynb", tmp_path / f"{name}.json")
        assert code == (0 if name == "solved" else 1), output[-2000:]
        [again] = json.loads((tmp_path / f"{name}.json").read_text())
        assert again == first[str(SUBMISSIONS / f"{name}.ipynb")]
        assert not (tmp_path / f"{name}.csv").exists()  # the gradebook is for folders


def test_submissions_cannot_write_into_the_project(folder_report):
    assert not (PROJECT_DIR / "grades.json").exists()
    assert not list(PROJECT_DIR.glob("tests/grading/*.json"))


def test_the_source_notebook_gets_full_marks_and_the_student_version_zero(tmp_path):
    folder = tmp_path / "class"
    folder.mkdir()
    shutil.copy(PROJECT_DIR / "source" / "Face_Recognition.ipynb", folder / "teacher.ipynb")
    shutil.copy(PROJECT_DIR / "Face_Recognition.ipynb", folder / "student.ipynb")
    code, output = grade(folder, tmp_path / "class.json")
    reports = {Path(report["submission"]).stem: report for report in json.loads((tmp_path / "class.json").read_text())}
    assert reports["teacher"]["total"] == 10, output[-2000:]
    assert reports["student"]["total"] == 0
    for exercise in EXERCISES:
        assert "NotImplementedError" in reports["student"]["exercises"][exercise]["messages"][0]

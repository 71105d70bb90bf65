"""What a grade is made of, read from the instructors' notebook and nowhere else.

``source/Face_Recognition.ipynb`` marks its cells with nbgrader metadata:

- a solution cell's ``grade_id`` names an exercise (``triplet_loss``, ``verify``, ``who_is_it``),
  in the order the learner meets them;
- the graded test cell ``test_<exercise>`` carries the exercise's ``points``, and, between
  ``### BEGIN HIDDEN TESTS`` and ``### END HIDDEN TESTS``, the hidden tests: the line that runs
  the grader's own cases (``public_tests.<exercise>_test(..., hidden=True)``) and whatever else an
  instructor adds there, which the grader runs after the student's cell (``hidden_tests``).

``nbgrader_metadata`` is the one reader of a cell's nbgrader metadata, for notebooks read with
nbformat and for submissions read as untrusted JSON alike.
"""

import json
import re

import settings

SOURCE_NOTEBOOK = settings.PROJECT_DIR / "source" / "Face_Recognition.ipynb"
# The student's version of a solution: nbgrader's placeholder, with a message of ours.
PLACEHOLDER_MESSAGE = "Exercise: replace this line with your code."
PLACEHOLDER = f'# YOUR CODE HERE\nraise NotImplementedError("{PLACEHOLDER_MESSAGE}")'
HIDDEN_TESTS = re.compile(r"^[ \t]*### BEGIN HIDDEN TESTS[ \t]*\n(.*?)^[ \t]*### END HIDDEN TESTS[ \t]*$", re.S | re.M)
# The hidden-test line that runs the grader's own cases (the grader runs them anyway).
GRADERS_CASES = re.compile(r"^\s*public_tests\.(\w+)_test\(.*hidden\s*=\s*True.*\)\s*$")


class ContractError(ValueError):
    """The instructors' notebook does not say what is graded; the message says what to fix."""


def nbgrader_metadata(cell, strict=False):
    """A cell's nbgrader metadata as a dict ({} when it has none).

    Args:
        cell: a cell as a dict (from nbformat, or from json.loads for a notebook not trusted).
        strict: raise ValueError, saying what is wrong, when the metadata or its grade_id has
            the wrong type (else such metadata counts as none).
    """
    metadata = cell.get("metadata", {}) if isinstance(cell, dict) else {}
    nbgrader = metadata.get("nbgrader", {}) if isinstance(metadata, dict) else None
    if strict and not isinstance(metadata, dict):
        raise ValueError("its metadata is not an object")
    if strict and not isinstance(nbgrader, dict):
        raise ValueError("its metadata.nbgrader is not an object")
    if not isinstance(nbgrader, dict):
        return {}
    if strict and nbgrader.get("grade_id") is not None and not isinstance(nbgrader["grade_id"], str):
        raise ValueError("its nbgrader grade_id is not a string")
    return nbgrader


def cell_source(cell):
    """A cell's source as one string (nbformat gives a str, raw JSON may give a list of lines)."""
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


def _cells(source_notebook):
    return json.loads(open(source_notebook, encoding="utf-8").read())["cells"]


def exercises_and_points(source_notebook=SOURCE_NOTEBOOK):
    """{exercise: points}, in notebook order (see the module docstring)."""
    metadata = [nbgrader_metadata(cell) for cell in _cells(source_notebook)]
    exercises = [meta["grade_id"] for meta in metadata if meta.get("solution") and meta.get("grade_id")]
    points = {meta["grade_id"]: meta.get("points") for meta in metadata if meta.get("grade")}
    result = {}
    for exercise in exercises:
        value = points.get(f"test_{exercise}")
        if not isinstance(value, (int, float)) or isinstance(value, bool) or value <= 0:
            raise ContractError(f"{source_notebook}: no graded cell test_{exercise} with points > 0 for exercise {exercise!r}")
        result[exercise] = value
    if not result:
        raise ContractError(f"{source_notebook} has no solution cells with an nbgrader grade_id")
    return result


def notebook_code(source_notebook=SOURCE_NOTEBOOK):
    """The released notebook's code cells in order, as the grader replays them: [(kind, source)]
    where kind is "exercise:<name>" for a solution cell (whose source is then the student's) and
    "notebook" for the cells every student has; the test cells are left out (the grader tests)."""
    found = []
    for cell in _cells(source_notebook):
        if cell.get("cell_type") != "code":
            continue
        meta = nbgrader_metadata(cell)
        if meta.get("solution") and meta.get("grade_id"):
            found.append((f"exercise:{meta['grade_id']}", ""))
        elif not meta.get("grade"):
            found.append(("notebook", cell_source(cell)))
    return found


def exercise_numbers(source_notebook=SOURCE_NOTEBOOK):
    """{exercise: 1, 2, ...} in notebook order; {} when the instructors' notebook is not at hand."""
    try:
        return {exercise: number for number, exercise in enumerate(exercises_and_points(source_notebook), start=1)}
    except (OSError, ValueError, KeyError):
        return {}


def hidden_tests(source_notebook=SOURCE_NOTEBOOK):
    """{exercise: the instructor's own hidden-test code} for each exercise whose test cell holds
    more, between the hidden-test markers, than the line that runs the grader's own cases.

    Raises:
        ContractError: that code is not valid Python (the message says where).
    """
    found = {}
    for cell in _cells(source_notebook):
        grade_id = nbgrader_metadata(cell).get("grade_id") or ""
        if not grade_id.startswith("test_"):
            continue
        exercise = grade_id[len("test_"):]
        for region in HIDDEN_TESTS.findall(cell_source(cell)):
            lines = [line for line in region.splitlines()
                     if not (GRADERS_CASES.match(line) and GRADERS_CASES.match(line).group(1) == exercise)]
            code = "\n".join(lines).strip("\n")
            if any(line.strip() and not line.lstrip().startswith("#") for line in lines):
                try:
                    compile(code, f"hidden test of {exercise}", "exec")
                except SyntaxError as error:
                    raise ContractError(
                        f"{source_notebook}: the hidden test of {exercise} (cell test_{exercise}, between the "
                        f"hidden-test markers) is not valid Python: {error.msg} at its line {error.lineno}"
                    ) from None
                found[exercise] = (found.get(exercise, "") + "\n" + code).strip("\n")
    return found

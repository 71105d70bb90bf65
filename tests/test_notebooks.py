"""The source notebook runs with every test passing; the student notebook is generated from it,
fails every exercise test on its placeholders, and passes them with the solutions pasted back."""

import re
import time
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

PROJECT_DIR = Path(__file__).resolve().parents[1]
from scripts import make_student_notebook

SOURCE = make_student_notebook.SOURCE_PATH
STUDENT = make_student_notebook.STUDENT_PATH
SOLUTION = make_student_notebook.SOLUTION_PATTERN
NOTEBOOK_TIME_LIMIT = 300  # seconds, the budget the project promises for the source notebook


def execute(notebook, allow_errors=False):
    """Run a notebook in the project folder; returns the seconds it took."""
    client = NotebookClient(
        notebook, timeout=600, kernel_name="python3", allow_errors=allow_errors,
        resources={"metadata": {"path": str(PROJECT_DIR)}},
    )
    started = time.perf_counter()
    client.execute()
    return time.perf_counter() - started


def cell_text(cell):
    """Everything a cell printed or raised, as one string."""
    parts = []
    for output in cell.get("outputs", []):
        if output.output_type == "stream":
            parts.append(output.text)
        elif output.output_type == "error":
            parts.append(f"{output.ename}: {output.evalue}")
        elif "text/plain" in output.get("data", {}):
            parts.append(output.data["text/plain"])
    return "\n".join(parts)


def exercise_test_cells(notebook):
    return [cell for cell in notebook.cells if cell.metadata.get("nbgrader", {}).get("grade")]


def test_committed_notebooks_carry_no_outputs():
    for path in (SOURCE, STUDENT):
        for cell in nbformat.read(path, as_version=4).cells:
            if cell.cell_type == "code":
                assert cell.outputs == [] and cell.execution_count is None, f"{path.name}: clear the outputs"


def test_student_notebook_is_generated_from_the_source():
    expected = make_student_notebook.render(make_student_notebook.student_version(nbformat.read(SOURCE, as_version=4)))
    assert STUDENT.read_text() == expected, "run: python scripts/make_student_notebook.py"
    text = STUDENT.read_text()
    assert "BEGIN SOLUTION" not in text and "HIDDEN TESTS" not in text
    assert text.count("raise NotImplementedError") == 3


def test_source_notebook_runs_top_to_bottom_with_every_test_passing():
    notebook = nbformat.read(SOURCE, as_version=4)
    seconds = execute(notebook)
    print(f"source notebook executed in {seconds:.0f} s")
    tests = exercise_test_cells(notebook)
    assert len(tests) == 3
    for cell in tests:
        assert "All tests passed." in cell_text(cell), cell.source
    camera = next(cell for cell in notebook.cells if "print_camera_table" in cell.source)
    summary = re.search(r"(\d+) of (\d+) as the manifest says", cell_text(camera))
    assert summary and summary.group(1) == summary.group(2), cell_text(camera)[-2000:]
    assert seconds < NOTEBOOK_TIME_LIMIT


def test_student_notebook_fails_every_exercise_test():
    notebook = nbformat.read(STUDENT, as_version=4)
    execute(notebook, allow_errors=True)
    for cell in exercise_test_cells(notebook):
        assert "NotImplementedError: Exercise: replace this line with your code." in cell_text(cell), cell.source
        assert "All tests passed." not in cell_text(cell)


def test_student_notebook_passes_with_the_solutions_pasted_back():
    source = nbformat.read(SOURCE, as_version=4)
    solutions = {cell.metadata["nbgrader"]["grade_id"]: SOLUTION.search(cell.source).group(1)
                 for cell in source.cells if cell.metadata.get("nbgrader", {}).get("solution")}
    notebook = nbformat.read(STUDENT, as_version=4)
    last_test = max(index for index, cell in enumerate(notebook.cells) if cell.metadata.get("nbgrader", {}).get("grade"))
    notebook.cells = notebook.cells[: last_test + 1]  # the exercises and their tests
    for cell in notebook.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in solutions:
            placeholder = make_student_notebook.PLACEHOLDER.replace("\n", "\n    ")
            assert "    " + placeholder in cell.source
            cell.source = cell.source.replace("    " + placeholder + "\n", solutions[grade_id])
    try:
        execute(notebook)
    except CellExecutionError as error:
        pytest.fail(f"a cell failed with the solutions pasted back:\n{error}")
    for cell in exercise_test_cells(notebook):
        assert "All tests passed." in cell_text(cell)

"""The source notebook runs with every test passing; the student notebook is generated from it,
fails every exercise test on its placeholders, and passes them with the solutions pasted back.
The second notebook, Face_Recognition_at_scale.ipynb, is generated from its source too, and runs
from any folder with small parameters."""

import json
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
AT_SCALE_SOURCE = make_student_notebook.AT_SCALE_SOURCE_PATH
AT_SCALE = make_student_notebook.AT_SCALE_PATH
NOTEBOOK_TIME_LIMIT = 300  # seconds, the budget the project promises for the source notebook


def execute(notebook, allow_errors=False, folder=PROJECT_DIR):
    """Run a notebook in ``folder`` (the project folder by default); returns the seconds it took."""
    client = NotebookClient(
        notebook, timeout=600, kernel_name="python3", allow_errors=allow_errors,
        resources={"metadata": {"path": str(folder)}},
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
    for path in (SOURCE, STUDENT, AT_SCALE_SOURCE, AT_SCALE):
        for cell in nbformat.read(path, as_version=4).cells:
            if cell.cell_type == "code":
                assert cell.outputs == [] and cell.execution_count is None, f"{path.name}: clear the outputs"


def test_student_notebook_is_generated_from_the_source():
    expected = make_student_notebook.render(make_student_notebook.student_version(nbformat.read(SOURCE, as_version=4)))
    assert STUDENT.read_text() == expected, "run: python scripts/make_student_notebook.py"
    text = STUDENT.read_text()
    assert "BEGIN SOLUTION" not in text and "HIDDEN TESTS" not in text
    assert text.count("raise NotImplementedError") == 3


def test_at_scale_notebook_is_generated_from_its_source():
    expected = make_student_notebook.render(make_student_notebook.strip_outputs(nbformat.read(AT_SCALE_SOURCE, as_version=4)))
    assert AT_SCALE.read_text() == expected, "run: python scripts/make_student_notebook.py"


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
    # Section 7: both ways of choosing triplets trained, and both beat the untrained head.
    scores = cell_text(next(cell for cell in notebook.cells if "plots.triplet_selection_curves" in cell.source))
    before = float(re.search(r"^before training\s+([\d.]+)", scores, re.M).group(1))
    for name in ("random triplets", "semi-hard negatives"):
        row = re.search(rf"^{name}\s+([\d.]+)\s+[\d.]+%\s+([\d.]+)\s+[\d.]+%$", scores, re.M)
        assert row and float(row.group(1)) > before and float(row.group(2)) > before, scores
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


# The at-scale notebook's parameters cell, small: 20 people (40 photos) and 40 strangers to embed.
SMALL_PARAMETERS = """GALLERY_SIZES = [5, 20]
MAX_STRANGERS = 40
TRIALS = 3
SEED = 0
"""


def test_at_scale_notebook_runs_from_another_folder_with_small_parameters(lfw_dir, tmp_path):
    notebook = nbformat.read(AT_SCALE_SOURCE, as_version=4)
    parameters = [cell for cell in notebook.cells if "parameters" in cell.metadata.get("tags", [])]
    assert len(parameters) == 1 and "GALLERY_SIZES = [12, 100, 1000, None]" in parameters[0].source
    parameters[0].source = SMALL_PARAMETERS
    notebook.cells.append(nbformat.v4.new_code_cell("import json\nprint('TABLE', json.dumps(table))"))
    seconds = execute(notebook, folder=tmp_path)  # not the project folder: the modules are installed
    print(f"at-scale notebook with small parameters executed in {seconds:.0f} s")
    table = json.loads(re.search(r"TABLE (.*)", cell_text(notebook.cells[-1])).group(1))
    assert [row["people"] for row in table] == [5, 20] and [row["trials"] for row in table] == [3, 1]
    assert all(row["strangers"] == 40 for row in table)
    # FaceNet finds nearly everyone among 20 people; a broken search or embedding would not.
    assert all(row["rank1"] >= 0.9 for row in table), table
    assert all(0 <= row["stranger_far"] <= 1 and 0 < row["threshold_at_far"] < 2 for row in table), table
    printed = cell_text(next(cell for cell in notebook.cells if "open_set.format_table" in cell.source))
    assert re.search(r"^\s+20\s+\d+\.\d%", printed, re.M), printed
    compound = cell_text(next(cell for cell in notebook.cells if "expected_stranger_far" in cell.source))
    assert "1:1 false-accept rate" in compound, compound

"""The notebooks, run as the README says: the instructors' notebook in place, in source/, with
every test passing; the student notebook, copied to another folder, to the end with its
exercises unwritten; the second notebook, Face_Recognition_at_scale.ipynb, from another folder
with small parameters. All without TensorFlow's start-up noise. How long they take is measured
by benchmarks/notebook_times.py, not here."""

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat

from scripts import make_student_notebook

PROJECT_DIR = Path(__file__).resolve().parents[1]
SOURCE = make_student_notebook.SOURCE_PATH
STUDENT = make_student_notebook.STUDENT_PATH
AT_SCALE_SOURCE = make_student_notebook.AT_SCALE_SOURCE_PATH
AT_SCALE = make_student_notebook.AT_SCALE_PATH
SEVERAL_PHOTOS_SOURCE = make_student_notebook.SEVERAL_PHOTOS_SOURCE_PATH
SEVERAL_PHOTOS = make_student_notebook.SEVERAL_PHOTOS_PATH
NOISE = re.compile(r"cuda|absl|cuInit|oneDNN", re.I)


def run_notebook(path, output, allow_errors=False):
    """The headless command of scripts/lab.sh: jupyter nbconvert --execute, with its options;
    returns the executed notebook."""
    command = [sys.executable, "-m", "jupyter", "nbconvert", "--to", "notebook", "--execute",
               "--ExecutePreprocessor.timeout=900", "--ExecutePreprocessor.iopub_timeout=60",
               "--output", str(output), str(path)]
    if allow_errors:
        command.insert(-1, "--allow-errors")
    completed = subprocess.run(command, capture_output=True, text=True, timeout=1800)
    assert completed.returncode == 0, completed.stderr[-3000:]
    return nbformat.read(output, as_version=4)


def cell_text(cell):
    """Everything a cell printed or raised, as one string."""
    parts = []
    for output in cell.get("outputs", []):
        if output.output_type == "stream":
            parts.append(output.text)
        elif output.output_type == "error":
            parts.append("\n".join(output.traceback))
        elif "text/plain" in output.get("data", {}):
            parts.append(output.data["text/plain"])
    return "\n".join(parts)


def exercise_test_cells(notebook):
    return [cell for cell in notebook.cells if cell.metadata.get("nbgrader", {}).get("grade")]


def test_committed_notebooks_carry_no_outputs():
    for path in (SOURCE, STUDENT, SEVERAL_PHOTOS_SOURCE, SEVERAL_PHOTOS):
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


def test_several_photos_notebook_is_generated_from_its_source():
    expected = make_student_notebook.render(make_student_notebook.strip_outputs(nbformat.read(SEVERAL_PHOTOS_SOURCE, as_version=4)))
    assert SEVERAL_PHOTOS.read_text() == expected, "run: python scripts/make_student_notebook.py"


def test_pasting_the_solutions_into_the_student_cells_gives_the_instructors_cells():
    source = nbformat.read(SOURCE, as_version=4)
    solutions = {cell.metadata["nbgrader"]["grade_id"]: make_student_notebook.SOLUTION_PATTERN.search(cell.source).group(1)
                 for cell in source.cells if cell.metadata.get("nbgrader", {}).get("solution")}
    source_cells = {cell.metadata["nbgrader"]["grade_id"]: make_student_notebook.SOLUTION_PATTERN.sub(
        lambda match: match.group(1), cell.source) for cell in source.cells if cell.metadata.get("nbgrader", {}).get("solution")}
    for cell in nbformat.read(STUDENT, as_version=4).cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in solutions:
            placeholder = "    " + make_student_notebook.PLACEHOLDER.replace("\n", "\n    ") + "\n"
            assert placeholder in cell.source
            assert cell.source.replace(placeholder, solutions[grade_id]) == source_cells[grade_id]


def test_instructors_notebook_runs_in_place_with_every_test_passing(lfw_dir, tmp_path):
    executed = run_notebook(SOURCE, tmp_path / "source_executed.ipynb")
    tests = exercise_test_cells(executed)
    assert len(tests) == 3
    for cell in tests:
        assert "All tests passed." in cell_text(cell), cell.source
        assert cell_text(cell).count("All tests passed.") == 2  # the public and the hidden cases
    camera = next(cell for cell in executed.cells if "print_camera_table" in cell.source)
    summary = re.search(r"(\d+) of (\d+) right: the manifest's answer", cell_text(camera))
    assert summary and summary.group(1) == summary.group(2), cell_text(camera)[-2000:]
    # Section 7: both ways of choosing triplets trained, and both beat the untrained head.
    scores = cell_text(next(cell for cell in executed.cells if "plots.triplet_selection_curves" in cell.source))
    before = float(re.search(r"^before training\s+([\d.]+)", scores, re.M).group(1))
    for name in ("random triplets", "semi-hard negatives"):
        row = re.search(rf"^{name}\s+([\d.]+)\s+[\d.]+%\s+([\d.]+)\s+[\d.]+%$", scores, re.M)
        assert row and float(row.group(1)) > before and float(row.group(2)) > before, scores
    outputs = "\n".join(cell_text(cell) for cell in executed.cells)
    assert not NOISE.search(outputs), NOISE.search(outputs)


def test_student_notebook_copied_elsewhere_runs_to_the_end_and_each_test_names_the_missing_exercise(lfw_dir, tmp_path):
    copy = tmp_path / "elsewhere" / "Face_Recognition.ipynb"
    copy.parent.mkdir()
    shutil.copy(STUDENT, copy)
    executed = run_notebook(copy, copy.parent / "executed.ipynb", allow_errors=True)
    for cell in exercise_test_cells(executed):
        [error] = [output for output in cell.outputs if output.output_type == "error"]
        assert error.ename == "ExerciseTestFailed", error.ename
        # One line: the message, in red; none of the test machinery's traceback.
        assert len(error.traceback) == 1 and "is not written yet" in error.traceback[0], error.traceback
    setup = executed.cells[1]
    assert not any(output.output_type == "error" for output in setup.outputs), cell_text(setup)
    # Every other cell that cannot run without an exercise says so in one line, naming it.
    stopped = [(cell, output) for cell in executed.cells if cell not in exercise_test_cells(executed)
               for output in cell.get("outputs", []) if output.output_type == "error"]
    assert stopped, "no cell below the exercises needed them?"
    last_stopped = None  # the exercise the last stopped cell named: what a later missing name comes from
    for cell, error in stopped:
        named = re.search(r"`(triplet_loss|verify|who_is_it)` \(exercise \d\)", error.traceback[0])
        assert len(error.traceback) == 1 and named, (cell.source[:200], error.traceback)
        if "A cell above stopped" in error.traceback[0]:
            assert named.group(1) == last_stopped, (cell.source[:200], error.traceback, last_stopped)
        else:
            last_stopped = named.group(1)
    outputs = "\n".join(cell_text(cell) for cell in executed.cells)
    assert not NOISE.search(outputs), NOISE.search(outputs)
    assert "No artists with labels" not in outputs and "Traceback" not in outputs
    assert json.loads(copy.read_text()) == json.loads(STUDENT.read_text())  # the run wrote elsewhere


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
    small = tmp_path / "elsewhere" / "at_scale_small.ipynb"  # not the project folder: the modules are installed
    small.parent.mkdir()
    nbformat.write(notebook, small)
    executed = run_notebook(small, small.parent / "executed.ipynb")
    table = json.loads(re.search(r"TABLE (.*)", cell_text(executed.cells[-1])).group(1))
    assert [row["people"] for row in table] == [5, 20] and [row["trials"] for row in table] == [3, 1]
    assert all(row["strangers"] == 40 for row in table)
    # FaceNet finds nearly everyone among 20 people; a broken search or embedding would not.
    assert all(row["rank1"] >= 0.9 for row in table), table
    assert all(0 <= row["stranger_far"] <= 1 and 0 < row["threshold_at_far"] < 2 for row in table), table
    printed = cell_text(next(cell for cell in executed.cells if "open_set.format_table" in cell.source))
    assert re.search(r"^\s+20\s+\d+\.\d%", printed, re.M), printed
    compound = cell_text(next(cell for cell in executed.cells if "expected_stranger_far" in cell.source))
    assert "1:1 false-accept rate" in compound, compound
    outputs = "\n".join(cell_text(cell) for cell in executed.cells)
    assert not NOISE.search(outputs), NOISE.search(outputs)


def parameters_cell(notebook):
    [cell] = [cell for cell in notebook.cells if "parameters" in cell.metadata.get("tags", [])]
    return cell


def test_several_photos_notebook_runs_the_benchmarks_parameters():
    """Its numbers are benchmarks/several_photos.py's: the same parameters at full size."""
    values = {}
    exec(parameters_cell(nbformat.read(SEVERAL_PHOTOS_SOURCE, as_version=4)).source, {}, values)
    import open_set

    assert values == open_set.SEVERAL_PHOTOS


# The several-photos notebook's parameters cell, small: 12 people with 8 photos and 60 strangers to
# embed (a subset of tests/test_several_photos.py's LFW sample, so cached by it or by this test).
SEVERAL_PHOTOS_SMALL = """MIN_PHOTOS = 11
MAX_PHOTOS = 8
MAX_PEOPLE = 12
MAX_STRANGERS = 60
PHOTOS_PER_PERSON = [1, 2, 5]
DRAWS = 2
FAR = 0.05
NEWCOMERS = 3
NEWCOMER_PHOTOS = 2
SEED = 0
"""


def test_several_photos_notebook_runs_from_another_folder_with_small_parameters(lfw_dir, tmp_path):
    notebook = nbformat.read(SEVERAL_PHOTOS_SOURCE, as_version=4)
    parameters_cell(notebook).source = SEVERAL_PHOTOS_SMALL
    notebook.cells.append(nbformat.v4.new_code_cell(
        "import json\nprint('TABLE', json.dumps(table))\nprint('JOINING', json.dumps(joining))"))
    small = tmp_path / "elsewhere" / "several_photos_small.ipynb"  # not the project folder: the modules are installed
    small.parent.mkdir()
    nbformat.write(notebook, small)
    executed = run_notebook(small, small.parent / "executed.ipynb")
    printed = cell_text(executed.cells[-1])
    table = json.loads(re.search(r"TABLE (.*)", printed).group(1))
    joining = json.loads(re.search(r"JOINING (.*)", printed).group(1))
    import open_set

    assert [(row["method"], row["photos"]) for row in table] == [(method, count) for method in open_set.METHODS
                                                                  for count in (1, 2, 5)]
    assert all(row["people"] == 12 and row["probes"] == 36 and row["strangers_tested"] == 30 and row["draws"] == 2
               for row in table)
    # FaceNet finds nearly everyone among 12 people; a broken search, embedding or classifier would not.
    assert all(row["rank1"] >= 0.9 for row in table), table
    rows = {(row["method"], row["photos"]): row for row in table}
    assert rows[("FaceDatabase", 5)]["strangers_rejected"] >= rows[("FaceDatabase", 1)]["strangers_rejected"]
    assert joining["newcomers"] == 3 and joining["people_before"] == 9
    # The tables (Markdown), the figures, and section 5's FaceDatabase: found, saved and loaded again.
    markdown = [output for cell in executed.cells for output in cell.get("outputs", [])
                if "text/markdown" in output.get("data", {})]
    assert len(markdown) == 2 and "**Strangers rejected, at the fixed threshold 1.11**" in markdown[0].data["text/markdown"]
    figures = [output for cell in executed.cells for output in cell.get("outputs", []) if "image/png" in output.get("data", {})]
    assert len(figures) == 3
    door = cell_text(next(cell for cell in executed.cells if "door.save(" in cell.source))
    assert re.search(r"identify says \('[\w-]+', 0\.\d+\); the nearest in the dict is [\w-]+ at 0\.\d+, below 1\.11", door), door
    assert "identify says (None, " in door and "loaded again: FaceDatabase(3 people, 15 photos)" in door
    outputs = "\n".join(cell_text(cell) for cell in executed.cells)
    assert not NOISE.search(outputs), NOISE.search(outputs)
    assert "Traceback" not in outputs and "Warning" not in outputs, outputs[-3000:]

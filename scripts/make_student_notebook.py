"""Generate the student notebooks from the instructors' source notebooks.

    python scripts/make_student_notebook.py           # writes the three student notebooks at the top level
    python scripts/make_student_notebook.py --check   # fails if a committed one is stale

The source, ``source/Face_Recognition.ipynb``, holds the solutions between
``### BEGIN SOLUTION`` / ``### END SOLUTION`` and hidden tests between ``### BEGIN HIDDEN TESTS``
/ ``### END HIDDEN TESTS``, in cells marked with nbgrader metadata. nbgrader's own preprocessors
replace each solution by a placeholder, drop the hidden tests and clear every output.
The follow-ups, ``source/Face_Recognition_at_scale.ipynb`` and
``source/Face_Recognition_several_photos.ipynb``, have no exercises: their student versions are
the sources without outputs.
"""

import argparse
import re
import sys
from pathlib import Path

import nbformat
from nbgrader.preprocessors import ClearHiddenTests, ClearOutput, ClearSolutions

from exercises import contract

PROJECT_DIR = Path(__file__).resolve().parents[1]
SOURCE_PATH = PROJECT_DIR / "source" / "Face_Recognition.ipynb"
STUDENT_PATH = PROJECT_DIR / "Face_Recognition.ipynb"
AT_SCALE_SOURCE_PATH = PROJECT_DIR / "source" / "Face_Recognition_at_scale.ipynb"
AT_SCALE_PATH = PROJECT_DIR / "Face_Recognition_at_scale.ipynb"
SEVERAL_PHOTOS_SOURCE_PATH = PROJECT_DIR / "source" / "Face_Recognition_several_photos.ipynb"
SEVERAL_PHOTOS_PATH = PROJECT_DIR / "Face_Recognition_several_photos.ipynb"
# The follow-up notebooks without exercises: (source, student version).
FOLLOW_UPS = [(AT_SCALE_SOURCE_PATH, AT_SCALE_PATH), (SEVERAL_PHOTOS_SOURCE_PATH, SEVERAL_PHOTOS_PATH)]
# A solution region as nbgrader marks it, with its indentation; group 1 is the solution's code.
SOLUTION_PATTERN = re.compile(r"[ \t]*### BEGIN SOLUTION\n(.*?)[ \t]*### END SOLUTION\n", re.S)
PLACEHOLDER = contract.PLACEHOLDER


def strip_outputs(notebook):
    """Clear outputs and execution counts (what nbdev's clean does), in place; returns it."""
    notebook, _ = ClearOutput().preprocess(notebook, {})
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.execution_count = None
        cell.metadata.pop("execution", None)
    return notebook


def student_version(source):
    """The student notebook (a new NotebookNode) made from the source notebook."""
    notebook = nbformat.from_dict(source)
    resources = {}
    notebook, resources = ClearSolutions(code_stub={"python": PLACEHOLDER}, enforce_metadata=True).preprocess(
        notebook, resources
    )
    notebook, resources = ClearHiddenTests(enforce_metadata=True).preprocess(notebook, resources)
    return strip_outputs(notebook)


def render(notebook):
    """The notebook's text as nbformat writes it."""
    return nbformat.writes(notebook) + "\n"


def generated():
    """[(source path, student path, the student notebook's text)] for each notebook."""
    main = nbformat.read(SOURCE_PATH, as_version=4)
    return [(SOURCE_PATH, STUDENT_PATH, render(student_version(main)))] + [
        (source, student, render(strip_outputs(nbformat.read(source, as_version=4)))) for source, student in FOLLOW_UPS
    ]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if the committed notebook is stale")
    arguments = parser.parse_args()
    try:
        contract.exercises_and_points(SOURCE_PATH)
        hidden = contract.hidden_tests(SOURCE_PATH)  # the grader runs them: they must be Python
    except contract.ContractError as problem:
        sys.exit(f"{problem}. Fix it in {SOURCE_PATH.relative_to(PROJECT_DIR)}, then run this again.")
    for exercise, code in hidden.items():
        print(f"the grader will run your hidden test of {exercise} ({len(code.splitlines())} lines) after the student's cell")
    for source_path, student_path, expected in generated():
        if arguments.check:
            if not student_path.is_file() or student_path.read_text() != expected:
                sys.exit(
                    f"{student_path.name} is not what {source_path.relative_to(PROJECT_DIR)} generates. "
                    f"Run: python scripts/make_student_notebook.py"
                )
            print(f"{student_path.name} is up to date.")
        else:
            student_path.write_text(expected)
            print(f"wrote {student_path.relative_to(PROJECT_DIR)}")


if __name__ == "__main__":
    main()

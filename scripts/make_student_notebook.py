"""Generate the student notebook from the instructors' source notebook.

    python scripts/make_student_notebook.py           # writes Face_Recognition.ipynb
    python scripts/make_student_notebook.py --check   # fails if the committed one is stale

The source, ``source/Face_Recognition.ipynb``, holds the solutions between
``### BEGIN SOLUTION`` / ``### END SOLUTION`` and hidden tests between ``### BEGIN HIDDEN TESTS``
/ ``### END HIDDEN TESTS``, in cells marked with nbgrader metadata. nbgrader's own preprocessors
replace each solution by a placeholder, drop the hidden tests and clear every output.
"""

import argparse
import re
import sys
from pathlib import Path

import nbformat
from nbgrader.preprocessors import ClearHiddenTests, ClearOutput, ClearSolutions

PROJECT_DIR = Path(__file__).resolve().parents[1]
SOURCE_PATH = PROJECT_DIR / "source" / "Face_Recognition.ipynb"
STUDENT_PATH = PROJECT_DIR / "Face_Recognition.ipynb"
# A solution region as nbgrader marks it, with its indentation; group 1 is the solution's code.
SOLUTION_PATTERN = re.compile(r"[ \t]*### BEGIN SOLUTION\n(.*?)[ \t]*### END SOLUTION\n", re.S)
PLACEHOLDER = '# YOUR CODE HERE\nraise NotImplementedError("Exercise: replace this line with your code.")'


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


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if the committed notebook is stale")
    arguments = parser.parse_args()
    source = nbformat.read(SOURCE_PATH, as_version=4)
    expected = render(student_version(source))
    if arguments.check:
        if not STUDENT_PATH.is_file() or STUDENT_PATH.read_text() != expected:
            sys.exit(
                f"{STUDENT_PATH.name} is not what {SOURCE_PATH.relative_to(PROJECT_DIR)} generates. "
                f"Run: python scripts/make_student_notebook.py"
            )
        print(f"{STUDENT_PATH.name} is up to date.")
        return
    STUDENT_PATH.write_text(expected)
    print(f"wrote {STUDENT_PATH.relative_to(PROJECT_DIR)}")


if __name__ == "__main__":
    main()

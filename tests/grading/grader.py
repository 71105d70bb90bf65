"""Grade students' notebooks: each exercise of each submission in its own limited process.

The flow for one submission:
  1. Read the notebook with nbformat and take the graded cells (nbgrader ``grade_id``
     triplet_loss / verify / who_is_it; or, if a student lost the metadata, the cell that defines
     that function).
  2. For each exercise, start ``child.py`` with the cell's code and the test cases as plain data.
     The child runs the student's function on every case and sends back what it returned, as
     plain data. It has a time limit, a memory limit, capped output, and may not write files.
  3. Here, in the grader's process, compare each answer with the reference computed from the
     same case (``exercise_checks``); an exercise earns its points when every case is right.

Expensive things (the FaceNet model, the photos' encodings) are computed once per run here;
the children get encodings as plain numbers, so only the triplet-loss child imports TensorFlow.
"""

import csv
import json
import os
import re
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from tests import exercise_checks as checks

GRADING_DIR = Path(__file__).resolve().parent

EXERCISES = {"triplet_loss": 3, "verify": 3, "who_is_it": 4}
TIME_LIMIT_SECONDS = 90
MEMORY_LIMIT_BYTES = 3 * 2**30
OUTPUT_LIMIT_CHARACTERS = 100_000
RESULT_LIMIT_BYTES = 10 * 2**20
MESSAGES_PER_EXERCISE = 3


class SubmissionError(Exception):
    """The submission as a whole cannot be graded (unreadable notebook)."""


def graded_sources(notebook_path):
    """{exercise: source of its graded cell} for the exercises found in a notebook.

    Raises:
        SubmissionError: the file is missing or is not a notebook nbformat can read.
    """
    import nbformat

    try:
        notebook = nbformat.read(notebook_path, as_version=4)
    except Exception as error:  # nbformat raises many kinds for a broken file
        raise SubmissionError(f"the notebook cannot be read ({type(error).__name__}: {error})"[:300]) from error
    sources = {}
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if grade_id in EXERCISES:
            sources[grade_id] = cell.source
    for exercise in EXERCISES:
        if exercise not in sources:
            defining = [cell.source for cell in notebook.cells
                        if cell.cell_type == "code" and re.search(rf"^def {exercise}\(", cell.source, re.M)]
            if defining:
                sources[exercise] = defining[-1]
    return sources


@dataclass
class GradingContext:
    """What every submission is graded against, computed once per run."""

    threshold: float
    encodings: dict = field(default_factory=dict)  # photo path (str) -> (512,) float32
    cases: dict = field(default_factory=dict)  # exercise -> list of case dicts

    @classmethod
    def build(cls):
        """Encode the notebook's photos with the real model and lay out every case."""
        import face_database
        import fr_utils

        face_database.ensure_images()
        model = fr_utils.load_facenet()
        threshold = fr_utils.VERIFICATION_THRESHOLD
        camera = face_database.read_manifest()
        photos = [str(path) for path, _ in camera]
        encodings = dict(zip(photos, fr_utils.encode_images(photos, model, progress=False)))
        database = face_database.build_database(model)
        known = [str(path) for path, identity in camera if identity != face_database.UNKNOWN][:2]

        cases = {"triplet_loss": [case for seed in (0, 1, 2) for case in checks.triplet_cases(seed)]}
        cases["verify"] = [
            dict(case, photo=photo)
            for photo in known for case in checks.verify_cases(encodings[photo], threshold)
        ]
        cases["who_is_it"] = [
            dict(case, photo=photo)
            for photo in known for case in checks.who_is_it_cases(encodings[photo], threshold)
        ] + [{"photo": photo, "database": database} for photo in photos]
        return cls(threshold, encodings, cases)

    def diagnose(self, exercise, case, answer):
        """None if ``answer`` is right for ``case``, else a message (computed in this process)."""
        if exercise == "triplet_loss":
            if "crash" in answer:
                return f"triplet_loss raised {answer['crash']}"
            return checks.diagnose_triplet(case, answer)
        encoding = self.encodings[case["photo"]]
        if exercise == "verify":
            if "crash" in answer:
                return f"verify raised {answer['crash']}"
            return checks.diagnose_verify(encoding, case, answer, self.threshold)
        return checks.diagnose_who_is_it(encoding, case, answer, self.threshold)


def _to_json(value):
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, dict):
        return {key: _to_json(item) for key, item in value.items()}
    return value


def run_child(exercise, source, context, time_limit=TIME_LIMIT_SECONDS):
    """Run one exercise in a fresh process; returns the child's message dict."""
    job = {
        "exercise": exercise, "source": source, "threshold": context.threshold,
        "cases": [_to_json(case) for case in context.cases[exercise]],
        "encodings": {path: vector.tolist() for path, vector in context.encodings.items()},
        "memory_bytes": MEMORY_LIMIT_BYTES, "output_bytes": OUTPUT_LIMIT_CHARACTERS,
    }
    environment = {key: value for key, value in os.environ.items() if not key.startswith("PYTEST")}
    environment["PYTHONDONTWRITEBYTECODE"] = "1"
    with tempfile.TemporaryDirectory(prefix="grading-") as scratch:
        try:
            completed = subprocess.run(
                [sys.executable, str(GRADING_DIR / "child.py")],
                input=json.dumps(job).encode(), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                timeout=time_limit, cwd=scratch, env=environment,
            )
        except subprocess.TimeoutExpired:
            return {"error": f"it ran longer than {time_limit} s (an endless loop?)"}
    output = completed.stdout[:RESULT_LIMIT_BYTES].decode(errors="replace").strip().splitlines()
    if not output:
        return {"error": f"the grading process ended without an answer (exit code {completed.returncode}: "
                         "sys.exit, os._exit or a crash in the submission)"}
    try:
        return json.loads(output[-1])
    except ValueError:
        return {"error": "the grading process sent an unreadable answer"}


def grade_exercise(exercise, source, context, time_limit=TIME_LIMIT_SECONDS):
    """{"points", "max_points", "messages"} for one exercise of one submission."""
    max_points = EXERCISES[exercise]
    if source is None:
        return {"points": 0, "max_points": max_points,
                "messages": [f"no graded cell defines {exercise}: keep the exercise's cell and its def line"]}
    message = run_child(exercise, source, context, time_limit)
    if "error" in message:
        return {"points": 0, "max_points": max_points, "messages": [message["error"]]}
    answers = message.get("answers", [])
    if len(answers) != len(context.cases[exercise]):
        return {"points": 0, "max_points": max_points, "messages": ["the grading process answered too few cases"]}
    problems = []
    for case, answer in zip(context.cases[exercise], answers):
        problem = context.diagnose(exercise, case, answer)
        if problem and problem not in problems and len(problems) < MESSAGES_PER_EXERCISE:
            problems.append(problem)
    return {"points": 0 if problems else max_points, "max_points": max_points, "messages": problems}


def grade_submission(path, context, time_limit=TIME_LIMIT_SECONDS):
    """The report of one notebook: {"submission", "total", "max_total", "exercises"}."""
    try:
        sources = graded_sources(path)
    except SubmissionError as error:
        exercises = {exercise: {"points": 0, "max_points": points, "messages": [str(error)]}
                     for exercise, points in EXERCISES.items()}
    else:
        exercises = {exercise: grade_exercise(exercise, sources.get(exercise), context, time_limit)
                     for exercise in EXERCISES}
    return {
        "submission": str(path),
        "total": sum(result["points"] for result in exercises.values()),
        "max_total": sum(EXERCISES.values()),
        "exercises": exercises,
    }


def submissions_in(path):
    """The notebooks to grade: ``path`` itself, or every .ipynb in a folder (sorted)."""
    path = Path(path)
    if path.is_dir():
        notebooks = sorted(item for item in path.glob("*.ipynb") if item.is_file())
        if not notebooks:
            raise SubmissionError(f"{path} holds no .ipynb notebooks")
        return notebooks
    return [path]


def grade_all(paths, context, time_limit=TIME_LIMIT_SECONDS, workers=2):
    """Reports for several notebooks, graded ``workers`` at a time, in the order given."""
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(lambda path: grade_submission(path, context, time_limit), paths))


def write_reports(reports, json_path, gradebook=False):
    """Write the JSON report; with ``gradebook``, also a CSV with one row per submission beside it."""
    json_path = Path(json_path)
    json_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps(reports, indent=2) + "\n")
    if not gradebook:
        return None
    csv_path = json_path.with_suffix(".csv")
    with open(csv_path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["submission", *EXERCISES, "total", "max_total"])
        for report in reports:
            writer.writerow([report["submission"], *(report["exercises"][name]["points"] for name in EXERCISES),
                             report["total"], report["max_total"]])
    return csv_path

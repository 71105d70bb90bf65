"""Grade students' notebooks: each exercise of each submission in its own OS sandbox.

The flow for one submission:
  1. ``submissions.read_graded_cells``: the cell of each exercise, read as data.
  2. For each exercise, ``sandbox.Sandbox.run`` runs ``child.py`` on the cell and the exercise's
     cases (plain data); the child sends back the answers as plain data.
  3. Here, in the grader's process, the answers are validated and compared with the reference's
     (``exercise_checks.CaseSet``): the exercise earns its points when every case is right, and
     the report carries the one message the public tests would also give.

What is graded and for how many points is read from the instructors' notebook
(``source/Face_Recognition.ipynb``): each solution cell's nbgrader ``grade_id`` names an
exercise, and the test cell ``test_<exercise>`` carries its points. Expensive things (the
FaceNet model, the photos' encodings, the reference's and the catalogue's answers) are computed
once per run, here; the sandboxes get encodings as plain numbers.
"""

import csv
import functools
import io
import json
import math
import os
import queue
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tests import answers, exercise_checks
from tests.grading import submissions
from tests.grading.sandbox import Limits

PROJECT_DIR = Path(__file__).resolve().parents[2]
SOURCE_NOTEBOOK = PROJECT_DIR / "source" / "Face_Recognition.ipynb"
SYNTHETIC_CASE_PHOTOS = 2  # known camera photos the synthetic cases are built around


def exercises_and_points(source_notebook=SOURCE_NOTEBOOK):
    """{exercise: points}, in notebook order, from the instructors' notebook's nbgrader metadata.

    An exercise is a solution cell's ``grade_id``; its points are those of the graded test cell
    whose grade_id is ``test_<exercise>``.
    """
    import nbformat

    notebook = nbformat.read(source_notebook, as_version=4)
    metadata = [cell.metadata.get("nbgrader", {}) for cell in notebook.cells]
    exercises = [meta["grade_id"] for meta in metadata if meta.get("solution") and meta.get("grade_id")]
    points = {meta["grade_id"]: meta.get("points") for meta in metadata if meta.get("grade")}
    result = {}
    for exercise in exercises:
        value = points.get(f"test_{exercise}")
        if not isinstance(value, (int, float)) or value <= 0:
            raise ValueError(f"{source_notebook}: no graded cell test_{exercise} with points > 0 for exercise {exercise!r}")
        result[exercise] = value
    if not result:
        raise ValueError(f"{source_notebook} has no solution cells with an nbgrader grade_id")
    return result


def _plain(value):
    """A case as JSON-ready data (arrays become lists of numbers)."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value


@dataclass(eq=False)  # hashed by identity, for the cache of _plain_cases
class GradingContext:
    """What every submission is graded against, computed once per run."""

    points: dict  # exercise -> points, from the instructors' notebook
    case_sets: dict  # exercise -> exercise_checks.CaseSet

    @classmethod
    def build(cls, source_notebook=SOURCE_NOTEBOOK):
        """Encode the notebook's photos with the real model and lay out every exercise's cases.

        The cases: the grader's synthetic case set around two camera photos, plus, for verify and
        who_is_it, every camera photo against the notebook's real database.
        """
        import embeddings
        import face_database
        import settings
        points = exercises_and_points(source_notebook)
        face_database.ensure_images()
        model = embeddings.load_facenet()
        threshold = settings.VERIFICATION_THRESHOLD
        camera = [(str(path), identity) for path, identity in face_database.read_manifest()]
        photos = [path for path, _ in camera]
        encodings = dict(zip(photos, embeddings.encode_images(photos, model, progress=False)))
        database = face_database.build_database(model)
        known = [path for path, identity in camera if identity != face_database.UNKNOWN][:SYNTHETIC_CASE_PHOTOS]
        someone = sorted(database)[0]
        real = {
            "verify": [{"exercise": "verify", "photo": path, "database": database, "threshold": threshold,
                        "identity": identity if identity in database else someone} for path, identity in camera],
            "who_is_it": [{"exercise": "who_is_it", "photo": path, "database": database, "threshold": threshold}
                          for path in photos],
        }
        case_sets = {}
        for exercise in points:
            if exercise == "triplet_loss":
                case_list = exercise_checks.cases(exercise, "grader")
            else:
                case_list = [case for photo in known
                             for case in exercise_checks.cases(exercise, "grader", photo, encodings[photo], threshold)]
                case_list += real.get(exercise, [])
            case_sets[exercise] = exercise_checks.CaseSet(exercise, case_list, encodings)
        for case_set in case_sets.values():
            case_set.prepare()
        return cls(points, case_sets)

    def job(self, exercise, source):
        """The plain-data job for one exercise of one submission (see child.py)."""
        return dict(self._plain_cases(exercise), exercise=exercise, source=source)

    @functools.lru_cache(maxsize=None)  # noqa: B019 - one context per run; the cases never change
    def _plain_cases(self, exercise):
        """The exercise's cases and photo encodings as JSON-ready data, made once per run."""
        case_set = self.case_sets[exercise]
        photos = {case["photo"] for case in case_set.cases if "photo" in case}
        return {"cases": [_plain(case) for case in case_set.cases],
                "encodings": {photo: _plain(case_set.encodings[photo]) for photo in sorted(photos)}}


# ---------------------------------------------------------------------------------------------
# The child's answer: parsed and validated as untrusted data


def _valid_text(value, limit):
    return isinstance(value, str) and len(value) <= limit


def read_answer(outcome, case_count, limits):
    """("answers", [answer per case]) or ("problem", message) from a sandbox run's Outcome."""
    if outcome.timed_out:
        return "problem", f"it ran longer than {limits.seconds:g} s (an endless loop?) and was stopped"
    if outcome.overflowed:
        return "problem", (f"unreadable answer: the cell sent more than {limits.answer_bytes:,} bytes to the "
                           "grader's channel")
    lines = outcome.output.splitlines()
    if outcome.out_of_memory and not lines:
        return "problem", (f"it ran out of memory: its processes together may use {limits.memory_bytes / 2**30:g} GiB, "
                           "and the kernel stopped one")
    if not lines:
        return "problem", (f"the cell ended without an answer (exit code {outcome.exit_code}): sys.exit, os._exit, "
                           "a crash, or a kill for exceeding a memory, CPU or process limit")
    try:
        message = json.loads(outcome.output.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return "problem", "unreadable answer: what the grading process sent is not one JSON message"
    if type(message) is dict and set(message) == {"error"} and _valid_text(message["error"], 600):
        return "problem", message["error"]
    if (type(message) is not dict or set(message) != {"answers"} or type(message["answers"]) is not list
            or len(message["answers"]) != case_count or not all(answers.is_answer(item) for item in message["answers"])):
        return "problem", "unreadable answer: what the grading process sent does not have the answers' structure"
    return "answers", message["answers"]


# ---------------------------------------------------------------------------------------------
# Grading


def _result(points, max_points, message):
    return {"points": points, "max_points": max_points,
            "message": submissions.clean_text(message) if message is not None else None}


def grade_exercise(exercise, source, context, sandbox, slot=0):
    """{"points", "max_points", "message"} for one exercise of one submission."""
    max_points = context.points[exercise]
    if source is None:
        return _result(0, max_points, f"no cell defines {exercise}: keep the exercise's cell (with its nbgrader "
                                      "metadata) and its def line")
    case_set = context.case_sets[exercise]
    outcome = sandbox.run(context.job(exercise, source), slot)
    kind, content = read_answer(outcome, len(case_set.cases), sandbox.limits)
    if kind == "problem":
        return _result(0, max_points, content)
    try:
        message = case_set.message(content)
    except Exception as error:  # noqa: BLE001 - a grader bug must cost one exercise, not the folder's report
        return _result(0, max_points, f"the answers could not be checked (the grader failed: {type(error).__name__}); "
                                      "report this to the course staff")
    return _result(max_points if message is None else 0, max_points, message)


def _report(path, context, results, notes):
    return {
        "submission": str(path),
        "total": sum(result["points"] for result in results.values()),
        "max_total": sum(context.points.values()),
        "exercises": results,
        "notes": [submissions.clean_text(note) for note in notes],
    }


def grade_all(paths, context, sandbox, workers=1):
    """Reports for several notebooks, in the order given; ``workers`` exercises at a time."""
    read = {}
    for path in paths:
        try:
            read[path] = submissions.read_graded_cells(path, list(context.points))
        except submissions.UnreadableSubmission as error:
            read[path] = error
    tasks = [(path, exercise) for path in paths if not isinstance(read[path], Exception) for exercise in context.points]
    slots = queue.Queue()
    for slot in range(max(1, workers)):
        slots.put(slot)

    def grade(task):
        path, exercise = task
        slot = slots.get()
        try:
            return grade_exercise(exercise, read[path].sources.get(exercise), context, sandbox, slot)
        except Exception as error:  # noqa: BLE001 - the folder's other submissions are still graded
            return _result(0, context.points[exercise], f"this exercise could not be graded ({type(error).__name__}: "
                                                        f"{error}); report this to the course staff")
        finally:
            slots.put(slot)

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        results = dict(zip(tasks, pool.map(grade, tasks)))
    reports = []
    for path in paths:
        if isinstance(read[path], Exception):
            reason = f"the notebook cannot be read: {read[path]}"
            reports.append(_report(path, context, {exercise: _result(0, points, reason)
                                                   for exercise, points in context.points.items()}, []))
        else:
            reports.append(_report(path, context, {exercise: results[(path, exercise)] for exercise in context.points},
                                   read[path].notes))
    return reports


def _write_atomically(path, text):
    """Write ``text`` to ``path`` through a temporary file and a rename: never a half-written report."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(descriptor, "w", newline="") as handle:
            handle.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def write_reports(reports, json_path, exercises, gradebook=False):
    """Write the JSON report; with ``gradebook``, also a CSV with one row per submission beside it."""
    _write_atomically(json_path, json.dumps(reports, indent=2) + "\n")
    if not gradebook:
        return None
    table = io.StringIO()
    writer = csv.writer(table)
    writer.writerow(["submission", *exercises, "total", "max_total"])
    for report in reports:
        writer.writerow([submissions.spreadsheet_cell(report["submission"]),
                         *(report["exercises"][name]["points"] for name in exercises), report["total"], report["max_total"]])
    csv_path = Path(json_path).with_suffix(".csv")
    _write_atomically(csv_path, table.getvalue())
    return csv_path


def worst_case_seconds(submission_count, exercise_count, limits=Limits(), workers=1):
    """An upper bound on the grading time of a folder (children only, model loading aside)."""
    return math.ceil(submission_count * exercise_count / max(1, workers)) * limits.seconds

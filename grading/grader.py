"""Grade students' notebooks: each exercise of each submission in its own OS sandbox.

The flow for one submission, within one wall-clock budget (reading included):
  1. ``submissions.read_graded_cells``: the cell of each exercise, read as data, by bounded,
     linear-time code.
  2. For each exercise, ``sandbox.Sandbox.run`` runs ``child.py`` on the submission's exercise
     cells up to this one, the instructor's hidden test of this exercise, and the exercise's
     cases (plain data); the child sends back the answers as plain data.
  3. Here, in the grader's process, the answers are checked as untrusted data and compared with
     the reference's (``exercises.checks.CaseSet``): the exercise earns its points when every
     case is right and the hidden test passed, and the report carries the one message the
     public tests would also give.

What is graded and for how many points is read from the instructors' notebook
(``exercises.contract``). Expensive things (the FaceNet model, the photos' encodings, the
reference's and the catalogue's answers) are computed once per run, here; the sandboxes get
encodings as plain numbers. The grader's cases are drawn from a seed chosen at the start of the
run (or given, to grade again the same way); it is in every report.
"""

import csv
import io
import json
import math
import queue
import secrets
import time
import unicodedata
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import files
from exercises import answers, checks, contract
from grading import submissions

SYNTHETIC_CASE_PHOTOS = 2  # known camera photos the designed cases are built around
READING_SECONDS = 10  # of each submission's budget, for reading it (it takes well under a second)


def _plain(value):
    """Data as JSON-ready values (arrays become lists of numbers)."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value


def _photo_key(path):
    """A photo's name for the cases: its path from the project's images/ folder on."""
    path = Path(path)
    return path.relative_to(path.parents[2]).as_posix() if len(path.parents) > 2 else path.name


@dataclass(eq=False)
class GradingContext:
    """What every submission is graded against, computed once per run."""

    points: dict  # exercise -> points, from the instructors' notebook
    case_sets: dict  # exercise -> exercises.checks.CaseSet
    hidden_tests: dict  # exercise -> the instructor's own hidden-test code
    notebook: dict  # the notebook's names as plain data: database, threshold, photos
    seed: int
    code: list = None  # contract.notebook_code: the released notebook's code cells, in order

    @classmethod
    def build(cls, seed=None, source_notebook=contract.SOURCE_NOTEBOOK):
        """Encode the notebook's photos with the real model and draw every exercise's cases.

        The cases: the grader's case set drawn from ``seed`` around two camera photos, plus, for
        verify and who_is_it, every camera photo against the notebook's real database.
        """
        import embeddings
        import face_database
        import settings

        seed = secrets.randbelow(2**31) if seed is None else seed
        points = contract.exercises_and_points(source_notebook)
        hidden = contract.hidden_tests(source_notebook)
        face_database.ensure_images()
        threshold = settings.VERIFICATION_THRESHOLD
        camera = [(_photo_key(path), path, identity) for path, identity in face_database.read_manifest()]
        database_photos = face_database.database_photos()
        paths = [path for _, path, _ in camera] + list(database_photos.values())
        keys = [key for key, _, _ in camera] + [_photo_key(path) for path in database_photos.values()]
        encoded = dict(zip(keys, embeddings.encode_images(paths, None, progress=False)))  # the model only if not cached
        database = {name: encoded[_photo_key(path)] for name, path in database_photos.items()}
        known = [key for key, _, identity in camera if identity != face_database.UNKNOWN][:SYNTHETIC_CASE_PHOTOS]
        someone = sorted(database)[0]
        real = {
            # Each camera photo gets a copy of the database of its own: a change one call makes shows in
            # the check-back of that very question, and nowhere else.
            "verify": [{"exercise": "verify", "photo": key, "database": "notebook", "copy": index, "threshold": threshold,
                        "identity": identity if identity in database else someone, "kind": "real"}
                       for index, (key, _, identity) in enumerate(camera, start=1)],
            "who_is_it": [{"exercise": "who_is_it", "photo": key, "database": "notebook", "copy": index,
                           "threshold": threshold, "kind": "real"} for index, (key, _, _) in enumerate(camera, start=1)],
        }
        case_sets = {}
        for exercise in points:
            photos = {key: encoded[key] for key in known} if exercise != "triplet_loss" else {}
            extra = (real[exercise], {"notebook": database}, encoded) if exercise in real else None
            case_sets[exercise] = checks.case_set(exercise, "grader", photos, threshold, seed=seed, extra=extra).prepare()
        notebook = {"database": _plain(database), "threshold": threshold, "photos": _plain(encoded)}
        return cls(points, case_sets, hidden, notebook, seed, contract.notebook_code(source_notebook))

    def job(self, exercise, cells):
        """The plain-data job for one exercise of one submission (see child.py).

        Args:
            exercise: the exercise graded.
            cells: {exercise: cell source} of the submission, for this exercise and those before it.
        """
        case_set = self.case_sets[exercise]
        photos = {case["photo"] for case in case_set.cases if "photo" in case}
        return {
            "exercise": exercise,
            "cells": self._cells_up_to(exercise, cells),
            "hidden_test": self.hidden_tests.get(exercise, ""),
            "cases": case_set.cases,
            "databases": _plain(case_set.databases),
            "encodings": {photo: _plain(case_set.encodings[photo]) for photo in sorted(photos)},
            "notebook": self.notebook,
        }

    def _cells_up_to(self, exercise, cells):
        """The cells the released notebook runs, top to bottom, up to and with ``exercise``'s: the
        notebook's own cells, and the student's exercise cells (each where the notebook has it)."""
        code = self.code if self.code is not None else [(f"exercise:{name}", "") for name in self.points]
        replay = []
        for kind, source in code:
            if kind == "notebook":
                replay.append({"kind": "notebook", "source": source})
                continue
            name = kind.split(":", 1)[1]
            if name in cells:
                replay.append({"kind": "exercise", "exercise": name, "source": cells[name]})
            if name == exercise:
                return replay
        return replay


# ---------------------------------------------------------------------------------------------
# The child's answer: parsed and validated as untrusted data


def _valid_text(value, limit):
    return isinstance(value, str) and len(value) <= limit


def read_answer(outcome, case_set, limits, seconds):
    """("answers", [answer per case], {"hidden_test": failure or None, "notes": [...]}) or
    ("problem", message, None)."""
    if outcome.timed_out:
        return "problem", f"it ran longer than {seconds:g} s (an endless loop?) and was stopped", None
    if outcome.overflowed:
        return "problem", (f"unreadable answer: the cell sent more than {limits.answer_bytes:,} bytes to the "
                           "grader's channel"), None
    lines = outcome.output.splitlines()
    if outcome.out_of_memory and not lines:
        return "problem", (f"it ran out of memory: its processes together may use {limits.memory_bytes / 2**30:.1f} "
                           "GiB, and it was stopped"), None
    if not lines:
        return "problem", (f"the cell ended without an answer (exit code {outcome.exit_code}): sys.exit, os._exit, "
                           "a crash, or a kill for exceeding a memory, CPU or process limit"), None
    try:
        message = json.loads(outcome.output.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return "problem", "unreadable answer: what the grading process sent is not one JSON message", None
    if type(message) is dict and set(message) == {"error"} and _valid_text(message["error"], 600):
        return "problem", message["error"], None
    cases = case_set.cases
    if (type(message) is not dict or set(message) != {"answers", "hidden_test", "notes"}
            or type(message["answers"]) is not list or len(message["answers"]) != len(cases)
            or not (message["hidden_test"] is None or _valid_text(message["hidden_test"], 600))
            or type(message["notes"]) is not list or len(message["notes"]) > 3
            or not all(_valid_text(note, 600) for note in message["notes"])
            or not all(answers.is_answer(item, case_set.gradient_sizes(case))
                       for item, case in zip(message["answers"], cases))):
        return "problem", "unreadable answer: what the grading process sent does not have the answers' structure", None
    return "answers", message["answers"], {"hidden_test": message["hidden_test"], "notes": message["notes"]}


# ---------------------------------------------------------------------------------------------
# Grading


def _result(points, max_points, message):
    return {"points": points, "max_points": max_points,
            "message": submissions.clean_text(message) if message is not None else None}


def grade_exercise(exercise, cells, context, sandbox, slot=0, seconds=None):
    """{"points", "max_points", "message"} for one exercise of one submission.

    Args:
        cells: {exercise: cell source} of the submission.
        seconds: the wall-clock limit of this exercise (default: the sandbox's).
    """
    max_points = context.points[exercise]
    if exercise not in cells:
        return _result(0, max_points, f"no cell defines {exercise}: keep the exercise's cell (with its nbgrader "
                                      "metadata) and its def line")
    case_set = context.case_sets[exercise]
    seconds = sandbox.limits.seconds if seconds is None else seconds
    outcome = sandbox.run(context.job(exercise, cells), slot, seconds)
    kind, content, extra = read_answer(outcome, case_set, sandbox.limits, seconds)
    if kind == "problem":
        return _result(0, max_points, content)
    try:
        message = case_set.message(content)
    except Exception as error:  # noqa: BLE001 - a grader bug must cost one exercise, not the folder's report
        return _result(0, max_points, f"the answers could not be checked (the grader failed: {type(error).__name__}); "
                                      "report this to the course staff")
    if message is None and extra["hidden_test"] is not None:
        message = extra["hidden_test"]
    return dict(_result(max_points if message is None else 0, max_points, message), notes=extra["notes"])


def _report(name, context, results, notes, error=None):
    report = {
        "submission": name,
        "total": sum(result["points"] for result in results.values()),
        "max_total": sum(context.points.values()),
        "exercises": results,
        "notes": [submissions.clean_text(note) for note in notes],
        "seed": context.seed,
    }
    if error is not None:
        report["grading_error"] = submissions.clean_text(error)
    return report


def submission_budget(limits, exercise_count):
    """Seconds one submission may take in all: reading, and each exercise's time limit."""
    return READING_SECONDS + exercise_count * limits.seconds


def worst_case_seconds(submission_count, exercise_count, limits, workers=1, setup_seconds=60):
    """An upper bound on the time grading a folder takes: the set-up (model, photos, cases), then
    every submission's whole budget, ``workers`` at a time."""
    return setup_seconds + math.ceil(submission_count / max(1, workers)) * submission_budget(limits, exercise_count)


def grade_submission(path, name, context, sandbox, slot=0):
    """The report of one submission, within its budget (``submission_budget``)."""
    limits = sandbox.limits
    deadline = time.monotonic() + submission_budget(limits, len(context.points))
    try:
        graded = submissions.read_graded_cells(path, list(context.points))
    except submissions.UnreadableSubmission as error:
        reason = f"the notebook cannot be read: {error}"
        return _report(name, context, {exercise: _result(0, points, reason) for exercise, points in context.points.items()}, [])
    results = {}
    for exercise in context.points:
        seconds = min(limits.seconds, deadline - time.monotonic())
        if exercise in graded.too_long:
            results[exercise] = _result(0, context.points[exercise], graded.too_long[exercise])
            continue
        if seconds <= 0:
            results[exercise] = _result(0, context.points[exercise], "the submission used up its time before this "
                                                                       "exercise could be graded")
            continue
        results[exercise] = grade_exercise(exercise, graded.sources, context, sandbox, slot, seconds)
    notes = graded.notes + [note for result in results.values() for note in result.pop("notes", [])]
    return _report(name, context, results, notes)


def grade_all(paths, names, context, sandbox, workers=1, on_report=None):
    """Reports for several notebooks, in the order given; ``workers`` submissions at a time.

    Args:
        paths: the notebooks. names: how each is named in its report (relative paths).
        on_report: called with each report as soon as it is made (e.g. to print a line).
    """
    slots = queue.Queue()
    for slot in range(max(1, workers)):
        slots.put(slot)

    def grade(item):
        path, name = item
        slot = slots.get()
        try:
            report = grade_submission(path, name, context, sandbox, slot)
        except Exception as error:  # noqa: BLE001 - the folder's other submissions are still graded
            reason = f"this submission could not be graded ({type(error).__name__}: {error}); report this to the course staff"
            report = _report(name, context, {exercise: _result(0, points, reason)
                                             for exercise, points in context.points.items()}, [], error=reason)
        finally:
            slots.put(slot)
        if on_report is not None:
            on_report(report)
        return report

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        reports = list(pool.map(grade, zip(paths, names)))
    submissions.note_lookalike_names(reports)
    return reports


# ---------------------------------------------------------------------------------------------
# Reports


def write_reports(reports, json_path, exercises, gradebook=True):
    """Write the JSON report and, with ``gradebook``, a CSV beside it (one row per submission).

    Both are written atomically, with the permissions any new file of the user gets.

    Returns:
        The CSV's path, or None.
    """
    files.atomic_write(json_path, json.dumps(reports, indent=2) + "\n")  # \u escapes: names may not be UTF-8
    if not gradebook:
        return None
    table = io.StringIO()
    writer = csv.writer(table)
    writer.writerow(["submission", *exercises, "total", "max_total"])
    for report in reports:
        writer.writerow([submissions.spreadsheet_cell(submissions.display_name(report["submission"])),
                         *(report["exercises"].get(name, {}).get("points", 0) for name in exercises),
                         report["total"], report["max_total"]])
    csv_path = Path(json_path).with_suffix(".csv")
    files.atomic_write(csv_path, table.getvalue())
    return csv_path


def read_reports(path):
    """The reports of a JSON file written by ``write_reports`` (for merging shards)."""
    reports = json.loads(Path(path).read_text(encoding="utf-8"))
    if not isinstance(reports, list) or not all(isinstance(report, dict) and "submission" in report
                                                and isinstance(report.get("exercises"), dict) for report in reports):
        raise ValueError(f"{path} is not a grading report (a list of reports, each with submission and exercises)")
    return reports


def merge_reports(report_lists):
    """One list of reports from several shards': sorted by submission; a submission graded in two
    shards is an error (the shards must split the same folder)."""
    merged, seen = [], {}
    for reports in report_lists:
        for report in reports:
            key = unicodedata.normalize("NFC", report["submission"]) + "\0" + report["submission"]
            if key in seen:
                raise ValueError(f"{report['submission']} is in two of the shards' reports: give each shard "
                                 "the same folder and its own --shard K/N")
            seen[key] = True
            merged.append(report)
    merged.sort(key=lambda report: report["submission"])
    submissions.note_lookalike_names(merged)
    return merged

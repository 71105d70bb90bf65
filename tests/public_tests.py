"""The tests the notebook runs after each exercise.

Each test runs the learner's function on the exercise's public cases (``exercise_checks``) and
prints one line when every answer is right; otherwise it raises ``ExerciseTestFailed`` with the
one message the grader would give. In a notebook that exception shows as that message only, in
red, followed, when the learner's own code raised, by where in their code it came from; the test
machinery's frames are left out.
"""

import contextlib
import io
import traceback
from pathlib import Path

import numpy as np

import embeddings
import face_database
from tests import exercise_checks as checks

PASSED = "\033[92mAll tests passed.\033[0m"
MACHINERY_DIR = Path(__file__).resolve().parent


class ExerciseTestFailed(AssertionError):
    """A public test's verdict: one message. IPython shows it through ``_render_traceback_``."""

    def _render_traceback_(self):
        lines = [f"\033[91m{self}\033[0m"]
        cause = self.__cause__
        if cause is not None and cause.__traceback__ is not None:
            frames = [frame for frame in traceback.extract_tb(cause.__traceback__)
                      if not Path(frame.filename).resolve().is_relative_to(MACHINERY_DIR)]
            lines.append("Where your code raised it:")
            lines += [line.rstrip("\n") for line in traceback.format_list(frames)]
            lines += [line.rstrip("\n") for line in traceback.format_exception_only(type(cause), cause)]
        return lines


def _quietly():
    """Run the learner's function without its prints ("welcome in!") cluttering the test."""
    return contextlib.redirect_stdout(io.StringIO())


def _memoised_encoder(model):
    """The real img_to_encoding, run once per photo: every case then sees the same encoding."""
    encodings = {}

    def img_to_encoding(image_path, model=model, *arguments, **keywords):
        key = str(image_path)
        if key not in encodings:
            encodings[key] = embeddings.img_to_encoding(image_path, model, *arguments, **keywords)
        return encodings[key].copy()

    return img_to_encoding, encodings


def _test_photo():
    """The first camera photo of someone who is in the database."""
    for path, identity in face_database.read_manifest():
        if identity != face_database.UNKNOWN:
            return str(path)
    raise FileNotFoundError("The camera manifest names nobody from the database.")


def check(exercise, function, case_set, encode, model=None):
    """Run ``function`` on the case set; print the pass line or raise ExerciseTestFailed."""
    with _quietly():
        answer_list = checks.run(function, case_set.cases, encode, model, keep_exceptions=True)
    message = case_set.message([{key: value for key, value in answer.items() if key != "exception"}
                                for answer in answer_list])
    if message is None:
        print(PASSED)
        return
    crash = next((answer["exception"] for answer in answer_list if "exception" in answer), None)
    failure = ExerciseTestFailed(f"{exercise}: {message}")
    if crash is None or message == checks.NOT_WRITTEN.format(exercise=exercise):
        raise failure from None
    raise failure from crash


def triplet_loss_test(triplet_loss, hidden=False):
    """Check triplet_loss(y_true, y_pred, alpha) on the public (or, for instructors, the grader's) cases."""
    which = "grader" if hidden else "public"
    case_set = checks.CaseSet("triplet_loss", checks.cases("triplet_loss", which))
    check("triplet_loss", triplet_loss, case_set, encode=None)


def _photo_case_set(exercise, model, threshold, hidden):
    encode, encodings = _memoised_encoder(model)
    photo = _test_photo()
    encoding = encode(photo)
    which = "grader" if hidden else "public"
    return checks.CaseSet(exercise, checks.cases(exercise, which, photo, encoding, threshold), encodings), encode


def verify_test(verify, model, threshold, hidden=False):
    """Check verify(image_path, identity, database, model) -> (dist, door_open)."""
    case_set, encode = _photo_case_set("verify", model, threshold, hidden)
    check("verify", verify, case_set, encode, model)


def who_is_it_test(who_is_it, model, threshold, hidden=False):
    """Check who_is_it(image_path, database, model) -> (min_dist, identity or None)."""
    case_set, encode = _photo_case_set("who_is_it", model, threshold, hidden)
    check("who_is_it", who_is_it, case_set, encode, model)


def camera_table(who_is_it, database, model):
    """Run who_is_it on every camera photo; rows (file, expected, found, distance, correct)."""
    rows = []
    for path, expected in face_database.read_manifest():
        with _quietly():
            distance, identity = who_is_it(path, database, model)
        found = identity if identity is not None else face_database.UNKNOWN
        rows.append((path.name, expected, found, float(distance), found == expected))
    return rows


def print_camera_table(rows):
    """Print the camera table and how many photos were recognised as the manifest says."""
    print(f"{'photo':<16}{'manifest says':<16}{'who_is_it says':<16}{'distance':>9}")
    for name, expected, found, distance, correct in rows:
        print(f"{name:<16}{expected:<16}{found:<16}{distance:>9.3f}  {'ok' if correct else 'WRONG'}")
    print(f"{sum(row[-1] for row in rows)} of {len(rows)} as the manifest says.")
    return np.mean([row[-1] for row in rows])

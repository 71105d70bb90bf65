"""The tests the notebook runs after each exercise.

Each test runs the learner's function on cases from ``exercise_checks`` and raises an
AssertionError whose message names the mistake. Expected values are computed from the same
inputs at run time, so the tests hold on any machine and any photos.
"""

import contextlib
import io

import numpy as np

import face_database
import fr_utils

from tests import exercise_checks as checks

PASSED = "\033[92mAll tests passed.\033[0m"


def _quietly(function, *arguments):
    """Call the learner's function without its prints ("welcome in!") cluttering the test."""
    with contextlib.redirect_stdout(io.StringIO()):
        return function(*arguments)


def _fail(exercise, message):
    raise AssertionError(f"{exercise}: {message}")


def triplet_loss_test(triplet_loss, seed=0):
    """Check triplet_loss(y_true, y_pred, alpha) on cases where every classic mistake shows."""
    import tensorflow as tf

    for case in checks.triplet_cases(seed):
        y_pred = [tf.constant(case[part]) for part in ("anchor", "positive", "negative")]
        result = triplet_loss(None, y_pred, alpha=case["alpha"])
        problem = checks.diagnose_triplet(case, checks.plain_triplet_answer(result))
        if problem:
            _fail("triplet_loss", problem)
    print(PASSED)


def _test_photo():
    """The first camera photo of someone who is in the database."""
    for path, identity in face_database.read_manifest():
        if identity != face_database.UNKNOWN:
            return path
    raise FileNotFoundError("The camera manifest names nobody from the database.")


def verify_test(verify, model, threshold):
    """Check verify(image_path, identity, database, model) -> (dist, door_open)."""
    photo = _test_photo()
    encoding = fr_utils.img_to_encoding(photo, model)
    for case in checks.verify_cases(encoding, threshold):
        answer = checks.plain_pair_answer(_quietly(verify, photo, case["identity"], case["database"], model))
        problem = checks.diagnose_verify(encoding, case, answer, threshold)
        if problem:
            _fail("verify", problem)
    try:
        _quietly(verify, photo, "nobody-by-this-name", {"someone": encoding}, model)
    except ValueError as error:
        if "nobody-by-this-name" not in str(error):
            _fail("verify", "the ValueError for an unknown identity should name that identity.")
    else:
        _fail("verify", "an identity that is not in the database must raise a ValueError that names it.")
    print(PASSED)


def who_is_it_test(who_is_it, model, threshold):
    """Check who_is_it(image_path, database, model) -> (min_dist, identity or None)."""
    photo = _test_photo()
    encoding = fr_utils.img_to_encoding(photo, model)
    for case in checks.who_is_it_cases(encoding, threshold):
        try:
            returned = _quietly(who_is_it, photo, case["database"], model)
        except Exception as error:  # the learner's bug, reported with a hint
            answer = {"crash": f"{type(error).__name__}: {error}"}
        else:
            answer = checks.plain_pair_answer(returned)
        problem = checks.diagnose_who_is_it(encoding, case, answer, threshold)
        if problem:
            _fail("who_is_it", problem)
    print(PASSED)


def camera_table(who_is_it, database, model):
    """Run who_is_it on every camera photo; rows (file, expected, found, distance, correct)."""
    rows = []
    for path, expected in face_database.read_manifest():
        distance, identity = _quietly(who_is_it, path, database, model)
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

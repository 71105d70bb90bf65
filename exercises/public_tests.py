"""The tests the notebook runs after each exercise, and the one-line messages of the cells below.

Each test runs the learner's function on the exercise's public cases (``exercises/checks.py``)
and prints one line when every answer is right (with a teaching note where the docstring asks
for a type the values cannot show); otherwise it raises ``ExerciseTestFailed`` with the one
message the grader would give. In a notebook that exception shows as that message only, in
red, followed, when the learner's own code raised, by where in their code it came from.

Importing this module in IPython (the notebook's first cell does) also makes a cell that calls
an exercise not written yet say so in one line ("This cell calls `verify`, which is not written
yet: write it first (exercise 2) ..."), instead of a traceback through the placeholder, and a
NameError or KeyError in a later cell, while a cell above stopped that way, say why.
"""

import contextlib
import io
import math
import sys
import traceback
from pathlib import Path

import numpy as np

import embeddings
import face_database
import settings
from exercises import checks, contract

RED, GREEN, END = "\033[91m", "\033[92m", "\033[0m"
PASSED = f"{GREEN}All tests passed.{END}"
HIDDEN_NOTE = " The grader also runs hidden cases, drawn when it grades."
MACHINERY_DIR = Path(__file__).resolve().parent


class ExerciseTestFailed(AssertionError):
    """A public test's verdict: one message. IPython shows it through ``_render_traceback_``."""

    def _render_traceback_(self):
        lines = [f"{RED}{self}{END}"]
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


@contextlib.contextmanager
def _stand_in_everywhere(encode):
    """While the cases run, every img_to_encoding the learner may call (the notebook's global,
    fr_utils.img_to_encoding, embeddings.img_to_encoding) returns the cases' encodings."""
    modules = [module for module in (sys.modules.get("fr_utils"), embeddings) if module is not None]
    saved = [(module, module.img_to_encoding) for module in modules]
    for module in modules:
        module.img_to_encoding = encode
    try:
        yield
    finally:
        for module, original in saved:
            module.img_to_encoding = original


def check(exercise, function, case_set, model=None, hidden=False):
    """Run ``function`` on the case set; print the pass line or raise ExerciseTestFailed."""
    with _quietly(), _stand_in_everywhere(case_set.encode):
        answer_list = checks.run(function, case_set, model, keep_raw=True)
    plain = [{key: value for key, value in answer.items() if key not in ("raw", "exception")} for answer in answer_list]
    message = case_set.message(plain)
    if message is None:
        print(PASSED + ("" if hidden else HIDDEN_NOTE))
        for note in checks.teaching_notes(exercise, answer_list):
            print(f"Note (no points depend on it): {note}")
        return
    failure = ExerciseTestFailed(f"{exercise}: {message}")
    for index in case_set.wrong_cases(plain):
        answer = answer_list[index]
        if "exception" in answer and message == case_set.crash_text(case_set.cases[index], plain[index]):
            raise failure from answer["exception"]
    raise failure from None


def triplet_loss_test(triplet_loss, hidden=False):
    """Check triplet_loss(y_true, y_pred, alpha) on the public (or, for instructors, the grader's) cases."""
    which, seed = ("grader", _seed()) if hidden else ("public", None)
    check("triplet_loss", triplet_loss, checks.case_set("triplet_loss", which, {}, seed=seed), hidden=hidden)


def _seed():
    return int(np.random.default_rng().integers(2**31))


def _test_photo():
    """The first camera photo of someone who is in the database."""
    for path, identity in face_database.read_manifest():
        if identity != face_database.UNKNOWN:
            return str(path)
    raise FileNotFoundError("The camera manifest names nobody from the database.")


def _photo_case_set(exercise, model, threshold, hidden):
    photo = _test_photo()
    encoding = embeddings.img_to_encoding(photo, model)
    which, seed = ("grader", _seed()) if hidden else ("public", None)
    return checks.case_set(exercise, which, {photo: encoding}, threshold, seed=seed)


def verify_test(verify, model, threshold, hidden=False):
    """Check verify(image_path, identity, database, model) -> (dist, door_open)."""
    check("verify", verify, _photo_case_set("verify", model, threshold, hidden), model, hidden)


def who_is_it_test(who_is_it, model, threshold, hidden=False):
    """Check who_is_it(image_path, database, model) -> (min_dist, identity or None)."""
    check("who_is_it", who_is_it, _photo_case_set("who_is_it", model, threshold, hidden), model, hidden)


# ---------------------------------------------------------------------------------------------
# The camera table (section 5)


def camera_table(who_is_it, database, model, threshold=settings.VERIFICATION_THRESHOLD):
    """who_is_it on every camera photo, next to what the manifest says and what a right
    who_is_it returns: rows (file, expected identity, what who_is_it returned, right or not).

    "Right" means the very answer the reference gives (the same distance, and the name, or None
    for someone not in the database), so a who_is_it that answers "unknown" for a stranger, or
    the right name with a wrong distance, is shown as wrong.
    """
    rows = []
    photos = [(str(path), expected) for path, expected in face_database.read_manifest()]
    reference = checks.load(checks.catalogue.REFERENCES["who_is_it"].source, "who_is_it")
    for photo, expected in photos:
        case = {"exercise": "who_is_it", "photo": photo, "threshold": threshold}
        encode = checks.answers.stand_in_encoder({photo: embeddings.img_to_encoding(photo, model)})
        with _quietly(), _stand_in_everywhere(encode):
            want = checks.answers.call(reference, case, _copy(database), encode, model)
            got = checks.answers.call(who_is_it, case, _copy(database), encode, model)
        right = checks.is_right(case, want, got)
        rows.append((Path(photo).name, expected, checks.answer_text(got), right))
    return rows


def _copy(database):
    return {name: np.array(vector, np.float32) for name, vector in database.items()}


def print_camera_table(rows):
    """Print the camera table and how many photos who_is_it got right."""
    print(f"{'photo':<16}{'manifest says':<16}{'who_is_it returned':<34}")
    for name, expected, returned, right in rows:
        print(f"{name:<16}{expected:<16}{returned:<34}{'ok' if right else 'WRONG'}")
    print(f"{sum(row[-1] for row in rows)} of {len(rows)} right: the manifest's answer, at the distance a right who_is_it finds.")
    return float(np.mean([row[-1] for row in rows])) if rows else math.nan


# ---------------------------------------------------------------------------------------------
# One line for a cell that needs an exercise not written yet


_STOPPED = []  # exercises whose placeholder stopped a cell, the most recent last


def _is_unwritten(function):
    return contract.PLACEHOLDER_MESSAGE in getattr(getattr(function, "__code__", None), "co_consts", ())


def _raising_exercise(trace, numbers):
    """The exercise whose placeholder raised, from the traceback (None if none did)."""
    name = None
    while trace is not None:
        if trace.tb_frame.f_code.co_name in numbers and _is_unwritten(trace.tb_frame.f_globals.get(trace.tb_frame.f_code.co_name)):
            name = trace.tb_frame.f_code.co_name
        trace = trace.tb_next
    return name


def _numbered(exercise, numbers):
    return f"`{exercise}`" + (f" (exercise {numbers[exercise]})" if exercise in numbers else "")


def _show_unwritten(shell, etype, value, trace, tb_offset=None):
    """IPython's handler for NotImplementedError, NameError and KeyError (see the module)."""
    numbers = contract.exercise_numbers() or {"triplet_loss": 1, "verify": 2, "who_is_it": 3}
    lines = None
    exercise = _raising_exercise(trace, numbers) if issubclass(etype, NotImplementedError) else None
    if exercise is not None:
        if exercise in _STOPPED:
            _STOPPED.remove(exercise)
        _STOPPED.append(exercise)
        lines = [f"{RED}This cell calls `{exercise}`, which is not written yet: write {_numbered(exercise, numbers)} "
                 f"first, then run this cell again.{END}"]
    else:
        # A name or key missing after a cell stopped: most likely the last cell that stopped.
        waiting = [name for name in _STOPPED if _is_unwritten(shell.user_ns.get(name))]
        if waiting and issubclass(etype, (NameError, KeyError)):
            lines = [f"{RED}{etype.__name__}: {value}. A cell above stopped because `{waiting[-1]}` is not written "
                     f"yet: write {_numbered(waiting[-1], numbers)} first, then run the cells from there again.{END}"]
    if lines is None:
        render = getattr(value, "_render_traceback_", None)
        lines = render() if callable(render) else shell.InteractiveTB.structured_traceback(etype, value, trace,
                                                                                            tb_offset=tb_offset)
    shell._showtraceback(etype, value, lines)
    return lines


def _install():
    try:
        shell = get_ipython()  # noqa: F821 - defined in IPython only
    except NameError:
        return
    if shell is not None and hasattr(shell, "set_custom_exc") and hasattr(shell, "_showtraceback"):
        shell.set_custom_exc((NotImplementedError, NameError, KeyError), _show_unwritten)


try:
    from IPython import get_ipython
except ImportError:  # pragma: no cover - IPython comes with Jupyter
    get_ipython = None
if get_ipython is not None:
    _install()

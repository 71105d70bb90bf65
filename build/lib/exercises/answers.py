"""Calling a learner's exercise function on one case, and what came back, as plain data.

One module, used wherever an exercise function is run on a case:

- the notebook's public tests, in the learner's own kernel (``exercises/public_tests.py``);
- the grader's process, which runs the reference and the catalogue of mistakes on the grader's
  cases (``exercises/checks.py``);
- the grading sandbox, where ``grading/child.py`` runs a submission's cells.

Nothing here knows a right answer, so the sandbox may hold this file. What it produces there is
the student's process describing itself: the grader treats it as data to check, never as a
description to believe (see ``checks.is_right``).

A *case* is plain data: ``{"exercise": ..., inputs...}``; verify's and who_is_it's name a
database by its key in the case set's ``databases`` and a photo by its key in ``encodings``.
The same database object is passed to every case that names it, in order, so a function that
changes it answers later cases wrongly.

An *answer* is one of

    {"returned": value, "gradient": [dA, dP, dN] | None}     (gradient: triplet_loss only)
    {"raised": {"type": "ValueError", "bases": [...], "message": "...", "line": 7 | None}}

where ``line`` is the line of the learner's cell the exception came from, a gradient is three
flat lists of numbers (d loss / d anchor, positive, negative), and a *value* is

    None, True/False, a number (float; nan and inf allowed), a string,
    {"items": [value, ...], "length": n}      a tuple or a list (its first MAX_ITEMS items)
    {"array": [shape]}                         an array or a tensor of other than one element
    {"object": "module.Type"}                  anything else

Every kind of number the docstrings allow is a number here: Python and NumPy scalars, 0-d and
one-element arrays, one-element tensors. Which type it had is a teaching matter
(``checks.teaching_notes``), not a grading one.
"""

import numbers
import sys

import numpy as np

TEXT_LIMIT = 200  # characters kept of a returned string or a type name
MESSAGE_LIMIT = 20_000  # characters kept of an exception's message: its start and its end
MAX_ITEMS = 8
IMAGES_MARKER = "images/"  # photos are named by their path from the project's images/ folder on
_MISSING = object()


def _text(value, limit=TEXT_LIMIT):
    """str(value), cut to ``limit``; never raises (a learner's __str__ may)."""
    try:
        text = str(value)
    except BaseException:  # noqa: BLE001 - a hostile __str__ must not stop the tests
        text = "<unprintable>"
    return text[:limit] if type(text) is str else "<unprintable>"


def message_text(value):
    """An exception's message, whole when it is at most MESSAGE_LIMIT characters, else its start
    and its end (an identity named at the end of a long message is still seen)."""
    text = _text(value, limit=10 * MESSAGE_LIMIT)
    if len(text) <= MESSAGE_LIMIT:
        return text
    half = MESSAGE_LIMIT // 2
    return text[:half] + " [...] " + text[-half:]


def type_name(value):
    kind = type(value)
    return _text(f"{_text(getattr(kind, '__module__', '?'), 80)}.{_text(getattr(kind, '__qualname__', '?'), 80)}")


def _tensor_class():
    tensorflow = sys.modules.get("tensorflow")
    return getattr(tensorflow, "Tensor", None) if tensorflow is not None else None


def _one_element(array):
    """The single element of a NumPy array as a bool or a float; None if it is not one element."""
    if array.size != 1 or array.dtype.kind not in "biuf":
        return None
    item = array.reshape(-1)[0]
    return bool(item) if array.dtype.kind == "b" else float(item)


def encode(value, depth=0):
    """What a function returned, as a plain value (see the module docstring)."""
    try:
        if value is None:
            return None
        if isinstance(value, (bool, np.bool_)):
            return bool(value)
        if isinstance(value, (str, np.str_)):
            return str.__str__(value)[:TEXT_LIMIT]
        if isinstance(value, numbers.Real) or isinstance(value, np.number):
            return float(value)
        if isinstance(value, np.ndarray):
            element = _one_element(value)
            return element if element is not None else {"array": [int(size) for size in value.shape][:8]}
        tensor = _tensor_class()
        if tensor is not None and isinstance(value, tensor):
            try:
                array = np.asarray(value.numpy())
            except (AttributeError, TypeError, ValueError, NotImplementedError):  # symbolic: no value
                return {"object": type_name(value)}
            element = _one_element(array)
            return element if element is not None else {"array": [int(size) for size in array.shape][:8]}
        if isinstance(value, (tuple, list)) and depth < 2:
            # tuple.__len__, not len(): a subclass could lie about its length.
            length = tuple.__len__(value) if isinstance(value, tuple) else list.__len__(value)
            items = [tuple.__getitem__(value, index) if isinstance(value, tuple) else list.__getitem__(value, index)
                     for index in range(min(length, MAX_ITEMS))]
            return {"items": [encode(item, depth + 1) for item in items], "length": length}
    except Exception:  # noqa: BLE001 - a value that lies about itself is just "an object"
        pass
    return {"object": type_name(value)}


def stand_in_encoder(encodings, unknown=None):
    """An img_to_encoding that returns a known encoding for each photo (a copy), without a model.

    Args:
        encodings: {photo: (512,) float32 array}. A photo is looked up by its key, then (for a
            path like ../images/camera/x.jpg or /abs/images/camera/x.jpg) by its path from
            "images/" on.
        unknown: what to do with a photo not in ``encodings``: None raises FileNotFoundError;
            "stand-in" returns a fixed unit vector made from the path (a learner's own check at
            the end of a cell, in the grading sandbox, then runs).
    """

    def img_to_encoding(image_path, model=None, *unused, **also_unused):
        key = str(image_path).replace("\\", "/")
        if key not in encodings and IMAGES_MARKER in key:
            key = key[key.rindex(IMAGES_MARKER):]
        if key in encodings:
            return np.array(encodings[key], dtype=np.float32)
        if unknown != "stand-in":
            raise FileNotFoundError(f"{image_path}: not one of the photos of these cases")
        import zlib

        vector = np.random.default_rng(zlib.crc32(key.encode("utf-8", "replace"))).normal(size=512)
        return (vector / np.linalg.norm(vector)).astype(np.float32)

    return img_to_encoding


def _gradient(tape, result, inputs):
    """[d result / d input for each input] as flat lists of floats, or None when there is none at
    all (the result is not a tensor computed from the inputs by TensorFlow operations)."""
    tensor = _tensor_class()
    if tensor is None or not isinstance(result, tensor):
        return None
    try:
        gradients = tape.gradient(result, inputs)
    except Exception:  # noqa: BLE001 - a tensor TensorFlow cannot differentiate: no gradient
        return None
    if all(gradient is None for gradient in gradients):
        return None
    # An input the loss does not depend on has a gradient of zeros (TensorFlow says None).
    return [[float(number) for number in np.asarray(gradient if gradient is not None else np.zeros(np.shape(part)),
                                                    np.float64).reshape(-1)] for gradient, part in zip(gradients, inputs)]


def _raised(error, learner_file):
    """An exception as plain data, with the line of the learner's code it came from."""
    line = None
    trace = error.__traceback__
    while trace is not None:
        if trace.tb_frame.f_code.co_filename == learner_file:
            line = trace.tb_lineno
        trace = trace.tb_next
    bases = [_text(base.__name__, 80) for base in type(error).__mro__ if isinstance(base, type)][:12]
    return {"raised": {"type": bases[0] if bases else "?", "bases": bases, "message": message_text(error), "line": line}}


class Databases:
    """The database objects the cases of one run share, made from plain data on first use.

    A case names its database by ``case["database"]`` and, optionally, ``case["copy"]``: cases
    with the same name and copy get the very same dict (so a change one call makes shows in the
    next); another copy of the same data is another dict.
    """

    def __init__(self, plain):
        self.plain, self.made = plain, {}

    def __getitem__(self, case):
        key = (case["database"], case.get("copy", 0))
        made = dict.get(self.made, key)
        if made is None:
            made = {name: np.array(vector, dtype=np.float32) for name, vector in self.plain[case["database"]].items()}
            dict.__setitem__(self.made, key, made)
        return made


def materialise(databases):
    """The shared database objects of one run (a ``Databases``), from {key: {name: vector}}."""
    return Databases(databases)


def call(function, case, database, encode_photo, model=None, keep_raw=False):
    """Run ``function`` on one case; returns the answer (plain data, see the module docstring).

    Args:
        function: the learner's (or a reference or catalogue) function for ``case["exercise"]``.
        case: the case, plain data; verify and who_is_it cases carry "threshold".
        database: the database object the function gets (``Databases``'s for this case); None
            for triplet_loss.
        encode_photo: the img_to_encoding the function sees while it runs, (photo, model) ->
            (512,) array; a stand-in that returns the case set's encodings.
        model: passed through as the function's ``model`` argument.
        keep_raw: also keep the returned object under "raw" and the exception under "exception"
            (not plain data: the public tests use them for teaching notes and tracebacks).

    While the function runs, its module's globals THRESHOLD and img_to_encoding are the case's
    threshold and ``encode_photo``; they are put back afterwards. Exceptions the function raises
    are part of the answer; KeyboardInterrupt is not caught.
    """
    exercise = case["exercise"]
    namespace = getattr(function, "__globals__", None)
    learner_file = getattr(getattr(function, "__code__", None), "co_filename", None)
    saved = {}
    if isinstance(namespace, dict) and exercise != "triplet_loss":
        for name, value in (("THRESHOLD", case["threshold"]), ("img_to_encoding", encode_photo)):
            saved[name] = namespace.get(name, _MISSING)
            namespace[name] = value
    raw = gradient = None
    try:
        if exercise == "triplet_loss":
            import tensorflow as tf

            inputs = [tf.constant(np.asarray(case[part], np.float32)) for part in ("anchor", "positive", "negative")]
            with tf.GradientTape() as tape:
                tape.watch(inputs)
                raw = function(None, inputs, alpha=case["alpha"])
            gradient = _gradient(tape, raw, inputs)
            answer = {"returned": encode(raw), "gradient": gradient}
        elif exercise == "verify":
            raw = function(case["photo"], case["identity"], database, model)
            answer = {"returned": encode(raw)}
        elif exercise == "who_is_it":
            raw = function(case["photo"], database, model)
            answer = {"returned": encode(raw)}
        else:
            raise ValueError(f"unknown exercise {exercise!r}")
        if keep_raw:
            answer["raw"] = raw
    except KeyboardInterrupt:
        raise
    except BaseException as error:  # noqa: BLE001 - SystemExit too: it is the learner's
        answer = _raised(error, learner_file)
        if keep_raw:
            answer["exception"] = error
    finally:
        for name, value in saved.items():
            if value is _MISSING:
                namespace.pop(name, None)
            else:
                namespace[name] = value
    return answer


# ---------------------------------------------------------------------------------------------
# Checking data that crossed from a sandbox: bounded, on exact types


def is_value(value, depth=0):
    """True when ``value`` is what ``encode`` could have produced."""
    kind = type(value)
    if value is None or kind is bool or kind is float:
        return True
    if kind is str:
        return len(value) <= TEXT_LIMIT
    if kind is not dict:
        return False
    if set(value) == {"items", "length"}:
        items, length = value["items"], value["length"]
        return (depth < 2 and type(items) is list and len(items) <= MAX_ITEMS and type(length) is int
                and len(items) <= length < 2**62 and all(is_value(item, depth + 1) for item in items))
    if set(value) == {"array"}:
        shape = value["array"]
        return type(shape) is list and len(shape) <= 8 and all(type(size) is int and 0 <= size < 2**62 for size in shape)
    if set(value) == {"object"}:
        return type(value["object"]) is str and len(value["object"]) <= 2 * TEXT_LIMIT
    return False


def is_answer(answer, gradient_sizes=None):
    """True when ``answer`` is what ``call`` could have produced for a case whose gradient, if
    any, has these ``gradient_sizes`` (three element counts; None for verify and who_is_it)."""
    if type(answer) is not dict:
        return False
    if set(answer) == {"raised"}:
        raised = answer["raised"]
        return (type(raised) is dict and set(raised) == {"type", "bases", "message", "line"}
                and type(raised["type"]) is str and len(raised["type"]) <= TEXT_LIMIT
                and type(raised["message"]) is str and len(raised["message"]) <= MESSAGE_LIMIT + 16
                and type(raised["bases"]) is list and len(raised["bases"]) <= 12
                and all(type(base) is str and len(base) <= TEXT_LIMIT for base in raised["bases"])
                and (raised["line"] is None or (type(raised["line"]) is int and 0 < raised["line"] < 10**7)))
    if gradient_sizes is None:
        return set(answer) == {"returned"} and is_value(answer["returned"])
    if set(answer) != {"returned", "gradient"} or not is_value(answer["returned"]):
        return False
    gradient = answer["gradient"]
    if gradient is None:
        return True
    return (type(gradient) is list and len(gradient) == len(gradient_sizes)
            and all(type(part) is list and len(part) == size and all(type(number) is float for number in part)
                    for part, size in zip(gradient, gradient_sizes)))


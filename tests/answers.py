"""Calling a learner's exercise function on one case, and what came back, as plain data.

One module, used wherever a learner's function (or one of ours) is run on a case:

- the notebook's public tests, in the learner's own kernel (``tests/public_tests.py``);
- the grader's process, which runs the reference and the catalogue of mistakes on the
  grader's cases (``tests/exercise_checks.py``);
- the grading sandbox, where ``tests/grading/child.py`` runs a submission's cell.

Nothing here knows a right answer, so the sandbox may hold this file.

A *case* is plain data (lists of numbers, strings): ``{"exercise": ..., ...inputs}``.
An *answer* is plain data too, one of

    {"returned": description, "changed": bool}
    {"raised": "ValueError", "bases": ["ValueError", ...], "message": "...", "line": 7,
     "changed": bool}

where ``changed`` says whether the function modified the database it was given, ``line`` is the
line of the learner's cell where the exception came from (None if elsewhere), and a
*description* of a returned value is

    {"kind": one of KINDS, "type": "module.Name", "value": number | bool | str | None,
     "shape": [int, ...] | None, "items": [description, description] | None}

Kinds are decided on the real type (``type(x) is bool``, an instance of TensorFlow's own
``tf.Tensor``), never on a name a class could borrow.
"""

import copy
import math
import sys

import numpy as np

KINDS = ("none", "bool", "numpy_bool", "int", "float", "str", "tensor", "array", "pair", "sequence", "other")
NUMBER_KINDS = ("int", "float")
TEXT_LIMIT = 200  # characters kept of a string, an exception message or a type name
NUMPY_INTEGERS = (np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64)
NUMPY_FLOATS = (np.float16, np.float32, np.float64, np.longdouble)
_MISSING = object()


def _text(value, limit=TEXT_LIMIT):
    """str(value), cut to ``limit``; never raises (a learner's __str__ may)."""
    try:
        text = str(value)
    except BaseException:  # noqa: BLE001 - a hostile __str__ must not stop the grading
        text = "<unprintable>"
    return text[:limit]


def _type_name(value):
    kind = type(value)
    return _text(f"{_text(getattr(kind, '__module__', '?'), 80)}.{_text(getattr(kind, '__qualname__', '?'), 80)}")


def _number(value):
    """A finite or non-finite Python float from a real number, or None."""
    try:
        return float(value)
    except (TypeError, ValueError, OverflowError):
        return None


def _tensor_type():
    """TensorFlow's tensor class, if TensorFlow is imported (it is, for triplet_loss)."""
    tensorflow = sys.modules.get("tensorflow")
    return getattr(tensorflow, "Tensor", None) if tensorflow is not None else None


def describe(value, depth=0):
    """What a function returned, as a plain description (see the module docstring)."""
    kind = type(value)
    description = {"kind": "other", "type": _type_name(value), "value": None, "shape": None, "items": None}
    tensor = _tensor_type()
    if value is None:
        description["kind"] = "none"
    elif kind is bool:
        description.update(kind="bool", value=bool(value))
    elif kind is np.bool_:
        description.update(kind="numpy_bool", value=bool(value))
    elif kind is int or kind in NUMPY_INTEGERS:
        description.update(kind="int", value=_number(int(value)))
    elif kind is float or kind in NUMPY_FLOATS:
        description.update(kind="float", value=_number(value))
    elif kind is str or kind is np.str_:
        description.update(kind="str", value=str.__str__(value)[:TEXT_LIMIT])
    elif kind is tuple or kind is list:
        # tuple.__len__, not len(): a subclass could lie; only real tuples and lists get here.
        length = tuple.__len__(value) if kind is tuple else list.__len__(value)
        description.update(kind="pair" if length == 2 else "sequence", shape=[length])
        if length == 2 and depth == 0:
            description["items"] = [describe(item, depth + 1) for item in value]
    elif kind is np.ndarray:
        description.update(kind="array", shape=[int(size) for size in value.shape][:8])
        if value.size == 1 and value.dtype.kind in "biuf":
            description["value"] = _number(value.reshape(-1)[0])
    elif tensor is not None and issubclass(kind, tensor):
        description["kind"] = "tensor"
        try:
            shape = [int(size) for size in value.shape][:8]  # int(None) fails: an unknown shape
            description["shape"] = shape
            if shape == [] or math.prod(shape) == 1:
                description["value"] = _number(np.asarray(value).reshape(-1)[0])
        except (TypeError, ValueError, AttributeError, NotImplementedError):  # symbolic: no value
            pass
    return description


# What ``describe`` can produce, kind by kind: (types the value may have, shape, items).
_SHAPES = {
    "none": ((type(None),), "none", "none"), "bool": ((bool,), "none", "none"),
    "numpy_bool": ((bool,), "none", "none"), "int": ((float, type(None)), "none", "none"),
    "float": ((float, type(None)), "none", "none"), "str": ((str,), "none", "none"),
    "tensor": ((float, type(None)), "maybe", "none"), "array": ((float, type(None)), "list", "none"),
    "pair": ((type(None),), "list", "maybe"), "sequence": ((type(None),), "list", "none"),
    "other": ((type(None),), "none", "none"),
}


def is_description(description, depth=0):
    """True when ``description`` is what ``describe`` could have produced (checked field by field,
    on exact types; for data that crossed from a sandbox)."""
    if type(description) is not dict or set(description) != {"kind", "type", "value", "shape", "items"}:
        return False
    kind, value, shape, items = (description[key] for key in ("kind", "value", "shape", "items"))
    if type(kind) is not str or kind not in _SHAPES or type(description["type"]) is not str:
        return False
    value_types, shape_rule, items_rule = _SHAPES[kind]
    if type(value) not in value_types or len(description["type"]) > 2 * TEXT_LIMIT:
        return False
    if type(value) is str and len(value) > TEXT_LIMIT:
        return False
    good_shape = type(shape) is list and len(shape) <= 8 and all(type(size) is int and 0 <= size < 2**63 for size in shape)
    if (shape_rule == "none" and shape is not None) or (shape_rule == "list" and not good_shape) \
            or (shape_rule == "maybe" and shape is not None and not good_shape):
        return False
    if kind == "pair" and shape != [2]:
        return False
    if items_rule == "none" or items is None:
        return items is None and (kind != "pair" or depth == 1)
    return depth == 0 and type(items) is list and len(items) == 2 and all(is_description(item, 1) for item in items)


def is_answer(answer):
    """True when ``answer`` is what ``call`` could have produced (for data from a sandbox)."""
    if type(answer) is not dict or type(answer.get("changed")) is not bool:
        return False
    if "raised" in answer:
        line = answer.get("line")
        return (set(answer) == {"raised", "bases", "message", "line", "changed"}
                and type(answer["raised"]) is str and len(answer["raised"]) <= TEXT_LIMIT
                and type(answer["message"]) is str and len(answer["message"]) <= TEXT_LIMIT
                and type(answer["bases"]) is list and len(answer["bases"]) <= 12
                and all(type(base) is str and len(base) <= TEXT_LIMIT for base in answer["bases"])
                and (line is None or (type(line) is int and 0 < line < 10**7)))
    return set(answer) == {"returned", "changed"} and is_description(answer["returned"])


def _database_copy(database):
    return {name: np.array(vector, dtype=np.float32) for name, vector in database.items()}


def _same_database(before, after):
    if type(after) is not dict or list(before) != list(after):
        return False
    for name, vector in before.items():
        other = after[name]
        if type(other) is not np.ndarray or other.shape != vector.shape or not np.array_equal(other, vector):
            return False
    return True


def _raised(error, learner_file):
    """An exception as plain data, with the line of the learner's code it came from."""
    line = None
    trace = error.__traceback__
    while trace is not None:
        if trace.tb_frame.f_code.co_filename == learner_file:
            line = trace.tb_lineno
        trace = trace.tb_next
    bases = [_text(base.__name__, 80) for base in type(error).__mro__ if isinstance(base, type)][:12]
    return {"raised": bases[0] if bases else "?", "bases": bases, "message": _text(error), "line": line}


def arguments(case, model=None):
    """The positional and keyword arguments the exercise's function is called with for ``case``."""
    exercise = case["exercise"]
    if exercise == "triplet_loss":
        import tensorflow as tf

        y_pred = [tf.constant(np.asarray(case[part], np.float32)) for part in ("anchor", "positive", "negative")]
        return (None, y_pred), {"alpha": case["alpha"]}
    database = _database_copy(case["database"])
    if exercise == "verify":
        return (case["photo"], case["identity"], database, model), {}
    if exercise == "who_is_it":
        return (case["photo"], database, model), {}
    raise ValueError(f"unknown exercise {exercise!r}")


def call(function, case, encode, model=None, keep_exception=False):
    """Run ``function`` on one case; returns the answer (plain data, see the module docstring).

    Args:
        function: the learner's (or a reference or catalogue) function for ``case["exercise"]``.
        case: the case, plain data; verify and who_is_it cases carry "threshold".
        encode: the img_to_encoding the function sees while it runs (photo path, model) -> (512,)
            array; in the grader a stand-in that returns pre-computed encodings.
        model: passed through as the function's ``model`` argument.
        keep_exception: also keep the exception object under "exception" (not plain data; for
            the public tests, which show where a learner's exception came from).

    While the function runs, its module's globals THRESHOLD and img_to_encoding are the case's
    threshold and ``encode``; they are put back afterwards. Exceptions the function raises are
    part of the answer; KeyboardInterrupt is not caught.
    """
    positional, keywords = arguments(case, model)
    namespace = getattr(function, "__globals__", None)
    learner_file = getattr(getattr(function, "__code__", None), "co_filename", None)
    saved = {}
    if isinstance(namespace, dict) and case["exercise"] != "triplet_loss":
        for name, value in (("THRESHOLD", case["threshold"]), ("img_to_encoding", encode)):
            saved[name] = namespace.get(name, _MISSING)
            namespace[name] = value
    given = positional[2] if case["exercise"] == "verify" else positional[1] if case["exercise"] == "who_is_it" else None
    before = copy.deepcopy(given) if given is not None else None
    try:
        answer = {"returned": describe(function(*positional, **keywords))}
    except KeyboardInterrupt:
        raise
    except BaseException as error:  # noqa: BLE001 - SystemExit too: it is the learner's
        answer = _raised(error, learner_file)
        if keep_exception:
            answer["exception"] = error
    finally:
        for name, value in saved.items():
            if value is _MISSING:
                namespace.pop(name, None)
            else:
                namespace[name] = value
    answer["changed"] = given is not None and not _same_database(before, given)
    return answer


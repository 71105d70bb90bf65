"""The exercises' cases, right answers and diagnoses: one verdict and one message per exercise.

The notebook's public tests (``tests/public_tests.py``) and the grader (``tests/grading``) both
use a ``CaseSet`` from here, so a learner gets the same verdict and the same words from both.

- Cases are plain data built around a photo's encoding (``cases``). Each case set, the public
  one and the grader's, is designed against the catalogue of mistakes (``tests/catalogue.py``):
  every mistake answers differently from the reference on at least one case of each set, no two
  mistakes answer alike on all cases, and no right answer is 0 by accident. The test suite
  checks all three (``tests/test_exercise_checks.py``).
- The right answers are what the reference implementation returns (``catalogue.REFERENCES``),
  run through the same ``answers.call`` as the learner's function.
- ``CaseSet.message`` gives at most one message, the most specific that applies, in this order:
  the exercise is not written yet; the answers match a known mistake on every case (that
  mistake's hint); the learner's code raised an exception; the first wrong case has a wrong
  type, a non-finite number, or a changed database; otherwise the first wrong case with its
  input, the expected and the returned value, rounded.
"""

import math
import threading

import numpy as np

import distances
import quiet_tensorflow
from tests import answers, catalogue

# Numbers are compared with this relative tolerance (float32 arithmetic on 512-d vectors).
TOLERANCE = 1e-4
# The public cases' design assumes a threshold in this range (FaceNet L2 thresholds are about 1.1).
THRESHOLD_RANGE = (0.9, 1.4)
UNKNOWN_IDENTITY = {"public": "nobody-by-this-name", "grader": "someone-not-here"}
NOT_WRITTEN = "{exercise} is not written yet: replace the line raise NotImplementedError(...) with your code."


# ---------------------------------------------------------------------------------------------
# Cases


def _unit(vector):
    return vector / np.linalg.norm(vector)


def _triplet(rng, d, alpha, hard):
    """One (anchor, positive, negative) of unit vectors, float32, whose basic loss has the sign
    asked for ("hard": > 0, still to learn) and is at least 0.05 away from 0."""
    while True:
        anchor = _unit(rng.normal(size=d))
        positive = _unit(anchor + rng.uniform(0.2, 1.0) * _unit(rng.normal(size=d)))
        negative = _unit(anchor + rng.uniform(0.2, 1.6) * _unit(rng.normal(size=d)))
        rows = [row.astype(np.float32) for row in (anchor, positive, negative)]
        a, p, n = (row.astype(np.float64) for row in rows)
        basic = np.sum((a - p) ** 2) - np.sum((a - n) ** 2) + alpha
        if (basic > 0.05) if hard else (basic < -0.05):
            return rows


# (m triplets, d dimensions, alpha, how many triplets still violate the margin): every case has
# a loss > 0; most mix easy and hard triplets (a missing or misplaced max shows); alphas other
# than 0.2 show a hard-coded margin; m = 1 lets Python's max() run where it crashes elsewhere.
TRIPLET_LAYOUTS = {
    "public": [(4, 8, 0.2, 2), (3, 16, 0.5, 2), (1, 4, 0.3, 1), (6, 128, 0.35, 3)],
    "grader": [(5, 12, 0.25, 3), (2, 32, 0.6, 1), (1, 8, 0.15, 1), (7, 64, 0.45, 4)],
}


def triplet_cases(which):
    """The triplet_loss cases of a case set ("public" or "grader")."""
    rng = np.random.default_rng({"public": 0, "grader": 1}[which])
    cases = []
    for m, d, alpha, hard in TRIPLET_LAYOUTS[which]:
        flags = rng.permutation([True] * hard + [False] * (m - hard))
        rows = [_triplet(rng, d, alpha, flag) for flag in flags]
        cases.append({
            "exercise": "triplet_loss", "alpha": alpha,
            **{part: np.stack([row[index] for row in rows]) for index, part in enumerate(("anchor", "positive", "negative"))},
        })
    return cases


def stand_in_encoding(seed):
    """A random unit vector of 512 float32s: a photo's encoding where no model is at hand."""
    return _unit(np.random.default_rng(seed).normal(size=512)).astype(np.float32)


def point_at_distance(origin, distance, seed):
    """A float32 vector at L2 distance ``distance`` (to float32 precision) from ``origin``."""
    direction = _unit(np.random.default_rng(seed).normal(size=origin.shape))
    return (origin.astype(np.float64) + distance * direction).astype(np.float32)


def point_at_exact_distance(origin, distance):
    """A float32 vector whose L2 distance from ``origin`` is exactly ``distance``, however it is
    computed (float32 or float64, norm or square root of a sum): it differs from ``origin`` in
    one coordinate, by exactly ``distance``. ``distance`` needs few significant bits (0.875)."""
    origin = np.asarray(origin, np.float32)
    for index in np.argsort(np.abs(origin)):
        moved = np.float32(origin[index] + np.float32(distance))
        if float(moved) - float(origin[index]) == distance and np.float32(moved - origin[index]) == distance:
            point = origin.copy()
            point[index] = moved
            return point
    raise ValueError(f"no coordinate of this encoding moves by exactly {distance}")


def _people(encoding, distances, seed):
    """{name: vector} at the given L2 distances from ``encoding``; ("exact", d) is exact."""
    database = {}
    for offset, (name, distance) in enumerate(distances.items()):
        if isinstance(distance, tuple):
            database[name] = point_at_exact_distance(encoding, distance[1])
        else:
            database[name] = point_at_distance(encoding, distance, seed + offset)
    return database


def _check_threshold(threshold):
    low, high = THRESHOLD_RANGE
    if not low <= threshold <= high:
        raise ValueError(f"The exercise tests are designed for a THRESHOLD between {low} and {high}; got {threshold}.")


def verify_cases(which, photo, encoding, threshold):
    """verify's cases around one photo's encoding: (identity, threshold) against one database.

    The distances make each classic mistake decide wrongly somewhere: a comparison the wrong
    way round, <= at a distance exactly equal to a threshold, a squared distance, a threshold
    of 0.7, 1.0 or 1.11 written in the code, another person's encoding, an unknown identity.
    Some cases set their own THRESHOLD (binary fractions such as 1.125, so that a distance can
    equal it exactly); the others use ``threshold``.
    """
    _check_threshold(threshold)
    t = threshold
    # name: (L2 distance from the photo, the case's THRESHOLD); ("exact", d) is exactly d.
    if which == "public":
        people = {"ana": (0.3 * t, t), "ben": (0.82, t), "cleo": (1.115, 1.25), "dan": (1.08, 1.125),
                  "dev": (t + 0.1, t), "eli": (("exact", 0.875), 0.875), "fay": (1.6, t)}
        seed = 10
    else:
        people = {"hana": (0.45 * t, t), "ivo": (0.86, t), "jay": (1.2, 1.375), "jo": (1.13, 1.3),
                  "kit": (1.05, 1.0625), "kim": (t + 0.06, t), "lou": (("exact", 1.125), 1.125), "mia": (1.75, t)}
        seed = 20
    thresholds = {name: case_threshold for name, (_, case_threshold) in people.items()}
    people = {name: distance for name, (distance, _) in people.items()}
    database = _people(encoding, people, seed)
    cases = [{"exercise": "verify", "photo": photo, "identity": name, "database": database, "threshold": thresholds[name]}
             for name in people]
    cases.append({"exercise": "verify", "photo": photo, "identity": UNKNOWN_IDENTITY[which], "database": database,
                  "threshold": t})
    return cases


def who_is_it_cases(which, photo, encoding, threshold):
    """who_is_it's cases around one photo's encoding: one database (and threshold) per case.

    Orders and distances make each classic mistake answer wrongly somewhere: the farthest, the
    first or the last person below the threshold, skipping the first or the last entry, the
    second closest, never answering None, > instead of >= at a distance exactly equal to the
    threshold, a threshold written in the code, an empty database.
    """
    _check_threshold(threshold)
    t = threshold
    if which == "public":
        layouts = [
            (t, {"ana": 0.78 * t, "ben": 0.32 * t, "cleo": 0.55 * t, "dev": 1.5 * t}),
            (t, {"eli": 0.4 * t, "fay": 1.3 * t, "gus": 0.86 * t}),
            (t, {"hal": 1.35 * t, "ivy": 1.2 * t, "jon": 0.84}),
            (1.25, {"kai": 1.16, "lea": 1.55}),
            (1.125, {"mo": 1.05, "ned": 1.5}),
            (t, {"max": t + 0.08, "noa": 1.4 * t}),
            (0.875, {"ola": ("exact", 0.875), "pia": 1.3}),
            (t, {}),
            (t, {"quin": 0.5 * t}),
        ]
        seed = 100
    else:
        layouts = [
            (t, {"bo": 0.8 * t, "cy": 0.35 * t, "di": 0.6 * t, "ed": 1.45 * t}),
            (t, {"fe": 0.42 * t, "gi": 1.25 * t, "ha": 0.9 * t}),
            (t, {"io": 1.3 * t, "ju": 1.15 * t, "ko": 0.88}),
            (1.375, {"li": 1.3, "mo": 1.6}),
            (1.0625, {"sy": 1.04, "tu": 1.45}),
            (t, {"nu": t + 0.05, "ot": 1.5 * t}),
            (1.125, {"pa": ("exact", 1.125), "qi": 1.5}),
            (t, {}),
            (t, {"ro": 0.6 * t}),
        ]
        seed = 200
    return [{"exercise": "who_is_it", "photo": photo, "database": _people(encoding, people, seed + 10 * index),
             "threshold": case_threshold}
            for index, (case_threshold, people) in enumerate(layouts)]


def cases(exercise, which, photo=None, encoding=None, threshold=None):
    """The cases of ``exercise`` in the case set ``which`` ("public" or "grader")."""
    if exercise == "triplet_loss":
        return triplet_cases(which)
    if exercise == "verify":
        return verify_cases(which, photo, encoding, threshold)
    if exercise == "who_is_it":
        return who_is_it_cases(which, photo, encoding, threshold)
    raise ValueError(f"No checks for an exercise called {exercise!r}.")


# ---------------------------------------------------------------------------------------------
# Running an implementation on cases


def load(source, exercise):
    """The function ``exercise`` defined by a cell's ``source``, run in a fresh namespace."""
    tf = quiet_tensorflow.import_tensorflow()

    namespace = {"__name__": "exercise_cell", "np": np, "tf": tf, "THRESHOLD": None, "img_to_encoding": None}
    exec(compile(source, f"<{exercise}>", "exec"), namespace)  # noqa: S102 - our own catalogue
    return namespace[exercise]


def stand_in_encoder(encodings):
    """An img_to_encoding that returns the known encoding of each photo (a copy)."""

    def img_to_encoding(image_path, model=None, *unused, **also_unused):
        key = str(image_path)
        if key not in encodings:
            raise FileNotFoundError(f"{key}: not one of the photos of these cases")
        return np.array(encodings[key], dtype=np.float32)

    return img_to_encoding


def run(function, case_list, encode, model=None, keep_exceptions=False):
    """The answers of ``function`` to each case (``answers.call``)."""
    return [answers.call(function, case, encode, model, keep_exception=keep_exceptions) for case in case_list]


# ---------------------------------------------------------------------------------------------
# Comparing answers


def _close(value, expected):
    if type(value) is not float or math.isnan(value):
        return False
    if math.isinf(expected):
        return value == expected
    return abs(value - expected) <= TOLERANCE * max(1.0, abs(expected))


def _kind_class(kind):
    return "number" if kind in answers.NUMBER_KINDS else kind


def _same_description(first, second):
    """Two returned values alike (for matching a mistake): same kind of thing, same value."""
    if _kind_class(first["kind"]) != _kind_class(second["kind"]):
        return False
    kind = first["kind"]
    if kind == "pair":
        return all(_same_description(a, b) for a, b in zip(first["items"], second["items"]))
    if kind in ("bool", "numpy_bool", "str", "none"):
        return first["value"] == second["value"]
    if kind == "other":
        return first["type"] == second["type"]
    if first["shape"] != second["shape"]:
        return False
    a, b = first["value"], second["value"]
    if a is None or b is None:
        return a is b
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return _close(a, b)


def same_answer(first, second):
    """True when two answers are alike: both raised the same exception type, or both returned
    alike values, and both did or did not change the database."""
    if first["changed"] != second["changed"] or ("raised" in first) != ("raised" in second):
        return False
    if "raised" in first:
        return first["raised"] == second["raised"]
    return _same_description(first["returned"], second["returned"])


def is_right(case, expected, answer):
    """True when ``answer`` is a right answer to ``case`` (``expected`` is the reference's)."""
    if answer["changed"]:
        return False
    if "raised" in expected:  # verify with an unknown identity: a ValueError that names it
        return "raised" in answer and "ValueError" in answer["bases"] and case["identity"] in answer["message"]
    if "raised" in answer:
        return False
    want, got = expected["returned"], answer["returned"]
    if case["exercise"] == "triplet_loss":
        return got["kind"] == "tensor" and got["shape"] == [] and _close(got["value"], want["value"])
    if got["kind"] != "pair":
        return False
    (want_distance, want_decision), (got_distance, got_decision) = want["items"], got["items"]
    if got_distance["kind"] not in answers.NUMBER_KINDS or not _close(got_distance["value"], want_distance["value"]):
        return False
    if case["exercise"] == "verify":
        return got_decision["kind"] == "bool" and got_decision["value"] == want_decision["value"]
    if want_decision["kind"] == "none":
        return got_decision["kind"] == "none"
    return got_decision["kind"] == "str" and got_decision["value"] == want_decision["value"]


# ---------------------------------------------------------------------------------------------
# Words


def _number_text(value):
    return "nan" if value is None or math.isnan(value) else "inf" if math.isinf(value) else f"{value:.4f}"


def value_text(description):
    """A returned value in a few words, numbers rounded to 4 decimals."""
    kind = description["kind"]
    if kind == "pair":
        if not description["items"]:
            return "a pair of values"
        return f"({value_text(description['items'][0])}, {value_text(description['items'][1])})"
    if kind in answers.NUMBER_KINDS:
        return _number_text(description["value"])
    if kind in ("bool", "none"):
        return str(description["value"])
    if kind == "numpy_bool":
        return f"numpy.bool_({description['value']})"
    if kind == "str":
        return repr(description["value"])
    if kind == "tensor":
        if description["shape"] is None:
            return "a tensor of unknown shape"
        shape = tuple(description["shape"])
        return f"tf.Tensor({_number_text(description['value'])})" if shape == () else f"a tensor of shape {shape}"
    if kind == "array":
        return f"an array of shape {tuple(description['shape'] or ())}"
    if kind == "sequence":
        return f"a sequence of {(description['shape'] or ['?'])[0]} values"
    return f"a {description['type']}"


def answer_text(answer):
    if "raised" in answer:
        return f"raised {answer['raised']}"
    return value_text(answer["returned"])


def case_text(case, encodings):
    """A case in words, for messages: the input the learner's function got."""
    if case["exercise"] == "triplet_loss":
        m, d = np.shape(case["anchor"])
        return f"m={m} triplets of {d}-d embeddings with alpha={case['alpha']}"
    between = {name: float(distances.l2_distance(encodings[case["photo"]], vector))
                 for name, vector in case["database"].items()}
    if case["exercise"] == "verify":
        if case["identity"] not in between:
            return f"identity {case['identity']!r}, who is not in the database"
        return (f"identity {case['identity']!r} at L2 distance {between[case['identity']]:.4f} from the photo, "
                f"THRESHOLD = {case['threshold']}")
    if not between:
        return f"an empty database, THRESHOLD = {case['threshold']}"
    if len(between) > 6:
        closest = min(between, key=between.get)
        return (f"a database of {len(between)} people, the closest {closest!r} at L2 distance "
                f"{between[closest]:.4f}, THRESHOLD = {case['threshold']}")
    listed = ", ".join(f"{name} {distance:.4f}" for name, distance in between.items())
    return f"a database of {len(between)} people at L2 between {listed} from the photo, THRESHOLD = {case['threshold']}"


def _type_problem(case, expected, answer, words):
    """A message for a returned value of the wrong type or shape, a non-finite number or a
    changed database; None when the answer has none of these problems."""
    exercise = case["exercise"]
    if answer["changed"]:
        return f"{exercise} changed the database it was given; it must only read it."
    got = answer["returned"]
    if exercise == "triplet_loss":
        if got["kind"] != "tensor":
            if got["value"] is not None and _close(got["value"], expected["returned"]["value"]):
                return (f"The value is right but the type is {got['type']}: return a TensorFlow tensor (tf "
                        "operations only, no .numpy() or np.*), so that Keras can train with it.")
            return f"triplet_loss must return a TensorFlow tensor, got {value_text(got)} ({got['type']})."
        if got["shape"] != []:
            return (f"triplet_loss must return one number for the batch (a tensor of shape ()), got "
                    f"{value_text(got)}: add the losses up with tf.reduce_sum.")
        if got["value"] is not None and not math.isfinite(got["value"]):
            return f"triplet_loss returned {_number_text(got['value'])} for {words}: check for a division or a log of 0."
        return None
    names = ("dist", "door_open") if exercise == "verify" else ("min_dist", "identity")
    if got["kind"] != "pair":
        return f"{exercise} must return a pair ({names[0]}, {names[1]}); it returned {value_text(got)}."
    distance, decision = got["items"]
    if distance["kind"] == "tensor":
        return f"{names[0]} must be a Python float, but it is a TensorFlow tensor: convert it with float(...)."
    if distance["kind"] == "array":
        return (f"{names[0]} must be a single number (a float), not {value_text(distance)}: "
                "convert it with float(...).")
    if distance["kind"] not in answers.NUMBER_KINDS:
        return f"{names[0]} must be a number (a float), got {value_text(distance)}."
    want = expected["returned"]["items"][0]["value"]
    if distance["value"] is not None and not math.isfinite(distance["value"]) and not (
            math.isinf(want) and distance["value"] == want):
        return f"{names[0]} is {_number_text(distance['value'])} for {words}; expected {_number_text(want)}."
    if exercise == "verify" and decision["kind"] != "bool":
        if decision["kind"] == "numpy_bool":
            return ("door_open must be a Python bool (True/False), not numpy.bool_: comparisons of NumPy numbers "
                    "give numpy.bool_; wrap the comparison in bool(...).")
        return f"door_open must be True or False (a Python bool), got {value_text(decision)}."
    if exercise == "who_is_it" and decision["kind"] not in ("str", "none"):
        return f"identity must be a name (a str) or None, got {value_text(decision)}."
    return None


# ---------------------------------------------------------------------------------------------
# A case set: its cases, the right answers, and the diagnosis


class CaseSet:
    """The cases of one exercise, with the reference's answers, and the diagnosis of answers.

    Args:
        exercise: "triplet_loss", "verify" or "who_is_it".
        case_list: plain cases (``cases``).
        encodings: {photo: (512,) encoding} for the photos the cases name (what
            img_to_encoding returns for them); {} for triplet_loss.
    """

    def __init__(self, exercise, case_list, encodings=None):
        self.exercise = exercise
        self.cases = case_list
        self.encodings = encodings or {}
        self.encode = stand_in_encoder(self.encodings)
        reference = load(catalogue.REFERENCES[exercise].source, exercise)
        self.expected = run(reference, case_list, self.encode)
        self._mistakes = {}
        self._lock = threading.Lock()

    def mistake_answers(self, entry):
        """The answers of one catalogue mistake to these cases (computed once)."""
        with self._lock:
            if entry.name not in self._mistakes:
                self._mistakes[entry.name] = run(load(entry.source, self.exercise), self.cases, self.encode)
            return self._mistakes[entry.name]

    def prepare(self):
        """Compute every catalogue mistake's answers now (before threads share this set)."""
        for entry in catalogue.mistakes(self.exercise):
            self.mistake_answers(entry)
        return self

    def wrong_cases(self, answer_list):
        """Indices of the cases answered wrongly."""
        return [index for index, (case, expected, answer) in enumerate(zip(self.cases, self.expected, answer_list))
                if not is_right(case, expected, answer)]

    def matching_mistake(self, answer_list):
        """The first catalogue mistake whose answers are like ``answer_list`` on every case, or None."""
        for entry in catalogue.mistakes(self.exercise):
            if all(same_answer(a, b) for a, b in zip(answer_list, self.mistake_answers(entry))):
                return entry
        return None

    def message(self, answer_list):
        """None if every answer is right, else the one most specific message (see the module)."""
        if any(answer.get("raised") == "NotImplementedError" for answer in answer_list):
            return NOT_WRITTEN.format(exercise=self.exercise)
        wrong = self.wrong_cases(answer_list)
        if not wrong:
            return None
        entry = self.matching_mistake(answer_list)
        if entry is not None:
            return entry.hint
        for index in wrong:
            case, answer = self.cases[index], answer_list[index]
            if "raised" in answer and "raised" not in self.expected[index]:
                return self.crash_text(case, answer)
        index = wrong[0]
        case, expected, answer = self.cases[index], self.expected[index], answer_list[index]
        if "raised" in expected:
            return (f"For an identity that is not in the database ({case['identity']!r}), verify must raise a "
                    f"ValueError that names it (the cell's first two lines); it {answer_text(answer)}"
                    + (f": {answer['message']}" if "raised" in answer else "") + ".")
        problem = _type_problem(case, expected, answer, case_text(case, self.encodings))
        if problem:
            return problem
        return (f"For {case_text(case, self.encodings)}: expected {answer_text(expected)}, "
                f"{self.exercise} returned {answer_text(answer)}.")

    def crash_text(self, case, answer):
        where = f" (line {answer['line']} of your cell)" if answer.get("line") else ""
        if answer["raised"] == "MemoryError":
            return f"{self.exercise} ran out of memory{where} for {case_text(case, self.encodings)}."
        return (f"{self.exercise} raised {answer['raised']}: {answer['message']}{where} "
                f"for {case_text(case, self.encodings)}.")


def catalogue_problems(case_set):
    """How a case set falls short of its design, as lines (none when it is sound): a mistake
    right on every case, two mistakes answering alike on every case, a mistake that does not
    get its own hint."""
    problems, seen = [], {}
    for entry in catalogue.mistakes(case_set.exercise):
        answer_list = case_set.mistake_answers(entry)
        if not case_set.wrong_cases(answer_list):
            problems.append(f"{entry.name}: right on every case")
        for other, other_answers in seen.items():
            if all(same_answer(a, b) for a, b in zip(answer_list, other_answers)):
                problems.append(f"{entry.name}: answers like {other} on every case")
        seen[entry.name] = answer_list
        message = case_set.message(answer_list)
        if message != entry.hint:
            problems.append(f"{entry.name}: gets {message!r} instead of its hint")
    return problems

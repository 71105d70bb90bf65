"""The exercises' cases, right answers and diagnoses: one verdict and one message per exercise.

The notebook's public tests (``exercises/public_tests.py``) and the grader (``grading/``) both
use a ``CaseSet`` from here, so a learner gets the same verdict and the same words from both.

- **Cases** are plain data built around a photo's encoding (``case_set``). The public set is the
  same every time; the grader's is drawn at grading time from a seed (names, directions, and
  distances within a few thousandths of their design), so its answers cannot be known before.
  Each set is designed against the catalogue of mistakes (``exercises/catalogue.py``): every
  mistake answers differently from the reference on at least one case, no two mistakes answer
  alike on all cases, and no right answer is 0 by accident (``tests/test_exercise_checks.py``
  checks all three over many seeds).
- **Check-backs**: after the designed cases, the same questions are asked again with the same
  database objects (and, for who_is_it, a photo next to each person), so a function that
  changes the database it is given answers them wrongly: the change is seen in the values.
- **Right answers** are the reference implementation's (``catalogue.REFERENCES``), run through
  the same ``answers.call``. An answer is right when its values are: numbers within TOLERANCE,
  the decision, the name, and for the triplet loss its gradient with respect to the anchors,
  positives and negatives (a NumPy loss in any wrapper has none, and Keras could not train it).
- **One message** (``CaseSet.message``), the most specific that applies, in this order: the
  exercise is not written yet; the answers match a known mistake on every case (its hint); the
  learner's code raised an exception; the first wrong case has a wrong kind of value, no
  gradient, or a non-finite number; only the check-backs are wrong (the database was changed);
  otherwise the first wrong case, with its input and the expected and returned values, rounded.
- **Teaching notes** (``teaching_notes``): what the docstrings ask that values cannot show (a
  Python bool rather than numpy.bool_, a float rather than a tensor). The public tests print
  them beside "All tests passed."; no points depend on them, so the grader does not look.
"""

import math
import threading

import numpy as np

from exercises import answers, catalogue

# Numbers are compared with this relative tolerance (float32 arithmetic on 512-d vectors).
TOLERANCE = 1e-4
# The cases' design assumes a threshold in this range (FaceNet L2 thresholds are about 1.1).
THRESHOLD_RANGE = (0.9, 1.4)
# The grader's distances are drawn within this much (L2) of their design.
JITTER = 0.002
NOT_WRITTEN = "{exercise} is not written yet: replace the line raise NotImplementedError(...) with your code."
PROBE_DISTANCE = 0.25  # who_is_it's check-back photos lie this far from a person of the database
NAMES = ("ada", "bao", "cai", "dov", "eve", "fen", "gil", "hui", "ian", "jun", "kai", "lia", "mei", "nia", "oto",
         "pau", "qin", "rui", "sol", "tea", "uma", "vic", "wen", "xia", "yan", "zoe")


# ---------------------------------------------------------------------------------------------
# Vectors


def _unit(vector):
    return vector / np.linalg.norm(vector)


def stand_in_encoding(seed):
    """A random unit vector of 512 float32s: a photo's encoding where no model is at hand."""
    return _unit(np.random.default_rng(seed).normal(size=512)).astype(np.float32)


def point_at_distance(origin, distance, rng):
    """A float32 vector at L2 distance ``distance`` (to float32 precision) from ``origin``."""
    direction = _unit(rng.normal(size=np.shape(origin)))
    return (np.asarray(origin, np.float64) + distance * direction).astype(np.float32)


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


# ---------------------------------------------------------------------------------------------
# Cases


class _Draw:
    """The random choices of one case set: names, directions, jitter. ``rng`` None: the public
    set, always the same (names as designed, no jitter, directions from fixed seeds)."""

    def __init__(self, rng, fixed_seed):
        self.rng = rng or np.random.default_rng(fixed_seed)
        self.random = rng is not None
        self._names = [str(name) for name in self.rng.permutation(NAMES)] if self.random else []

    def name(self, designed):
        return self._names.pop() if self.random and self._names else designed

    def distance(self, designed):
        if isinstance(designed, tuple) or not self.random:
            return designed
        return designed + float(self.rng.uniform(-JITTER, JITTER))


def _people(encoding, distances, draw):
    """{name: vector} at the given L2 distances from ``encoding``; ("exact", d) is exact."""
    database = {}
    for name, distance in distances.items():
        distance = draw.distance(distance)
        database[draw.name(name)] = (point_at_exact_distance(encoding, distance[1]) if isinstance(distance, tuple)
                                     else point_at_distance(encoding, distance, draw.rng))
    return database


def _check_threshold(threshold):
    low, high = THRESHOLD_RANGE
    if not low <= threshold <= high:
        raise ValueError(f"The exercise tests are designed for a THRESHOLD between {low} and {high}; got {threshold}.")


TRIPLET_LAYOUTS = {
    # (m triplets, d dimensions, alpha, how many triplets still violate the margin, the sign of the
    # sum of their basic losses): every case has a loss > 0; most mix easy and hard triplets (a
    # missing max shows), one with a negative sum (a max taken after the sum shows as 0) and one
    # with a positive sum (the easy triplets' negative losses would lower it); alphas other than
    # 0.2 show a hard-coded margin; m = 1 lets Python's max() run where it crashes elsewhere.
    "public": [(4, 8, 0.2, 2, -1), (3, 16, 0.5, 2, 1), (1, 4, 0.3, 1, 1), (6, 128, 0.35, 3, 0)],
    "grader": [(5, 12, 0.25, 3, 1), (2, 32, 0.6, 1, -1), (1, 8, 0.15, 1, 1), (7, 64, 0.45, 4, 0)],
}


def _triplet(rng, d, alpha, hard):
    """One (anchor, positive, negative) of unit vectors, float32, whose basic loss has the sign
    asked for ("hard": > 0, still to learn) and is at least 0.05 away from 0; and that loss."""
    while True:
        anchor = _unit(rng.normal(size=d))
        positive = _unit(anchor + rng.uniform(0.2, 1.0) * _unit(rng.normal(size=d)))
        negative = _unit(anchor + rng.uniform(0.2, 1.6) * _unit(rng.normal(size=d)))
        rows = [row.astype(np.float32) for row in (anchor, positive, negative)]
        a, p, n = (row.astype(np.float64) for row in rows)
        basic = np.sum((a - p) ** 2) - np.sum((a - n) ** 2) + alpha
        if (basic > 0.05) if hard else (basic < -0.05):
            return rows, basic


def triplet_cases(which, rng=None):
    """triplet_loss's cases: ``which`` is "public" or "grader"; ``rng`` draws the grader's."""
    rng = rng or np.random.default_rng({"public": 0, "grader": 1}[which])
    cases = []
    for m, d, alpha, hard, sign in TRIPLET_LAYOUTS[which]:
        while True:
            flags = rng.permutation([True] * hard + [False] * (m - hard))
            drawn = [_triplet(rng, d, alpha, flag) for flag in flags]
            total = sum(basic for _, basic in drawn)
            if sign == 0 or total * sign > 0.05:
                break
        rows = [row for row, _ in drawn]
        cases.append({"exercise": "triplet_loss", "alpha": alpha, "kind": "designed",
                      **{part: np.stack([row[index] for row in rows]).tolist()
                         for index, part in enumerate(("anchor", "positive", "negative"))}})
    return cases


VERIFY_LAYOUTS = {
    # name: (L2 distance from the photo, the case's THRESHOLD); ("exact", d) is exactly d; "t" is
    # the threshold the set is made for. The distances make each classic mistake decide wrongly
    # somewhere: a comparison the wrong way round, <= at a distance exactly equal to a threshold,
    # a squared distance, a threshold of 0.7, 1.0 or 1.11 written in the code, another person's
    # encoding. Some cases set their own THRESHOLD (binary fractions such as 1.125, so that a
    # distance can equal it exactly).
    "public": {"ana": ("0.3t", "t"), "ben": (0.82, "t"), "cleo": (1.115, 1.25), "dan": (1.08, 1.125),
               "dev": ("t+0.1", "t"), "eli": (("exact", 0.875), 0.875), "fay": (1.6, "t")},
    "grader": {"hana": ("0.45t", "t"), "ivo": (0.86, "t"), "jay": (1.2, 1.375), "jo": (1.13, 1.3),
               "kit": (1.05, 1.0625), "kim": ("t+0.06", "t"), "lou": (("exact", 1.125), 1.125), "mia": (1.75, "t")},
}
UNKNOWN_IDENTITY = {"public": "nobody-by-this-name", "grader": "someone-not-here"}


def _value(spec, t):
    """A layout's number: a float, "t", "0.3t" or "t+0.1"."""
    if not isinstance(spec, str):
        return spec
    if spec == "t":
        return t
    if spec.endswith("t"):
        return float(spec[:-1]) * t
    return t + float(spec[2:])


def verify_cases(which, photo, encoding, threshold, draw, tag):
    """verify's cases around one photo's encoding: (cases, {database key: database})."""
    _check_threshold(threshold)
    layout = VERIFY_LAYOUTS[which]
    distances = {name: (spec[0] if isinstance(spec[0], tuple) else _value(spec[0], threshold))
                 for name, spec in layout.items()}
    thresholds = {name: _value(spec[1], threshold) for name, spec in layout.items()}
    database = _people(encoding, distances, draw)
    key = f"{tag}-verify"
    cases = [{"exercise": "verify", "photo": photo, "identity": name, "database": key,
              "threshold": thresholds[designed], "kind": "designed"}
             for name, designed in zip(database, layout)]
    unknown = UNKNOWN_IDENTITY[which] if not draw.random else f"someone-{int(draw.rng.integers(100, 1000))}"
    cases.append({"exercise": "verify", "photo": photo, "identity": unknown, "database": key, "threshold": threshold,
                  "kind": "designed"})
    return cases, {key: database}


WHO_IS_IT_LAYOUTS = {
    # (THRESHOLD, {name: distance}): orders and distances make each classic mistake answer
    # wrongly somewhere: the farthest, the first or the last person below the threshold,
    # skipping the first or the last entry, the second closest, never answering None, > instead
    # of >= at a distance exactly equal to the threshold, a threshold written in the code, an
    # empty database.
    "public": [
        ("t", {"ana": "0.78t", "ben": "0.32t", "cleo": "0.55t", "dev": "1.5t"}),
        ("t", {"eli": "0.4t", "fay": "1.3t", "gus": "0.86t"}),
        ("t", {"hal": "1.35t", "ivy": "1.2t", "jon": 0.84}),
        (1.25, {"kai": 1.16, "lea": 1.55}),
        (1.125, {"mo": 1.05, "ned": 1.5}),
        ("t", {"max": "t+0.08", "noa": "1.4t"}),
        (0.875, {"ola": ("exact", 0.875), "pia": 1.3}),
        ("t", {}),
        ("t", {"quin": "0.5t"}),
    ],
    "grader": [
        ("t", {"bo": "0.8t", "cy": "0.35t", "di": "0.6t", "ed": "1.45t"}),
        ("t", {"fe": "0.42t", "gi": "1.25t", "ha": "0.9t"}),
        ("t", {"io": "1.3t", "ju": "1.15t", "ko": 0.88}),
        (1.375, {"li": 1.3, "mo": 1.6}),
        (1.0625, {"sy": 1.04, "tu": 1.45}),
        ("t", {"nu": "t+0.05", "ot": "1.5t"}),
        (1.125, {"pa": ("exact", 1.125), "qi": 1.5}),
        ("t", {}),
        ("t", {"ro": "0.6t"}),
    ],
}


def who_is_it_cases(which, photo, encoding, threshold, draw, tag):
    """who_is_it's cases around one photo's encoding, one database per case: (cases, databases)."""
    _check_threshold(threshold)
    cases, databases = [], {}
    for index, (case_threshold, layout) in enumerate(WHO_IS_IT_LAYOUTS[which]):
        distances = {name: (spec if isinstance(spec, tuple) else _value(spec, threshold)) for name, spec in layout.items()}
        key = f"{tag}-who_is_it-{index}"
        databases[key] = _people(encoding, distances, draw)
        cases.append({"exercise": "who_is_it", "photo": photo, "database": key,
                      "threshold": _value(case_threshold, threshold), "kind": "designed"})
    return cases, databases


def _probe_photos(databases, cases, draw):
    """For who_is_it's check-backs: a photo PROBE_DISTANCE from each person of each designed
    database, nearer to that person than to anyone else by at least 0.1. Returns
    ({photo: encoding}, [check-back cases])."""
    encodings, probes = {}, []
    thresholds = {case["database"]: case["threshold"] for case in cases}
    for key, database in databases.items():
        for name, vector in database.items():
            others = [other for other_name, other in database.items() if other_name != name]
            for _ in range(100):
                probe = point_at_distance(vector, PROBE_DISTANCE, draw.rng)
                if all(np.linalg.norm(probe - other) > PROBE_DISTANCE + 0.1 for other in others):
                    break
            else:
                raise ValueError(f"no check-back photo near {name} in {key}")
            photo = f"images/probes/{key}-{name}.jpg"
            encodings[photo] = probe
            probes.append({"exercise": "who_is_it", "photo": photo, "database": key, "threshold": thresholds[key],
                           "kind": "check_back"})
    return encodings, probes


def case_set(exercise, which, photos, threshold=None, seed=None, extra=None):
    """The cases of ``exercise`` around some photos, with check-backs, as a CaseSet.

    Args:
        exercise: "triplet_loss", "verify" or "who_is_it".
        which: "public" (always the same) or "grader" (drawn from ``seed``).
        photos: {photo: (512,) encoding}: the cases are built around each of them (verify and
            who_is_it); {} for triplet_loss.
        threshold: the THRESHOLD the set is made for (verify, who_is_it).
        seed: the grader's draw (an int); None for the public set.
        extra: (cases, databases, encodings) asked as they are, before the check-backs (the
            grader's camera photos against the notebook's database).
    """
    rng = np.random.default_rng(seed) if which == "grader" and seed is not None else None
    if exercise == "triplet_loss":
        return CaseSet(exercise, triplet_cases(which, rng), {}, {})
    if exercise not in ("verify", "who_is_it"):
        raise ValueError(f"No checks for an exercise called {exercise!r}.")
    build = verify_cases if exercise == "verify" else who_is_it_cases
    cases, databases, encodings = [], {}, {photo: np.asarray(vector, np.float32) for photo, vector in photos.items()}
    for index, (photo, encoding) in enumerate(photos.items()):
        draw = _Draw(rng, fixed_seed=(10 if exercise == "verify" else 100) + 1000 * index)
        more_cases, more_databases = build(which, photo, encodings[photo], threshold, draw, f"{which}{index}")
        cases += more_cases
        databases.update(more_databases)
    if rng is not None:
        cases = [cases[index] for index in rng.permutation(len(cases))]
    designed_databases = dict(databases)
    if extra is not None:
        cases += extra[0]
        databases.update(extra[1])
        encodings.update({photo: np.asarray(vector, np.float32) for photo, vector in extra[2].items()})
    # Check-backs: every question about a known person asked again, in another order...
    again = [dict(case, kind="check_back") for case in cases
             if case["exercise"] == "who_is_it" or case["identity"] in databases[case["database"]]]
    draw = _Draw(rng, fixed_seed=7)
    cases += [again[index] for index in draw.rng.permutation(len(again))]
    # ...and, for who_is_it, a photo next to each person of the designed databases.
    if exercise == "who_is_it":
        probe_encodings, probes = _probe_photos(designed_databases, cases, draw)
        encodings.update(probe_encodings)
        cases += probes
    return CaseSet(exercise, cases, databases, encodings)


# ---------------------------------------------------------------------------------------------
# Running an implementation on cases


def load(source, exercise):
    """The function ``exercise`` defined by a cell's ``source``, run in a fresh namespace."""
    from quiet_tensorflow import import_tensorflow

    namespace = {"__name__": "exercise_cell", "np": np, "tf": import_tensorflow(), "THRESHOLD": None,
                 "img_to_encoding": None}
    exec(compile(source, f"<{exercise}>", "exec"), namespace)  # noqa: S102 - our own catalogue
    return namespace[exercise]


def run(function, case_set, model=None, keep_raw=False):
    """The answers of ``function`` to each case of ``case_set``, in order, sharing databases."""
    databases = answers.materialise(case_set.databases)
    return [answers.call(function, case, databases[case] if "database" in case else None, case_set.encode, model,
                         keep_raw=keep_raw) for case in case_set.cases]


# ---------------------------------------------------------------------------------------------
# Comparing answers


def _close(value, expected):
    if type(value) is not float or math.isnan(value):
        return False
    if math.isinf(expected):
        return value == expected
    return abs(value - expected) <= TOLERANCE * max(1.0, abs(expected))


def _is_number(value):
    return type(value) is float


def _is_pair(value):
    return type(value) is dict and "items" in value and value["length"] == 2


def _same_value(first, second):
    """Two returned values alike (for matching a mistake)."""
    if _is_number(first) and _is_number(second):
        if math.isnan(first) or math.isnan(second):
            return math.isnan(first) and math.isnan(second)
        return _close(first, second)
    if type(first) is dict and type(second) is dict and "items" in first and "items" in second:
        return first["length"] == second["length"] and len(first["items"]) == len(second["items"]) and all(
            _same_value(a, b) for a, b in zip(first["items"], second["items"]))
    return type(first) is type(second) and first == second


def _same_gradient(first, second):
    if first is None or second is None:
        return first is second
    return len(first) == len(second) and all(
        len(a) == len(b) and all(_close(x, y) for x, y in zip(a, b)) for a, b in zip(first, second))


def same_answer(first, second):
    """True when two answers are alike: both raised the same exception type, or both returned
    alike values (and, for the triplet loss, alike gradients)."""
    if ("raised" in first) != ("raised" in second):
        return False
    if "raised" in first:
        return first["raised"]["type"] == second["raised"]["type"]
    return _same_value(first["returned"], second["returned"]) and _same_gradient(first.get("gradient"),
                                                                                 second.get("gradient"))


def is_right(case, expected, answer):
    """True when ``answer`` is a right answer to ``case`` (``expected`` is the reference's)."""
    if "raised" in expected:  # verify with an unknown identity: a ValueError that names it
        raised = answer.get("raised")
        return raised is not None and "ValueError" in raised["bases"] and case["identity"] in raised["message"]
    if "raised" in answer:
        return False
    want, got = expected["returned"], answer["returned"]
    if case["exercise"] == "triplet_loss":
        return _is_number(got) and _close(got, want) and answer["gradient"] is not None and _same_gradient(
            answer["gradient"], expected["gradient"])
    if not _is_pair(got) or len(got["items"]) != 2:
        return False
    (want_distance, want_decision), (got_distance, got_decision) = want["items"], got["items"]
    if not _is_number(got_distance) or not _close(got_distance, want_distance):
        return False
    return type(got_decision) is type(want_decision) and got_decision == want_decision


# ---------------------------------------------------------------------------------------------
# Words


def _number_text(value):
    return "nan" if math.isnan(value) else "inf" if math.isinf(value) else f"{value:.4f}"


def value_text(value):
    """A returned value in a few words, numbers rounded to 4 decimals."""
    if value is None or type(value) is bool:
        return str(value)
    if type(value) is float:
        return _number_text(value)
    if type(value) is str:
        return repr(value)
    if "items" in value:
        if value["length"] == 2 and len(value["items"]) == 2:
            return f"({value_text(value['items'][0])}, {value_text(value['items'][1])})"
        return f"a sequence of {value['length']} values"
    if "array" in value:
        return f"an array or tensor of shape {tuple(value['array'])}"
    return f"a {value['object']}"


def answer_text(answer):
    if "raised" in answer:
        return f"raised {answer['raised']['type']}"
    return value_text(answer["returned"])


def _short(text, limit=300):
    return text if len(text) <= limit else text[: limit - 5] + " ..."


# ---------------------------------------------------------------------------------------------
# A case set: its cases, the right answers, and the diagnosis


class CaseSet:
    """The cases of one exercise, with the reference's answers, and the diagnosis of answers.

    Args:
        exercise: "triplet_loss", "verify" or "who_is_it".
        cases: plain cases (see ``case_set``).
        databases: {key: {name: (512,) vector}}: the databases the cases name.
        encodings: {photo: (512,) encoding} for the photos the cases name (what img_to_encoding
            returns for them).
    """

    def __init__(self, exercise, cases, databases, encodings):
        self.exercise = exercise
        self.cases = cases
        self.databases = databases
        self.encodings = encodings
        self.encode = answers.stand_in_encoder(encodings)
        reference = load(catalogue.REFERENCES[exercise].source, exercise)
        self.expected = run(reference, self)
        self._mistakes = {}
        self._lock = threading.Lock()

    def gradient_sizes(self, case):
        """The element counts of the triplet loss's gradient for ``case`` (None otherwise)."""
        if self.exercise != "triplet_loss":
            return None
        size = int(np.size(case["anchor"]))
        return [size, size, size]

    def mistake_answers(self, entry):
        """The answers of one catalogue mistake to these cases (computed once)."""
        with self._lock:
            if entry.name not in self._mistakes:
                self._mistakes[entry.name] = run(load(entry.source, self.exercise), self)
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
        if any("raised" in answer and answer["raised"]["type"] == "NotImplementedError" for answer in answer_list):
            return NOT_WRITTEN.format(exercise=self.exercise)
        wrong = self.wrong_cases(answer_list)
        if not wrong:
            return None
        entry = self.matching_mistake(answer_list)
        if entry is not None:
            return entry.hint
        for index in wrong:
            if "raised" in answer_list[index] and "raised" not in self.expected[index]:
                return self.crash_text(self.cases[index], answer_list[index])
        index = wrong[0]
        case, expected, answer = self.cases[index], self.expected[index], answer_list[index]
        if "raised" in expected:
            raised = answer.get("raised")
            return (f"For an identity that is not in the database ({case['identity']!r}), verify must raise a "
                    f"ValueError that names it (the cell's first two lines); it {answer_text(answer)}"
                    + (f": {_short(raised['message'], 200)}" if raised else "") + ".")
        problem = self._kind_problem(case, expected, answer)
        if problem:
            return problem
        if all(self.cases[index]["kind"] == "check_back" for index in wrong):
            return (f"{self.exercise} changed the database it was given: asked again at the end, for "
                    f"{self.case_text(case)}, it answered {answer_text(answer)} instead of {answer_text(expected)}. "
                    "It must only read the database.")
        return f"For {self.case_text(case)}: expected {answer_text(expected)}, {self.exercise} returned {answer_text(answer)}."

    def crash_text(self, case, answer):
        raised = answer["raised"]
        where = f" (line {raised['line']} of your cell)" if raised["line"] else ""
        if raised["type"] == "MemoryError":
            return f"{self.exercise} ran out of memory{where} for {self.case_text(case)}."
        return (f"{self.exercise} raised {raised['type']}: {_short(raised['message'])}{where} "
                f"for {self.case_text(case)}.")

    def _kind_problem(self, case, expected, answer):
        """A message for a value of the wrong kind, a missing gradient or a non-finite number;
        None when the answer has none of these problems."""
        got, want = answer["returned"], expected["returned"]
        words = self.case_text(case)
        if self.exercise == "triplet_loss":
            if type(got) is dict and "array" in got:
                return (f"triplet_loss must return one number for the batch (a tensor of shape ()), got "
                        f"{value_text(got)}: add the losses up with tf.reduce_sum.")
            if not _is_number(got):
                return f"triplet_loss must return a TensorFlow tensor holding one number, got {value_text(got)}."
            if not math.isfinite(got):
                return f"triplet_loss returned {_number_text(got)} for {words}: check for a division or a log of 0."
            if _close(got, want) and answer["gradient"] is None:
                return ("The value is right but it has no gradient: Keras cannot train with it. Compute the loss "
                        "with TensorFlow operations on y_pred (no .numpy(), np.*, float() or tf.constant(...)).")
            if _close(got, want):
                return ("The value is right but its gradient is not (d loss / d anchor, positive, negative): "
                        "compute the loss from y_pred with TensorFlow operations, without tf.stop_gradient.")
            return None
        names = ("dist", "door_open") if self.exercise == "verify" else ("min_dist", "identity")
        if not _is_pair(got) or len(got["items"]) != 2:
            return f"{self.exercise} must return a pair ({names[0]}, {names[1]}); it returned {value_text(got)}."
        distance, decision = got["items"]
        if not _is_number(distance):
            return f"{names[0]} must be a number, got {value_text(distance)}."
        want_distance = want["items"][0]
        if not math.isfinite(distance) and not (math.isinf(want_distance) and distance == want_distance):
            return f"{names[0]} is {_number_text(distance)} for {words}; expected {_number_text(want_distance)}."
        if self.exercise == "verify" and type(decision) is not bool:
            return f"door_open must be True or False, got {value_text(decision)}."
        if self.exercise == "who_is_it" and decision is not None and type(decision) is not str:
            return f"identity must be a name (a str) or None, got {value_text(decision)}."
        return None

    def case_text(self, case):
        """A case in words, for messages: the input the learner's function got."""
        if case["exercise"] == "triplet_loss":
            m, d = np.shape(case["anchor"])
            return f"m={m} triplets of {d}-d embeddings with alpha={case['alpha']}"
        encoding = np.asarray(self.encodings[case["photo"]], np.float64)
        between = {name: float(np.linalg.norm(encoding - np.asarray(vector, np.float64)))
                   for name, vector in self.databases[case["database"]].items()}
        if case["exercise"] == "verify":
            if case["identity"] not in between:
                return f"identity {case['identity']!r}, who is not in the database"
            return (f"identity {case['identity']!r} at L2 distance {between[case['identity']]:.4f} from the photo, "
                    f"THRESHOLD = {case['threshold']:g}")
        if not between:
            return f"an empty database, THRESHOLD = {case['threshold']:g}"
        if len(between) > 6:
            closest = min(between, key=between.get)
            return (f"a database of {len(between)} people, the closest {closest!r} at L2 distance "
                    f"{between[closest]:.4f}, THRESHOLD = {case['threshold']:g}")
        listed = ", ".join(f"{name} {distance:.4f}" for name, distance in between.items())
        return f"a database of {len(between)} people at L2 distances {listed} from the photo, THRESHOLD = {case['threshold']:g}"


# ---------------------------------------------------------------------------------------------
# Teaching notes: what the docstrings ask that values cannot show


def _kind_name(value):
    return "numpy.bool_" if isinstance(value, np.bool_) else answers.type_name(value)


def teaching_notes(exercise, raw_answers):
    """Notes about the types of right answers, from the objects a function returned in the
    learner's own kernel (``run(..., keep_raw=True)``); no points depend on them."""
    notes = []
    returned = [answer["raw"] for answer in raw_answers if "raw" in answer]
    if exercise == "triplet_loss":
        if any(tuple(getattr(value, "shape", ())) != () for value in returned):
            notes.append("the loss has shape (1,), not the scalar (shape ()) the docstring asks for: "
                         "tf.reduce_sum over every axis gives one.")
    elif exercise == "verify":
        pairs = [value for value in returned if isinstance(value, tuple) and len(value) == 2]
        door = next((door_open for _, door_open in pairs if type(door_open) is not bool), None)
        if door is not None:
            notes.append(f"door_open is a {_kind_name(door)}, not the Python bool the docstring asks for: "
                         "bool(dist < THRESHOLD) makes it one.")
        dist = next((dist for dist, _ in pairs if not isinstance(dist, float)), None)
        if dist is not None:
            notes.append(f"dist is a {_kind_name(dist)}, not the float the docstring asks for: float(...) makes it one.")
    return notes


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

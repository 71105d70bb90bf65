"""The three exercises' test cases, reference answers and diagnoses, as plain data.

Both the notebook's public tests (``public_tests.py``) and the grader (``tests/grading``) use
this module. A case is plain data (numpy arrays, strings, numbers); an answer is what a
learner's function returned, turned into plain data by ``plain_*``. ``diagnose_*`` compares an
answer with the reference computed here from the same inputs and returns None when it is right,
otherwise a message naming the mistake. Nothing in here runs a learner's code.
"""

import numpy as np

# Every check compares with this tolerance (float32 arithmetic on 512-d vectors).
TOLERANCE = 1e-4


# ---------------------------------------------------------------------------------------------
# triplet_loss


def triplet_cases(seed=0):
    """Inputs on which each classic mistake gives a different value.

    Returns:
        list of dicts {"anchor", "positive", "negative": float32 (m, d), "alpha": float}.
    """
    rng = np.random.default_rng(seed)
    cases = []
    for m, d, alpha in ((3, 4, 0.2), (5, 16, 0.5), (8, 128, 0.2)):
        anchor = rng.normal(size=(m, d)).astype(np.float32)
        # Some triplets already satisfy the margin (loss 0), others do not, so that a missing
        # max(., 0) shows; distances above 1 make squared and plain L2 differ.
        positive = anchor + rng.normal(scale=0.4, size=(m, d)).astype(np.float32)
        negative = anchor + rng.normal(scale=0.4, size=(m, d)).astype(np.float32)
        negative[: m // 2 + 1] += rng.normal(scale=1.5, size=(m // 2 + 1, d)).astype(np.float32)
        cases.append({"anchor": anchor, "positive": positive, "negative": negative, "alpha": alpha})
    return cases


def triplet_variants(case):
    """The right answer ("reference") and the value of each known mistake, as floats."""
    anchor, positive, negative, alpha = (
        case["anchor"].astype(np.float64), case["positive"].astype(np.float64),
        case["negative"].astype(np.float64), case["alpha"],
    )
    squared_positive = np.sum((anchor - positive) ** 2, axis=-1)
    squared_negative = np.sum((anchor - negative) ** 2, axis=-1)
    basic = squared_positive - squared_negative + alpha
    return {
        "reference": float(np.sum(np.maximum(basic, 0))),
        "no_max": float(np.sum(basic)),
        "mean": float(np.mean(np.maximum(basic, 0))),
        "l2_not_squared": float(np.sum(np.maximum(
            np.sqrt(squared_positive) - np.sqrt(squared_negative) + alpha, 0))),
        "wrong_axis": float(np.sum(np.maximum(
            np.sum((anchor - positive) ** 2, axis=0) - np.sum((anchor - negative) ** 2, axis=0) + alpha, 0))),
        "alpha_ignored": float(np.sum(np.maximum(squared_positive - squared_negative, 0))),
    }


TRIPLET_HINTS = {
    "no_max": "Your loss can go below zero for easy triplets: take max(basic_loss, 0) "
              "(tf.maximum) before summing.",
    "mean": "You averaged over the batch; the loss is the SUM over the m triplets (tf.reduce_sum).",
    "l2_not_squared": "You used the L2 distance; the triplet loss uses SQUARED distances "
                      "||A - P||^2 (tf.square, then sum over the last axis, no square root).",
    "wrong_axis": "You summed the squared differences over the wrong axis: reduce over the last "
                  "axis (axis=-1), one distance per triplet.",
    "alpha_ignored": "The margin alpha is missing: basic_loss = pos_dist - neg_dist + alpha.",
}


def plain_triplet_answer(value):
    """A learner's return value as plain data: {"type": ..., "value": float or None, "shape": ...}."""
    type_name = f"{type(value).__module__}.{type(value).__name__}"
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        return {"type": type_name, "value": None, "shape": None}
    return {
        "type": type_name,
        "value": float(array) if array.size == 1 else None,
        "shape": list(array.shape),
        "is_tensor": "tensorflow" in type_name or "EagerTensor" in type_name or "keras" in type_name,
    }


def diagnose_triplet(case, answer):
    """None if ``answer`` (from ``plain_triplet_answer``) is right for ``case``, else a hint."""
    if answer["value"] is None:
        shape = answer.get("shape")
        return (f"triplet_loss must return a scalar (shape ()), got {answer['type']}"
                + (f" of shape {tuple(shape)}" if shape else "") + ". Sum over the batch with tf.reduce_sum.")
    variants = triplet_variants(case)
    close = lambda a, b: abs(a - b) <= TOLERANCE * max(1.0, abs(b))  # noqa: E731
    if not close(answer["value"], variants["reference"]):
        for mistake, hint in TRIPLET_HINTS.items():
            if close(answer["value"], variants[mistake]):
                return hint
        return (f"triplet_loss returned {answer['value']:.5f}, expected {variants['reference']:.5f} "
                f"for m={len(case['anchor'])} triplets with alpha={case['alpha']}. Check each step "
                "against the formula.")
    if not answer.get("is_tensor"):
        return (f"The value is right but the type is {answer['type']}: return a TensorFlow tensor "
                "(use tf operations, no .numpy() or np.*), so Keras can train with it.")
    return None


# ---------------------------------------------------------------------------------------------
# verify and who_is_it: databases built around a photo's real encoding


def point_at_distance(origin, distance, seed):
    """A vector at exactly ``distance`` (L2) from ``origin``, in a random direction."""
    direction = np.random.default_rng(seed).normal(size=origin.shape)
    direction /= np.linalg.norm(direction)
    return (origin.astype(np.float64) + distance * direction).astype(np.float32)


def verify_cases(encoding, threshold):
    """Cases for verify(image_path, identity, database, model) around one photo's encoding.

    Args:
        encoding: (512,) encoding of the photo the cases use.
        threshold: the decision threshold on the L2 distance.

    Returns:
        list of dicts {"identity", "database": {name: (512,) array}}. The distances are chosen so
        that a reversed comparison, a squared distance, a forgotten or different threshold each
        give a wrong decision somewhere.
    """
    distances = {
        "close": 0.3 * threshold,
        "seed_threshold": 0.5 * (0.7 + threshold),  # above the seed's 0.7, below ours
        "below": threshold - 0.1,  # below ours, above a rounded 1.0
        "just_below": threshold - 0.02,  # below in L2, above when squared (threshold > 1)
        "just_above": threshold + 0.03,
        "far": 1.5 * threshold,
    }
    database = {name: point_at_distance(encoding, value, seed) for seed, (name, value) in enumerate(distances.items())}
    return [{"identity": name, "database": database} for name in distances]


def reference_verify(encoding, case, threshold):
    """(distance, door_open) that verify must return for ``case``."""
    distance = float(np.linalg.norm(encoding.astype(np.float64) - case["database"][case["identity"]]))
    return distance, distance < threshold


def plain_pair_answer(value):
    """A learner's 2-tuple as plain data: [{"type", "value"}, {"type", "value"}] or an error."""
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        return {"error": f"returned {type(value).__name__} {value!r:.80}, not a pair (a, b)"}
    plain = []
    for item in value:
        type_name = f"{type(item).__module__}.{type(item).__name__}"
        if isinstance(item, (bool, np.bool_, str)) or item is None:
            plain.append({"type": type_name, "value": item if not isinstance(item, np.bool_) else bool(item)})
        else:
            try:
                plain.append({"type": type_name, "value": float(np.asarray(item, np.float64))})
            except (TypeError, ValueError):
                plain.append({"type": type_name, "value": repr(item)[:80]})
    return {"items": plain}


def diagnose_verify(encoding, case, answer, threshold):
    """None if the answer to ``case`` is right, else a hint naming the mistake."""
    if "error" in answer:
        return f"verify must return (dist, door_open); it {answer['error']}."
    (distance, door) = answer["items"]
    expected_distance, expected_open = reference_verify(encoding, case, threshold)
    if not isinstance(distance["value"], float):
        return f"dist must be a number, got {distance['type']}."
    if abs(distance["value"] - expected_distance ** 2) < TOLERANCE and abs(expected_distance - 1) > 0.01:
        return ("dist is the SQUARED distance; verify compares the L2 distance "
                "np.linalg.norm(encoding - database[identity]) with the threshold.")
    if abs(distance["value"] - expected_distance) > TOLERANCE:
        return (f"dist is {distance['value']:.4f}, expected {expected_distance:.4f}: the L2 distance "
                f"between the photo's encoding and database[identity].")
    if door["type"] != "builtins.bool":
        return (f"door_open must be a Python bool (True/False), got {door['type']}; "
                "wrap the comparison in bool(...).")
    if door["value"] != expected_open:
        hints = {
            "close": "The door stayed closed for a face very close to the identity: open it when "
                     "dist < THRESHOLD (did you write '>' instead of '<'?).",
            "seed_threshold": f"The door stayed closed at distance {expected_distance:.3f}, below "
                              f"THRESHOLD = {threshold}: compare with the THRESHOLD variable, not a "
                              "number of your own.",
            "below": f"The door stayed closed at distance {expected_distance:.3f}, below THRESHOLD = "
                     f"{threshold}: compare with the THRESHOLD variable, not a number of your own.",
            "just_below": f"The door stayed closed at L2 distance {expected_distance:.3f} < THRESHOLD "
                          f"= {threshold}: did you compare the SQUARED distance with the threshold? "
                          "The threshold is on the L2 distance.",
        }
        return hints.get(case["identity"], (
            f"The door opened at distance {expected_distance:.3f}, above THRESHOLD = {threshold}: "
            "open it only when dist < THRESHOLD (is the threshold used, and the comparison '<'?)."
        ))
    return None


def who_is_it_cases(encoding, threshold):
    """Cases for who_is_it(image_path, database, model) around one photo's encoding.

    Returns:
        list of dicts {"database": {name: (512,) array}}; the names give away nothing.
    """
    def database(distances, offset):
        return {name: point_at_distance(encoding, value, offset + seed)
                for seed, (name, value) in enumerate(distances.items())}

    return [
        {"database": database({"ana": 0.9 * threshold, "ben": 0.4 * threshold, "cleo": 1.6 * threshold}, 100)},
        {"database": database({"dev": 1.7 * threshold, "eli": 1.2 * threshold, "fay": 1.4 * threshold}, 200)},
        {"database": database({"gus": 0.6 * threshold}, 300)},
        {"database": {}},
    ]


def reference_who_is_it(encoding, case, threshold):
    """(min_dist, identity or None) that who_is_it must return for ``case``."""
    if not case["database"]:
        return float("inf"), None
    distances = {name: float(np.linalg.norm(encoding.astype(np.float64) - vector))
                 for name, vector in case["database"].items()}
    identity = min(distances, key=distances.get)
    return distances[identity], identity if distances[identity] < threshold else None


def diagnose_who_is_it(encoding, case, answer, threshold):
    """None if the answer to ``case`` is right, else a hint naming the mistake."""
    if "crash" in answer:
        if not case["database"]:
            return ("who_is_it crashed on an empty database "
                    f"({answer['crash']}): return (float('inf'), None) when there is nobody to compare with.")
        return f"who_is_it raised {answer['crash']}"
    if "error" in answer:
        return f"who_is_it must return (min_dist, identity); it {answer['error']}."
    distance, identity = answer["items"]
    expected_distance, expected_identity = reference_who_is_it(encoding, case, threshold)
    if not case["database"]:
        if identity["value"] is not None:
            return "With an empty database nobody can match: return identity None."
        return None
    distances = {name: float(np.linalg.norm(encoding.astype(np.float64) - vector))
                 for name, vector in case["database"].items()}
    farthest = max(distances, key=distances.get)
    if farthest != min(distances, key=distances.get) and (
        identity["value"] == farthest
        or (isinstance(distance["value"], float) and abs(distance["value"] - distances[farthest]) <= TOLERANCE)
    ):
        return "who_is_it picked the FARTHEST person: keep the identity with the smallest distance."
    if not isinstance(distance["value"], float) or abs(distance["value"] - expected_distance) > TOLERANCE:
        shown = distance["value"] if isinstance(distance["value"], float) else distance["type"]
        return (f"min_dist is {shown}, expected {expected_distance:.4f}: the smallest L2 distance "
                "between the photo's encoding and the database's encodings.")
    if expected_identity is None and identity["value"] is not None:
        return (f"The closest person is at distance {expected_distance:.3f}, above THRESHOLD = "
                f"{threshold}: return identity None (and say the person is not in the database).")
    if identity["value"] != expected_identity:
        return f"identity is {identity['value']!r}, expected {expected_identity!r}."
    return None

"""The right implementation of each exercise, and a catalogue of wrong ones named after the mistake.

Each wrong implementation is written as a learner would write the exercise's cell, and carries
the hint the public tests and the grader give for it. They serve three purposes:

- diagnosis: an answer that matches a mistake's answers on every case gets that mistake's hint
  (``exercises/checks.py``);
- case design: the test suite checks that every mistake differs from the reference on at least
  one public case and one grader case, and that no two mistakes answer alike on all cases
  (``tests/test_exercise_checks.py``);
- fixtures: the grader's fixture notebooks are generated from them
  (``tests/grading/fixtures/make_fixtures.py``).

``UNTIDY`` holds right answers written in a way the docstring advises against (a numpy.bool_
for door_open, a tensor for dist): values cannot tell them from the reference, so they earn the
points, and the public tests print the teaching note they carry.

The functions here are never called as they are: ``source`` of an entry is run in a fresh
namespace holding ``np``, ``tf``, ``THRESHOLD`` and ``img_to_encoding``, as a learner's cell is.
A mistake's function is named ``<exercise>__<mistake>``; its cell defines ``<exercise>``.
"""

import inspect
import textwrap
from dataclasses import dataclass

import numpy as np

# The names a learner's cell finds defined: given to each entry's namespace when it runs
# (checks.load); here only so that the functions below read as the cells they stand for.
tf = None
THRESHOLD = None
img_to_encoding = None


@dataclass(frozen=True)
class Entry:
    """One implementation of an exercise: the reference (hint None) or a named mistake."""

    exercise: str
    name: str
    source: str  # a cell that defines the function ``exercise``
    hint: str | None  # what the learner is told; None for the reference


REFERENCES = {}  # exercise -> Entry
MISTAKES = []  # in the order the diagnosis tries them
UNTIDY = []  # right answers with a teaching note (the Entry's hint is the note)


def _cell_source(function, exercise):
    lines = textwrap.dedent(inspect.getsource(function)).splitlines(keepends=True)
    start = next(index for index, line in enumerate(lines) if line.startswith("def "))
    source = "".join(lines[start:])
    return source.replace(f"def {function.__name__}(", f"def {exercise}(", 1)


def reference(function):
    """Register the right implementation of the exercise the function is named after."""
    REFERENCES[function.__name__] = Entry(function.__name__, "reference", _cell_source(function, function.__name__), None)
    return function


def mistake(hint):
    """Register a wrong implementation, named ``<exercise>__<mistake>``, with its hint."""

    def register(function):
        exercise, name = function.__name__.split("__")
        MISTAKES.append(Entry(exercise, name, _cell_source(function, exercise), hint))
        return function

    return register


def untidy(note):
    """Register a right but untidy implementation, named ``<exercise>__<habit>``, with its note."""

    def register(function):
        exercise, name = function.__name__.split("__")
        UNTIDY.append(Entry(exercise, name, _cell_source(function, exercise), note))
        return function

    return register


def mistakes(exercise):
    """The catalogue's entries for one exercise, in order."""
    return [entry for entry in MISTAKES if entry.exercise == exercise]


# =============================================================================================
# triplet_loss(y_true, y_pred, alpha=0.2) -> scalar tensor


@reference
def triplet_loss(y_true, y_pred, alpha=0.2):
    anchor, positive, negative = y_pred[0], y_pred[1], y_pred[2]
    pos_dist = tf.reduce_sum(tf.square(anchor - positive), axis=-1)
    neg_dist = tf.reduce_sum(tf.square(anchor - negative), axis=-1)
    basic_loss = pos_dist - neg_dist + alpha
    return tf.reduce_sum(tf.maximum(basic_loss, 0.0))


@mistake("Your loss goes below zero for triplets that already satisfy the margin: take "
         "tf.maximum(basic_loss, 0.0) for each triplet before summing.")
def triplet_loss__no_max(y_true, y_pred, alpha=0.2):
    anchor, positive, negative = y_pred[0], y_pred[1], y_pred[2]
    pos_dist = tf.reduce_sum(tf.square(anchor - positive), axis=-1)
    neg_dist = tf.reduce_sum(tf.square(anchor - negative), axis=-1)
    return tf.reduce_sum(pos_dist - neg_dist + alpha)


@mistake("You took the max after summing, so easy triplets cancel hard ones: take "
         "tf.maximum(basic_loss, 0.0) for each triplet first, then tf.reduce_sum.")
def triplet_loss__max_after_sum(y_true, y_pred, alpha=0.2):
    anchor, positive, negative = y_pred[0], y_pred[1], y_pred[2]
    pos_dist = tf.reduce_sum(tf.square(anchor - positive), axis=-1)
    neg_dist = tf.reduce_sum(tf.square(anchor - negative), axis=-1)
    return tf.maximum(tf.reduce_sum(pos_dist - neg_dist + alpha), 0.0)


@mistake("You averaged over the batch; the loss is the SUM over the m triplets (tf.reduce_sum, "
         "not tf.reduce_mean).")
def triplet_loss__mean(y_true, y_pred, alpha=0.2):
    anchor, positive, negative = y_pred[0], y_pred[1], y_pred[2]
    pos_dist = tf.reduce_sum(tf.square(anchor - positive), axis=-1)
    neg_dist = tf.reduce_sum(tf.square(anchor - negative), axis=-1)
    return tf.reduce_mean(tf.maximum(pos_dist - neg_dist + alpha, 0.0))


@mistake("You used the L2 distance; the triplet loss uses SQUARED distances ||A - P||^2 "
         "(tf.square, then tf.reduce_sum over the last axis, no square root).")
def triplet_loss__l2_not_squared(y_true, y_pred, alpha=0.2):
    anchor, positive, negative = y_pred[0], y_pred[1], y_pred[2]
    pos_dist = tf.norm(anchor - positive, axis=-1)
    neg_dist = tf.norm(anchor - negative, axis=-1)
    return tf.reduce_sum(tf.maximum(pos_dist - neg_dist + alpha, 0.0))


@mistake("You used absolute differences (an L1 distance); the triplet loss uses SQUARED "
         "differences: tf.square(anchor - positive), summed over the last axis.")
def triplet_loss__absolute_differences(y_true, y_pred, alpha=0.2):
    anchor, positive, negative = y_pred[0], y_pred[1], y_pred[2]
    pos_dist = tf.reduce_sum(tf.abs(anchor - positive), axis=-1)
    neg_dist = tf.reduce_sum(tf.abs(anchor - negative), axis=-1)
    return tf.reduce_sum(tf.maximum(pos_dist - neg_dist + alpha, 0.0))


@mistake("You summed the squared differences over the wrong axis (axis=0 runs over the "
         "triplets): reduce over the last axis, axis=-1, to get one distance per triplet.")
def triplet_loss__wrong_axis(y_true, y_pred, alpha=0.2):
    anchor, positive, negative = y_pred[0], y_pred[1], y_pred[2]
    pos_dist = tf.reduce_sum(tf.square(anchor - positive), axis=0)
    neg_dist = tf.reduce_sum(tf.square(anchor - negative), axis=0)
    return tf.reduce_sum(tf.maximum(pos_dist - neg_dist + alpha, 0.0))


@mistake("tf.reduce_sum without an axis added up the whole batch into one distance: pass "
         "axis=-1 to get one distance per triplet.")
def triplet_loss__no_axis(y_true, y_pred, alpha=0.2):
    anchor, positive, negative = y_pred[0], y_pred[1], y_pred[2]
    pos_dist = tf.reduce_sum(tf.square(anchor - positive))
    neg_dist = tf.reduce_sum(tf.square(anchor - negative))
    return tf.reduce_sum(tf.maximum(pos_dist - neg_dist + alpha, 0.0))


@mistake("The margin alpha is missing: basic_loss = pos_dist - neg_dist + alpha.")
def triplet_loss__alpha_ignored(y_true, y_pred, alpha=0.2):
    anchor, positive, negative = y_pred[0], y_pred[1], y_pred[2]
    pos_dist = tf.reduce_sum(tf.square(anchor - positive), axis=-1)
    neg_dist = tf.reduce_sum(tf.square(anchor - negative), axis=-1)
    return tf.reduce_sum(tf.maximum(pos_dist - neg_dist, 0.0))


@mistake("You wrote the margin as 0.2; use the argument alpha (the tests call triplet_loss "
         "with other margins).")
def triplet_loss__alpha_hard_coded(y_true, y_pred, alpha=0.2):
    anchor, positive, negative = y_pred[0], y_pred[1], y_pred[2]
    pos_dist = tf.reduce_sum(tf.square(anchor - positive), axis=-1)
    neg_dist = tf.reduce_sum(tf.square(anchor - negative), axis=-1)
    return tf.reduce_sum(tf.maximum(pos_dist - neg_dist + 0.2, 0.0))


@mistake("The margin is added, not subtracted: basic_loss = pos_dist - neg_dist + alpha.")
def triplet_loss__alpha_subtracted(y_true, y_pred, alpha=0.2):
    anchor, positive, negative = y_pred[0], y_pred[1], y_pred[2]
    pos_dist = tf.reduce_sum(tf.square(anchor - positive), axis=-1)
    neg_dist = tf.reduce_sum(tf.square(anchor - negative), axis=-1)
    return tf.reduce_sum(tf.maximum(pos_dist - neg_dist - alpha, 0.0))


@mistake("You swapped the positive and the negative: (1) is the anchor-POSITIVE distance, (2) "
         "the anchor-NEGATIVE one, and basic_loss = (1) - (2) + alpha.")
def triplet_loss__positive_negative_swapped(y_true, y_pred, alpha=0.2):
    anchor, positive, negative = y_pred[0], y_pred[1], y_pred[2]
    pos_dist = tf.reduce_sum(tf.square(anchor - positive), axis=-1)
    neg_dist = tf.reduce_sum(tf.square(anchor - negative), axis=-1)
    return tf.reduce_sum(tf.maximum(neg_dist - pos_dist + alpha, 0.0))


@mistake("(2) is the distance between the ANCHOR and the negative, not between the positive and "
         "the negative: neg_dist = sum of (anchor - negative)^2.")
def triplet_loss__positive_to_negative(y_true, y_pred, alpha=0.2):
    anchor, positive, negative = y_pred[0], y_pred[1], y_pred[2]
    pos_dist = tf.reduce_sum(tf.square(anchor - positive), axis=-1)
    neg_dist = tf.reduce_sum(tf.square(positive - negative), axis=-1)
    return tf.reduce_sum(tf.maximum(pos_dist - neg_dist + alpha, 0.0))


@mistake("Python's max() compares two single numbers; on a tensor of m losses use "
         "tf.maximum(basic_loss, 0.0), which works element by element.")
def triplet_loss__python_max(y_true, y_pred, alpha=0.2):
    anchor, positive, negative = y_pred[0], y_pred[1], y_pred[2]
    pos_dist = tf.reduce_sum(tf.square(anchor - positive), axis=-1)
    neg_dist = tf.reduce_sum(tf.square(anchor - negative), axis=-1)
    return tf.reduce_sum(max(pos_dist - neg_dist + alpha, 0.0))


@mistake("The value is right but it has no gradient: you returned a NumPy or Python number (.numpy(), "
         "np.*, float()), which Keras cannot train with. Return the tensor TensorFlow operations give.")
def triplet_loss__returns_numpy(y_true, y_pred, alpha=0.2):
    anchor, positive, negative = y_pred[0], y_pred[1], y_pred[2]
    pos_dist = tf.reduce_sum(tf.square(anchor - positive), axis=-1)
    neg_dist = tf.reduce_sum(tf.square(anchor - negative), axis=-1)
    return tf.reduce_sum(tf.maximum(pos_dist - neg_dist + alpha, 0.0)).numpy()


@mistake("triplet_loss must return ONE number for the batch (a tensor of shape ()), not one "
         "loss per triplet: add the m losses up with tf.reduce_sum.")
def triplet_loss__one_loss_per_triplet(y_true, y_pred, alpha=0.2):
    anchor, positive, negative = y_pred[0], y_pred[1], y_pred[2]
    pos_dist = tf.reduce_sum(tf.square(anchor - positive), axis=-1)
    neg_dist = tf.reduce_sum(tf.square(anchor - negative), axis=-1)
    return tf.maximum(pos_dist - neg_dist + alpha, 0.0)


@mistake("triplet_loss returned 0, but some of these triplets still violate the margin (their basic_loss "
         "is above 0): return the sum over the triplets of max(basic_loss, 0), computed from y_pred.")
def triplet_loss__returns_zero(y_true, y_pred, alpha=0.2):
    return tf.constant(0.0)


@mistake("The embeddings are in y_pred = [anchor, positive, negative]; y_true is unused (Keras "
         "passes labels there, the tests pass None).")
def triplet_loss__reads_y_true(y_true, y_pred, alpha=0.2):
    anchor, positive, negative = y_true[0], y_true[1], y_true[2]
    pos_dist = tf.reduce_sum(tf.square(anchor - positive), axis=-1)
    neg_dist = tf.reduce_sum(tf.square(anchor - negative), axis=-1)
    return tf.reduce_sum(tf.maximum(pos_dist - neg_dist + alpha, 0.0))


# =============================================================================================
# verify(image_path, identity, database, model) -> (dist, door_open)


@reference
def verify(image_path, identity, database, model):
    if identity not in database:
        raise ValueError(f"{identity!r} is not in the database; known people: {sorted(database)}")
    encoding = img_to_encoding(image_path, model)
    dist = float(np.linalg.norm(encoding - database[identity]))
    door_open = bool(dist < THRESHOLD)
    return dist, door_open


@mistake("The door opened for a face farther than THRESHOLD and stayed closed for a close one: "
         "open it when dist < THRESHOLD (did you write '>' instead of '<'?).")
def verify__greater_than(image_path, identity, database, model):
    if identity not in database:
        raise ValueError(f"{identity!r} is not in the database; known people: {sorted(database)}")
    encoding = img_to_encoding(image_path, model)
    dist = float(np.linalg.norm(encoding - database[identity]))
    door_open = bool(dist > THRESHOLD)
    return dist, door_open


@mistake("At exactly dist == THRESHOLD the door must stay closed: open it when dist < THRESHOLD "
         "(strictly below), not <=.")
def verify__less_or_equal(image_path, identity, database, model):
    if identity not in database:
        raise ValueError(f"{identity!r} is not in the database; known people: {sorted(database)}")
    encoding = img_to_encoding(image_path, model)
    dist = float(np.linalg.norm(encoding - database[identity]))
    door_open = bool(dist <= THRESHOLD)
    return dist, door_open


@mistake("dist is the SQUARED distance; verify uses the L2 distance np.linalg.norm(encoding - "
         "database[identity]) (no squares without the square root) and compares it with THRESHOLD.")
def verify__squared_distance(image_path, identity, database, model):
    if identity not in database:
        raise ValueError(f"{identity!r} is not in the database; known people: {sorted(database)}")
    encoding = img_to_encoding(image_path, model)
    dist = float(np.sum(np.square(encoding - database[identity])))
    door_open = bool(dist < THRESHOLD)
    return dist, door_open


@mistake("dist is right, but the door decides on dist ** 2: THRESHOLD is on the L2 distance, so "
         "compare dist itself (door_open = dist < THRESHOLD).")
def verify__compares_squared(image_path, identity, database, model):
    if identity not in database:
        raise ValueError(f"{identity!r} is not in the database; known people: {sorted(database)}")
    encoding = img_to_encoding(image_path, model)
    dist = float(np.linalg.norm(encoding - database[identity]))
    door_open = bool(dist ** 2 < THRESHOLD)
    return dist, door_open


@mistake("The door behaves as if THRESHOLD were 0.7 (the value of the tutorial this notebook "
         "grew from): compare with the THRESHOLD variable, not a number of your own.")
def verify__threshold_0_7(image_path, identity, database, model):
    if identity not in database:
        raise ValueError(f"{identity!r} is not in the database; known people: {sorted(database)}")
    encoding = img_to_encoding(image_path, model)
    dist = float(np.linalg.norm(encoding - database[identity]))
    door_open = bool(dist < 0.7)
    return dist, door_open


@mistake("The door behaves as if THRESHOLD were 1.0: compare with the THRESHOLD variable, not a "
         "number of your own.")
def verify__threshold_1_0(image_path, identity, database, model):
    if identity not in database:
        raise ValueError(f"{identity!r} is not in the database; known people: {sorted(database)}")
    encoding = img_to_encoding(image_path, model)
    dist = float(np.linalg.norm(encoding - database[identity]))
    door_open = bool(dist < 1.0)
    return dist, door_open


@mistake("The door behaves as if THRESHOLD were always 1.11: use the THRESHOLD variable itself "
         "(section 6 sets it from data, and the tests try other values).")
def verify__threshold_1_11(image_path, identity, database, model):
    if identity not in database:
        raise ValueError(f"{identity!r} is not in the database; known people: {sorted(database)}")
    encoding = img_to_encoding(image_path, model)
    dist = float(np.linalg.norm(encoding - database[identity]))
    door_open = bool(dist < 1.11)
    return dist, door_open


@mistake("dist must compare the photo with database[identity], the person they claim to be, not "
         "with another entry of the database (a loop variable left over?).")
def verify__another_persons_encoding(image_path, identity, database, model):
    if identity not in database:
        raise ValueError(f"{identity!r} is not in the database; known people: {sorted(database)}")
    encoding = img_to_encoding(image_path, model)
    for name in database:
        db_encoding = database[name]
    dist = float(np.linalg.norm(encoding - db_encoding))
    door_open = bool(dist < THRESHOLD)
    return dist, door_open


@mistake("You subtracted the two vectors' lengths; the distance is the length of their "
         "difference: np.linalg.norm(encoding - database[identity]).")
def verify__difference_of_norms(image_path, identity, database, model):
    if identity not in database:
        raise ValueError(f"{identity!r} is not in the database; known people: {sorted(database)}")
    encoding = img_to_encoding(image_path, model)
    dist = float(np.linalg.norm(encoding) - np.linalg.norm(database[identity]))
    door_open = bool(dist < THRESHOLD)
    return dist, door_open


@mistake("You computed a cosine distance (1 - dot product); verify uses the L2 distance "
         "np.linalg.norm(encoding - database[identity]).")
def verify__cosine_distance(image_path, identity, database, model):
    if identity not in database:
        raise ValueError(f"{identity!r} is not in the database; known people: {sorted(database)}")
    encoding = img_to_encoding(image_path, model)
    dist = float(1 - np.dot(encoding, database[identity]))
    door_open = bool(dist < THRESHOLD)
    return dist, door_open


@mistake("Compute dist from the difference, np.linalg.norm(encoding - database[identity]): the "
         "shortcut sqrt(2 - 2 a.b) holds only for vectors of length 1, and a database may hold others "
         "(the tests' do).")
def verify__unit_length_shortcut(image_path, identity, database, model):
    if identity not in database:
        raise ValueError(f"{identity!r} is not in the database; known people: {sorted(database)}")
    encoding = img_to_encoding(image_path, model)
    dist = float(np.sqrt(max(2 - 2 * np.dot(encoding, database[identity]), 0)))
    door_open = bool(dist < THRESHOLD)
    return dist, door_open


@mistake("Return the pair in the order (dist, door_open): the distance first, then the decision.")
def verify__swapped_return(image_path, identity, database, model):
    if identity not in database:
        raise ValueError(f"{identity!r} is not in the database; known people: {sorted(database)}")
    encoding = img_to_encoding(image_path, model)
    dist = float(np.linalg.norm(encoding - database[identity]))
    door_open = bool(dist < THRESHOLD)
    return door_open, dist


@untidy("door_open is a numpy.bool_, not the Python bool the docstring asks for: bool(dist < THRESHOLD) makes "
        "it one.")
def verify__numpy_bool(image_path, identity, database, model):
    if identity not in database:
        raise ValueError(f"{identity!r} is not in the database; known people: {sorted(database)}")
    encoding = img_to_encoding(image_path, model)
    dist = np.linalg.norm(encoding - database[identity])
    door_open = dist < THRESHOLD
    return dist, door_open


@untidy("dist is a numpy.ndarray, not the float the docstring asks for: float(...) makes it one.")
def verify__one_element_array(image_path, identity, database, model):
    if identity not in database:
        raise ValueError(f"{identity!r} is not in the database; known people: {sorted(database)}")
    encoding = img_to_encoding(image_path, model)
    dist = np.linalg.norm(encoding - database[identity], keepdims=True)
    door_open = bool(dist[0] < THRESHOLD)
    return dist, door_open


@untidy("dist is a tensorflow.python.framework.ops.EagerTensor, not the float the docstring asks for: "
        "float(...) makes it one.")
def verify__tensor_distance(image_path, identity, database, model):
    if identity not in database:
        raise ValueError(f"{identity!r} is not in the database; known people: {sorted(database)}")
    encoding = img_to_encoding(image_path, model)
    dist = tf.norm(encoding - database[identity])
    door_open = bool(dist < THRESHOLD)
    return dist, door_open


@mistake("An identity that is not in the database must raise the ValueError the cell gives you "
         "(keep verify's first two lines), not a KeyError from database[identity].")
def verify__no_value_error(image_path, identity, database, model):
    encoding = img_to_encoding(image_path, model)
    dist = float(np.linalg.norm(encoding - database[identity]))
    door_open = bool(dist < THRESHOLD)
    return dist, door_open


@mistake("verify changed the database it was given (database[identity] = ...): it must only "
         "read it.")
def verify__updates_the_database(image_path, identity, database, model):
    if identity not in database:
        raise ValueError(f"{identity!r} is not in the database; known people: {sorted(database)}")
    encoding = img_to_encoding(image_path, model)
    dist = float(np.linalg.norm(encoding - database[identity]))
    door_open = bool(dist < THRESHOLD)
    if door_open:
        database[identity] = encoding
    return dist, door_open


# =============================================================================================
# who_is_it(image_path, database, model) -> (min_dist, identity or None)


@reference
def who_is_it(image_path, database, model):
    encoding = img_to_encoding(image_path, model)
    min_dist, identity = float("inf"), None
    for name, db_encoding in database.items():
        dist = float(np.linalg.norm(encoding - db_encoding))
        if dist < min_dist:
            min_dist, identity = dist, name
    if min_dist >= THRESHOLD:
        identity = None
    return min_dist, identity


@mistake("who_is_it picked the FARTHEST person: keep the identity with the SMALLEST distance.")
def who_is_it__farthest(image_path, database, model):
    encoding = img_to_encoding(image_path, model)
    min_dist, identity = -1.0, None
    for name, db_encoding in database.items():
        dist = float(np.linalg.norm(encoding - db_encoding))
        if dist > min_dist:
            min_dist, identity = dist, name
    if min_dist >= THRESHOLD:
        identity = None
    return min_dist, identity


@mistake("who_is_it stopped at the FIRST person below THRESHOLD: go through the whole database "
         "and keep the CLOSEST person.")
def who_is_it__first_below_threshold(image_path, database, model):
    encoding = img_to_encoding(image_path, model)
    min_dist = float("inf")
    for name, db_encoding in database.items():
        dist = float(np.linalg.norm(encoding - db_encoding))
        if dist < THRESHOLD:
            return dist, name
        min_dist = min(min_dist, dist)
    return min_dist, None


@mistake("who_is_it kept the LAST person below THRESHOLD: compare each distance with min_dist "
         "(the smallest so far), not with THRESHOLD, to keep the CLOSEST person.")
def who_is_it__last_below_threshold(image_path, database, model):
    encoding = img_to_encoding(image_path, model)
    min_dist, identity = float("inf"), None
    for name, db_encoding in database.items():
        dist = float(np.linalg.norm(encoding - db_encoding))
        if dist < THRESHOLD:
            min_dist, identity = dist, name
    return min_dist, identity


@mistake("The closest person is farther than THRESHOLD, so nobody matches: set identity to None "
         "when min_dist >= THRESHOLD (the person is not in the database).")
def who_is_it__never_unknown(image_path, database, model):
    encoding = img_to_encoding(image_path, model)
    min_dist, identity = float("inf"), None
    for name, db_encoding in database.items():
        dist = float(np.linalg.norm(encoding - db_encoding))
        if dist < min_dist:
            min_dist, identity = dist, name
    return min_dist, identity


@mistake("At exactly min_dist == THRESHOLD nobody is recognised: set identity to None when "
         "min_dist >= THRESHOLD, not only when it is >.")
def who_is_it__greater_than_at_threshold(image_path, database, model):
    encoding = img_to_encoding(image_path, model)
    min_dist, identity = float("inf"), None
    for name, db_encoding in database.items():
        dist = float(np.linalg.norm(encoding - db_encoding))
        if dist < min_dist:
            min_dist, identity = dist, name
    if min_dist > THRESHOLD:
        identity = None
    return min_dist, identity


@mistake("who_is_it crashed on an empty database: return (float('inf'), None) when there is "
         "nobody to compare with.")
def who_is_it__empty_database_crash(image_path, database, model):
    encoding = img_to_encoding(image_path, model)
    names = list(database)
    distances = [float(np.linalg.norm(encoding - database[name])) for name in names]
    best = int(np.argmin(distances))
    min_dist, identity = distances[best], names[best]
    if min_dist >= THRESHOLD:
        identity = None
    return min_dist, identity


@mistake("With an empty database min_dist must be float('inf') (nobody is at any finite "
         "distance): start min_dist at float('inf'), not at a large number.")
def who_is_it__starts_at_100(image_path, database, model):
    encoding = img_to_encoding(image_path, model)
    min_dist, identity = 100, None
    for name, db_encoding in database.items():
        dist = float(np.linalg.norm(encoding - db_encoding))
        if dist < min_dist:
            min_dist, identity = dist, name
    if min_dist >= THRESHOLD:
        identity = None
    return min_dist, identity


@mistake("who_is_it behaves as if THRESHOLD were 0.7 (the value of the tutorial this notebook "
         "grew from): compare with the THRESHOLD variable, not a number of your own.")
def who_is_it__threshold_0_7(image_path, database, model):
    encoding = img_to_encoding(image_path, model)
    min_dist, identity = float("inf"), None
    for name, db_encoding in database.items():
        dist = float(np.linalg.norm(encoding - db_encoding))
        if dist < min_dist:
            min_dist, identity = dist, name
    if min_dist >= 0.7:
        identity = None
    return min_dist, identity


@mistake("who_is_it behaves as if THRESHOLD were 1.0: compare with the THRESHOLD variable, not a "
         "number of your own.")
def who_is_it__threshold_1_0(image_path, database, model):
    encoding = img_to_encoding(image_path, model)
    min_dist, identity = float("inf"), None
    for name, db_encoding in database.items():
        dist = float(np.linalg.norm(encoding - db_encoding))
        if dist < min_dist:
            min_dist, identity = dist, name
    if min_dist >= 1.0:
        identity = None
    return min_dist, identity


@mistake("who_is_it behaves as if THRESHOLD were always 1.11: use the THRESHOLD variable itself "
         "(section 6 sets it from data, and the tests try other values).")
def who_is_it__threshold_1_11(image_path, database, model):
    encoding = img_to_encoding(image_path, model)
    min_dist, identity = float("inf"), None
    for name, db_encoding in database.items():
        dist = float(np.linalg.norm(encoding - db_encoding))
        if dist < min_dist:
            min_dist, identity = dist, name
    if min_dist >= 1.11:
        identity = None
    return min_dist, identity


@mistake("who_is_it never looks at the LAST person of the database (a range that stops one "
         "short?): compare the photo with every entry.")
def who_is_it__skips_the_last_person(image_path, database, model):
    encoding = img_to_encoding(image_path, model)
    names = list(database)
    min_dist, identity = float("inf"), None
    for index in range(len(names) - 1):
        dist = float(np.linalg.norm(encoding - database[names[index]]))
        if dist < min_dist:
            min_dist, identity = dist, names[index]
    if min_dist >= THRESHOLD:
        identity = None
    return min_dist, identity


@mistake("who_is_it never looks at the FIRST person of the database (a range that starts at "
         "1?): compare the photo with every entry.")
def who_is_it__skips_the_first_person(image_path, database, model):
    encoding = img_to_encoding(image_path, model)
    names = list(database)
    min_dist, identity = float("inf"), None
    for index in range(1, len(names)):
        dist = float(np.linalg.norm(encoding - database[names[index]]))
        if dist < min_dist:
            min_dist, identity = dist, names[index]
    if min_dist >= THRESHOLD:
        identity = None
    return min_dist, identity


@mistake("who_is_it took the SECOND closest person (index 1 of the sorted distances): the closest "
         "is at index 0 (np.argmin).")
def who_is_it__second_closest(image_path, database, model):
    encoding = img_to_encoding(image_path, model)
    if not database:
        return float("inf"), None
    names = list(database)
    distances = np.array([np.linalg.norm(encoding - database[name]) for name in names])
    best = int(np.argsort(distances)[1])
    min_dist, identity = float(distances[best]), names[best]
    if min_dist >= THRESHOLD:
        identity = None
    return min_dist, identity


@mistake("np.linalg.norm over axis 0 gives one value per embedding coordinate: take the norm over "
         "axis 1 (axis=-1) of the (people, 512) differences, one distance per person.")
def who_is_it__norm_over_the_wrong_axis(image_path, database, model):
    encoding = img_to_encoding(image_path, model)
    if not database:
        return float("inf"), None
    names = list(database)
    distances = np.linalg.norm(np.stack([database[name] for name in names]) - encoding, axis=0)
    best = int(np.argmin(distances))
    min_dist, identity = float(distances[best]), names[best]
    if min_dist >= THRESHOLD:
        identity = None
    return min_dist, identity


@mistake("who_is_it changed the database it was given: it must only read it.")
def who_is_it__updates_the_database(image_path, database, model):
    encoding = img_to_encoding(image_path, model)
    min_dist, identity = float("inf"), None
    for name, db_encoding in database.items():
        dist = float(np.linalg.norm(encoding - db_encoding))
        if dist < min_dist:
            min_dist, identity = dist, name
    if min_dist >= THRESHOLD:
        identity = None
    if identity is not None:
        database[identity] = encoding
    return min_dist, identity


@mistake("Compute each distance from the difference, np.linalg.norm(encoding - db_encoding): the "
         "shortcut sqrt(2 - 2 a.b) holds only for vectors of length 1, and a database may hold others "
         "(the tests' do).")
def who_is_it__unit_length_shortcut(image_path, database, model):
    encoding = img_to_encoding(image_path, model)
    min_dist, identity = float("inf"), None
    for name, db_encoding in database.items():
        dist = float(np.sqrt(max(2 - 2 * np.dot(encoding, db_encoding), 0)))
        if dist < min_dist:
            min_dist, identity = dist, name
    if min_dist >= THRESHOLD:
        identity = None
    return min_dist, identity


@mistake("Return the pair in the order (min_dist, identity): the distance first, then the name.")
def who_is_it__swapped_return(image_path, database, model):
    encoding = img_to_encoding(image_path, model)
    min_dist, identity = float("inf"), None
    for name, db_encoding in database.items():
        dist = float(np.linalg.norm(encoding - db_encoding))
        if dist < min_dist:
            min_dist, identity = dist, name
    if min_dist >= THRESHOLD:
        identity = None
    return identity, min_dist


@mistake("min_dist is a SQUARED distance; who_is_it uses the L2 distance np.linalg.norm(encoding "
         "- db_encoding), and THRESHOLD is on that distance.")
def who_is_it__squared_distance(image_path, database, model):
    encoding = img_to_encoding(image_path, model)
    min_dist, identity = float("inf"), None
    for name, db_encoding in database.items():
        dist = float(np.sum(np.square(encoding - db_encoding)))
        if dist < min_dist:
            min_dist, identity = dist, name
    if min_dist >= THRESHOLD:
        identity = None
    return min_dist, identity


@mistake("When nobody is close enough, identity must be None (not a string such as 'unknown').")
def who_is_it__unknown_as_a_string(image_path, database, model):
    encoding = img_to_encoding(image_path, model)
    min_dist, identity = float("inf"), None
    for name, db_encoding in database.items():
        dist = float(np.linalg.norm(encoding - db_encoding))
        if dist < min_dist:
            min_dist, identity = dist, name
    if min_dist >= THRESHOLD:
        identity = "unknown"
    return min_dist, identity


@mistake("In the loop you updated identity but not min_dist: when a person is closer, update "
         "both (min_dist, identity = dist, name).")
def who_is_it__min_dist_not_updated(image_path, database, model):
    encoding = img_to_encoding(image_path, model)
    min_dist, identity = float("inf"), None
    for name, db_encoding in database.items():
        dist = float(np.linalg.norm(encoding - db_encoding))
        if dist < min_dist:
            identity = name
    if min_dist >= THRESHOLD:
        identity = None
    return min_dist, identity


@mistake("When nobody is close enough, still return the smallest distance min_dist (with "
         "identity None), so that the caller sees how close the closest person was.")
def who_is_it__infinity_for_strangers(image_path, database, model):
    encoding = img_to_encoding(image_path, model)
    min_dist, identity = float("inf"), None
    for name, db_encoding in database.items():
        dist = float(np.linalg.norm(encoding - db_encoding))
        if dist < min_dist:
            min_dist, identity = dist, name
    if min_dist >= THRESHOLD:
        return float("inf"), None
    return min_dist, identity

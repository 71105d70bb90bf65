"""Open-set identification: a gallery of K people, and probes that may show strangers.

``who_is_it`` searches a database (the *gallery*) of 12 people. Real 1:K systems hold thousands,
and most faces they see may belong to nobody in the gallery (*strangers*). This module measures,
for a gallery of K people:

- the **rank-1 identification rate**: the fraction of probes of gallery people whose nearest
  gallery embedding is their own (the threshold plays no part);
- the **identification rate at the threshold**: the same, and closer than the threshold (what the
  door does: the right person, and let in);
- the **stranger false-accept rate** at the threshold: the fraction of strangers' probes whose
  nearest gallery embedding is closer than the threshold, so that the door takes them for someone;
- the **threshold for a target false-accept rate**: the largest threshold that lets in at most
  that fraction of the strangers.

With **several photos per person** (``several_photos_table``), the gallery holds n photos of each
person, and there are several ways to use them: the nearest photo, the mean embedding, a k-NN
vote, a classifier trained on the embeddings (``METHODS``), and ``FaceDatabase``'s rule. The same
scores are measured for each, as n grows, at the fixed threshold and at a threshold chosen on
other strangers; ``newcomers_table`` measures what happens when people join.

Shapes and units: a gallery is a float array (K, d), row k the embedding of person k; probes are
(P, d); labels are ints, the gallery row of the probe's person or ``STRANGER``; distances are L2
distances (not squared) between unit-length embeddings, in [0, 2]; times are seconds.
"""

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import settings
from distances import l2_distance, threshold_at_far

STRANGER = -1  # the label of a probe whose person is not in the gallery


@dataclass(frozen=True)
class Photos:
    """The photos of an open-set experiment on LFW.

    ``names[k]`` is enrolled with ``gallery[k]``; ``probes[k]`` is another photo of that person.
    ``strangers`` are photos of people with a single LFW photo: never in any gallery.
    """

    names: list
    gallery: list
    probes: list
    strangers: list

    def all_paths(self):
        """Every photo, gallery first, then probes, then strangers (the order of ``split``)."""
        return [*self.gallery, *self.probes, *self.strangers]

    def split(self, embeddings):
        """(gallery (K, d), probes (K, d), strangers (S, d)) from embeddings in ``all_paths`` order."""
        count = len(self.names)
        return embeddings[:count], embeddings[count : 2 * count], embeddings[2 * count :]


def choose_photos(people, max_people=None, max_strangers=None, seed=0):
    """Who is enrolled, with which photo, and which photos are strangers'.

    Every person with at least two photos gets, at random, one gallery photo and another probe
    photo; these choices do not depend on ``max_people``, so a smaller experiment uses a subset
    of the photos of a larger one (and of its cached embeddings). The enrolled people are the
    first ``max_people`` of a random order of them.

    Args:
        people: {name: photo paths}, e.g. ``lfw.people_with_photos(root)`` (everyone).
        max_people: how many people can be enrolled (the largest gallery); None for all of them.
        max_strangers: how many strangers (one photo each); None for all.
        seed: the random choices.

    Returns:
        A ``Photos``.
    """
    rng = np.random.default_rng(seed)
    enrollable = sorted(name for name, photos in people.items() if len(photos) >= 2)
    chosen = {name: rng.choice(len(people[name]), size=2, replace=False) for name in enrollable}
    order = [enrollable[index] for index in rng.permutation(len(enrollable))]
    names = order[:max_people] if max_people is not None else order
    singles = sorted(name for name, photos in people.items() if len(photos) == 1)
    if max_strangers is not None and max_strangers < len(singles):
        singles = sorted(rng.choice(singles, size=max_strangers, replace=False))
    return Photos(
        names=names,
        gallery=[Path(people[name][chosen[name][0]]) for name in names],
        probes=[Path(people[name][chosen[name][1]]) for name in names],
        strangers=[Path(people[name][0]) for name in singles],
    )


# ---------------------------------------------------------------------------------------------
# Searching the gallery


def brute_force_search(gallery, probes):
    """The nearest gallery row of each probe, by computing every distance (as ``who_is_it`` does).

    Args:
        gallery: (K, d). probes: (P, d).

    Returns:
        (rows, distances): int array (P,) of gallery rows, float array (P,) of their L2 distances.
    """
    rows = np.zeros(len(probes), int)
    distances = np.zeros(len(probes))
    for index, probe in enumerate(probes):
        to_everyone = l2_distance(probe, gallery)  # (K,)
        rows[index] = np.argmin(to_everyone)
        distances[index] = to_everyone[rows[index]]
    return rows, distances


def build_index(gallery, algorithm="auto"):
    """A scikit-learn ``NearestNeighbors`` index of the gallery (L2 distance).

    Args:
        gallery: (K, d).
        algorithm: scikit-learn's choice: "auto" (for 512-d vectors it computes every distance
            with matrix products, several probes at once), "ball_tree", "kd_tree" or "brute".
    """
    from sklearn.neighbors import NearestNeighbors

    return NearestNeighbors(n_neighbors=1, algorithm=algorithm).fit(np.asarray(gallery, np.float32))


def index_search(index, probes):
    """The nearest gallery row of each probe, from an index (see ``brute_force_search``)."""
    distances, rows = index.kneighbors(np.asarray(probes, np.float32), n_neighbors=1)
    return rows[:, 0], distances[:, 0].astype(np.float64)


INDEXES = ("brute", "ball_tree")  # the NearestNeighbors algorithms timed by seconds_per_query


def seconds_per_query(gallery, probes, brute_force_probes=200, index_probes=1000, repeats=3):
    """Mean time to find one probe's nearest gallery row: brute force, and scikit-learn's indexes.

    Brute force answers one probe at a time (``brute_force_search``, as ``who_is_it`` does), on the
    first ``brute_force_probes`` probes. The ``NearestNeighbors`` indexes answer the first
    ``index_probes`` probes in one call, as a server does with the queries it batches: "brute" still computes every distance,
    with matrix products; "ball_tree" is a tree of nested balls that lets a search skip parts of
    the gallery. The best of ``repeats`` runs is kept.

    Returns:
        {"brute_force": s, "index": {algorithm: s}, "build": {algorithm: s}}: seconds per probe,
        and seconds to build each index once.
    """
    def best(function):
        times = []
        for _ in range(repeats):
            started = time.perf_counter()
            function()
            times.append(time.perf_counter() - started)
        return min(times)

    indexes = {algorithm: build_index(gallery, algorithm) for algorithm in INDEXES}
    one_by_one, batched = probes[:brute_force_probes], probes[:index_probes]
    return {
        "brute_force": best(lambda: brute_force_search(gallery, one_by_one)) / len(one_by_one),
        "index": {algorithm: best(lambda: index_search(index, batched)) / len(batched)
                  for algorithm, index in indexes.items()},
        "build": {algorithm: best(lambda: build_index(gallery, algorithm)) for algorithm in INDEXES},
    }


# ---------------------------------------------------------------------------------------------
# Scores


def open_set_scores(rows, distances, labels, threshold, far=0.01):
    """Rank-1 rate, identification rate and stranger false-accept rate of one gallery's search.

    Args:
        rows: (P,) the nearest gallery row of each probe (from a search).
        distances: (P,) the L2 distance to it.
        labels: (P,) the probe's true gallery row, or ``STRANGER``.
        threshold: the nearest person is accepted when the distance is below it.
        far: the target false-accept rate for ``threshold_at_far``.

    Returns:
        dict with, as fractions in [0, 1] (and a distance for the threshold):
        ``rank1`` (genuine probes whose nearest row is theirs), ``identified`` (theirs and below
        ``threshold``), ``stranger_far`` (strangers below ``threshold``, over the strangers),
        ``threshold_at_far`` (the largest threshold with at most ``far`` of the strangers
        below it) and ``identified_at_far`` (``identified`` at that threshold).
    """
    rows, distances, labels = np.asarray(rows), np.asarray(distances, np.float64), np.asarray(labels)
    genuine, strangers = labels != STRANGER, labels == STRANGER
    if not genuine.any() or not strangers.any():
        raise ValueError("open_set_scores needs probes of gallery people and probes of strangers.")
    right = rows[genuine] == labels[genuine]
    stranger_distances = distances[strangers]
    at_far = threshold_at_far(stranger_distances, np.zeros(len(stranger_distances), bool), far)
    return {
        "rank1": float(np.mean(right)),
        "identified": float(np.mean(right & (distances[genuine] < threshold))),
        "stranger_far": float(np.mean(stranger_distances < threshold)),
        "threshold_at_far": at_far,
        "identified_at_far": float(np.mean(right & (distances[genuine] < at_far))),
    }


def pair_false_accept_rate(gallery, strangers, threshold):
    """The 1:1 false-accept rate: the fraction of (stranger, gallery person) pairs below ``threshold``.

    Args:
        gallery: (K, d). strangers: (S, d). threshold: an L2 distance.

    Returns:
        A float in [0, 1], over the S * K pairs.
    """
    accepted = sum(int(np.sum(l2_distance(stranger, gallery) < threshold)) for stranger in strangers)
    return accepted / (len(strangers) * len(gallery))


def expected_stranger_far(pair_far, people):
    """The chance that a stranger is accepted by a gallery of ``people``, from the 1:1 rate.

    A stranger is let in when any one of the K comparisons is a false accept: 1 - (1 - p)^K if the
    comparisons were independent (they are not quite: some strangers look like many people).
    """
    return 1.0 - (1.0 - pair_far) ** np.asarray(people, np.float64)


def gallery_sizes_table(photos, embeddings, sizes, threshold=settings.VERIFICATION_THRESHOLD, far=0.01,
                        trials=10, seed=0, algorithm="auto", brute_force_probes=200):
    """The open-set scores and query times for galleries of several sizes.

    For a size K below the number of enrolled people, ``trials`` galleries of K people drawn at
    random from them are scored and the scores averaged; a gallery of everyone is scored once.
    Each gallery is searched by the probes of its K people and by every stranger.

    Args:
        photos: a ``Photos``; embeddings: (N, d) in ``photos.all_paths()`` order.
        sizes: gallery sizes; None means every enrolled person.
        threshold, far: see ``open_set_scores``.
        algorithm: the index that answers the searches, see ``build_index``.
        brute_force_probes: how many probes ``seconds_per_query`` times brute force on (the
            indexes: 1,000), taken from the size's last gallery's probes.

    Returns:
        A list of dicts, one per size: ``people`` (K), ``trials``, ``genuine_probes``,
        ``strangers``, the averaged keys of ``open_set_scores``, and ``seconds_per_query``.
    """
    gallery_all, probes_all, strangers = photos.split(np.asarray(embeddings))
    enrolled = len(photos.names)
    rng = np.random.default_rng(seed)
    table = []
    for size in sizes:
        people = enrolled if size is None else min(size, enrolled)
        draws = 1 if people == enrolled else trials
        scores = []
        for _ in range(draws):
            chosen = rng.choice(enrolled, size=people, replace=False)
            gallery = gallery_all[chosen]
            probes = np.concatenate([probes_all[chosen], strangers])
            labels = np.concatenate([np.arange(people), np.full(len(strangers), STRANGER)])
            rows, distances = index_search(build_index(gallery, algorithm), probes)
            scores.append(open_set_scores(rows, distances, labels, threshold, far))
        table.append({
            "people": people, "trials": draws, "genuine_probes": people, "strangers": len(strangers),
            **{key: float(np.mean([score[key] for score in scores])) for key in scores[0]},
            "seconds_per_query": seconds_per_query(gallery, probes, brute_force_probes),
        })
    return table


def format_table(table, threshold, far=0.01):
    """``gallery_sizes_table``'s rows as a text table, one line per gallery size."""
    lines = [
        f"{'people':>7} {'rank-1':>7} {'right and':>10} {'strangers let':>14} {'threshold for':>14} "
        f"{'right at that':>14}   {'microseconds per probe':^38}",
        f"{'K':>7} {'':>7} {'< ' + format(threshold, '.2f'):>10} {'in at ' + format(threshold, '.2f'):>14} "
        f"{format(far, '.0%') + ' let in':>14} {'threshold':>14} {'brute force':>12}{'NN matrix':>12}{'NN tree':>12}",
    ]
    for row in table:
        times = row["seconds_per_query"]
        lines.append(
            f"{row['people']:>7,} {row['rank1']:>7.1%} {row['identified']:>10.1%} {row['stranger_far']:>14.1%} "
            f"{row['threshold_at_far']:>14.3f} {row['identified_at_far']:>14.1%} "
            f"{1e6 * times['brute_force']:>12.1f}{1e6 * times['index']['brute']:>12.1f}"
            f"{1e6 * times['index']['ball_tree']:>12.1f}"
        )
    lines.append("brute force: one probe at a time, every distance (who_is_it's way); NN: scikit-learn's "
                 "NearestNeighbors, 1,000 probes in one call, by matrix products or with a ball tree")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# Several photos per person
#
# A gallery may hold n photos of each of its K people. Four ways to use them, each fitted on the
# gallery's embeddings and labels and then asked about probes (the same interface for all):
#
# - nearest photo: the person of the nearest gallery photo, at its L2 distance;
# - mean embedding: each person's photos averaged and re-normalised to unit length (one template
#   per person, the graded dict's form), the nearest template, at its distance;
# - k-NN vote: the k = n nearest gallery photos vote, each with weight 1 / distance (as
#   face_recognition's k-NN example does); the winner, at the distance of its nearest photo;
# - logistic regression: a linear classifier on the embeddings (scikit-learn), the most probable
#   person, with score 1 - that probability (not a distance: no fixed threshold applies);
#
# and FaceDatabase's rule (face_database.decide): the nearest mean, at the root-mean-square
# distance to that person's photos.
#
# Each returns (labels (P,), scores (P,)): a lower score means surer; a probe is accepted when its
# score is below a threshold. Distances are L2, in [0, 2].

# The experiment of benchmarks/several_photos.py and Face_Recognition_several_photos.ipynb (whose
# parameters cell holds the same values; the tests check it): LFW's people with 11 photos or more,
# 20 of their photos at most, 2,000 strangers (a single photo each), n = 1 to 10, 5 draws.
SEVERAL_PHOTOS = {
    "MIN_PHOTOS": 11, "MAX_PHOTOS": 20, "MAX_PEOPLE": None, "MAX_STRANGERS": 2000,
    "PHOTOS_PER_PERSON": [1, 2, 3, 5, 10], "DRAWS": 5, "FAR": 0.01, "NEWCOMERS": 10, "NEWCOMER_PHOTOS": 5, "SEED": 0,
}

# Logistic regression's inverse regularisation. Of 1, 10 and 100, tried on one draw of LFW with 1,
# 3 and 10 photos per person, scikit-learn's default C = 1 recognised the fewest at strict
# thresholds (with one photo per person, 75% of probes at 1% of strangers let in, against 83% for
# 10 and 100): its probabilities of unit-length embeddings are too even.
LOGISTIC_C = 10.0


def distance_matrix(probes, gallery):
    """(P, M) L2 distances between the rows of probes (P, d) and gallery (M, d), by matrix
    products (scikit-learn's ``euclidean_distances``), for many probes at once."""
    from sklearn.metrics.pairwise import euclidean_distances

    return euclidean_distances(np.asarray(probes, np.float64), np.asarray(gallery, np.float64))


def _people_rows(labels):
    """For gallery labels 0..K-1: the K lists of gallery rows, person by person."""
    labels = np.asarray(labels)
    return [np.flatnonzero(labels == person) for person in range(labels.max() + 1)]


def nearest_photo(gallery, labels):
    """The person of the nearest gallery photo; score: its L2 distance."""
    labels = np.asarray(labels)

    def predict(probes):
        distances = distance_matrix(probes, gallery)
        nearest = np.argmin(distances, axis=1)
        return labels[nearest], distances[np.arange(len(nearest)), nearest]

    return predict


def mean_embedding(gallery, labels):
    """The person whose mean embedding (re-normalised) is nearest; score: the L2 distance to it."""
    from face_database import person_means

    gallery = np.asarray(gallery, np.float64)
    means = person_means([gallery[rows] for rows in _people_rows(labels)])
    templates = means / np.linalg.norm(means, axis=1, keepdims=True)

    def predict(probes):
        distances = distance_matrix(probes, templates)
        nearest = np.argmin(distances, axis=1)
        return nearest, distances[np.arange(len(nearest)), nearest]

    return predict


def knn_vote(gallery, labels, k=None):
    """The k nearest gallery photos vote, weighted by 1 / distance; score: the L2 distance of the
    winner's nearest photo among them. ``k`` defaults to the most photos anyone has (n)."""
    labels = np.asarray(labels)
    k = k or int(np.bincount(labels).max())

    def predict(probes):
        distances = distance_matrix(probes, gallery)
        neighbours = np.argsort(distances, axis=1)[:, :k]
        winners, scores = np.zeros(len(neighbours), int), np.zeros(len(neighbours))
        for index, row in enumerate(neighbours):
            near = distances[index, row]
            votes = np.bincount(labels[row], weights=1.0 / np.maximum(near, 1e-9))
            winners[index] = np.argmax(votes)
            scores[index] = near[labels[row] == winners[index]].min()
        return winners, scores

    return predict


def logistic_regression(gallery, labels, C=LOGISTIC_C):
    """A multinomial logistic regression on the embeddings; score: 1 - the winner's probability."""
    import warnings

    from sklearn.linear_model import LogisticRegression

    with warnings.catch_warnings():
        # With one photo per person scikit-learn notes that every label is rare; that is the point.
        warnings.filterwarnings("ignore", message="The number of unique classes is greater than 50%")
        classifier = LogisticRegression(C=C, max_iter=1000).fit(np.asarray(gallery, np.float64), labels)

    def predict(probes):
        probabilities = classifier.predict_proba(np.asarray(probes, np.float64))
        best = np.argmax(probabilities, axis=1)
        return classifier.classes_[best], 1.0 - probabilities[np.arange(len(best)), best]

    return predict


def database_rule(gallery, labels, threshold=settings.VERIFICATION_THRESHOLD):
    """FaceDatabase's rule (``face_database.decide``); score: the root-mean-square L2 distance to
    the chosen person's photos."""
    from face_database import decide, person_means

    gallery = np.asarray(gallery, np.float64)
    means = person_means([gallery[rows] for rows in _people_rows(labels)])

    def predict(probes):
        rows, distances, _ = decide(probes, means, threshold)
        return rows, distances

    return predict


METHODS = {
    "nearest photo": nearest_photo,
    "mean embedding": mean_embedding,
    "k-NN vote": knn_vote,
    "logistic regression": logistic_regression,
    "FaceDatabase": database_rule,
}
# The methods whose score is an L2 distance, so that the fixed threshold applies to it.
DISTANCE_METHODS = ("nearest photo", "mean embedding", "k-NN vote", "FaceDatabase")


@dataclass(frozen=True)
class PeoplePhotos:
    """People with several photos each, and strangers with one (never enrolled).

    ``photos[k]`` lists person ``names[k]``'s photos in a random order fixed by the seed; an
    experiment enrols the first ones of a draw's own order and probes with the others.
    """

    names: list
    photos: list
    strangers: list

    def all_paths(self):
        """Every photo: person by person, then the strangers (the order of ``split``)."""
        return [path for person in self.photos for path in person] + list(self.strangers)

    def split(self, embeddings):
        """(list of K float arrays (n_k, d), one per person; strangers (S, d)) from embeddings
        (N, d) in ``all_paths`` order."""
        embeddings = np.asarray(embeddings)
        people, start = [], 0
        for person in self.photos:
            people.append(embeddings[start : start + len(person)])
            start += len(person)
        return people, embeddings[start:]


def choose_people(people, min_photos=11, max_photos=20, max_people=None, max_strangers=None, seed=0):
    """Who can be enrolled with several photos, with which photos, and the strangers.

    Everyone with at least ``min_photos`` photos can be enrolled, with ``max_photos`` of them at
    most, drawn at random (so that a person with hundreds of photos does not outweigh the
    others). Strangers are people with a single photo. Each random choice has a generator of its
    own, so a smaller experiment (``max_people``, ``max_strangers``) uses a subset of the photos
    of a larger one, and of its cached embeddings.

    Args:
        people: {name: photo paths}, e.g. ``lfw.people_with_photos(root)``.
        min_photos: the fewest photos a person needs (the most enrolled, plus one probe or more).
        max_photos: the most photos used per person.
        max_people: how many of them to keep (the first of a random order); None for all.
        max_strangers: how many strangers (the first of a random order); None for all.
        seed: the random choices.

    Returns:
        A ``PeoplePhotos``.
    """
    eligible = sorted(name for name, photos in people.items() if len(photos) >= min_photos)
    order = np.random.default_rng([seed, 0]).permutation(len(eligible))
    names = [eligible[index] for index in order][:max_people]
    chosen = []
    for name in names:
        paths = sorted(people[name])
        picked = np.random.default_rng([seed, 1, eligible.index(name)]).permutation(len(paths))[:max_photos]
        chosen.append([Path(paths[index]) for index in picked])
    singles = sorted(name for name, photos in people.items() if len(photos) == 1)
    strangers = [Path(people[singles[index]][0])
                 for index in np.random.default_rng([seed, 2]).permutation(len(singles))][:max_strangers]
    return PeoplePhotos(names=names, photos=chosen, strangers=strangers)


def _draw(people, strangers, enrolled, rng):
    """One random draw: each person's photos in a new order, the first ``enrolled`` for the
    gallery and the rest as probes; the strangers split in halves, calibration and test."""
    orders = [rng.permutation(len(rows)) for rows in people]
    shuffled = rng.permutation(len(strangers))
    half = len(strangers) // 2
    probes = np.concatenate([rows[order[enrolled:]] for rows, order in zip(people, orders)])
    probe_labels = np.concatenate([np.full(len(rows) - enrolled, person) for person, rows in enumerate(people)])
    return orders, probes, probe_labels, strangers[shuffled[:half]], strangers[shuffled[half:]]


def several_photos_scores(predicted, scores, labels, calibration_scores, test_scores, threshold, far, distances):
    """The scores of one method on one draw.

    Args:
        predicted, scores: (P,) the method's person and score for each probe of a gallery person.
        labels: (P,) each probe's true person.
        calibration_scores, test_scores: the scores of two separate sets of strangers: the first
            chooses the threshold for ``far``, the second measures it.
        threshold: the fixed threshold, for methods whose score is a distance.
        far: the target false-accept rate of strangers.
        distances: whether the scores are L2 distances (else the fixed threshold does not apply).

    Returns:
        dict of fractions in [0, 1]: ``rank1`` (the right person, whatever the score),
        ``threshold_at_far`` (chosen on the calibration strangers), ``identified_at_far`` (right
        and below it), ``strangers_rejected_at_far`` (test strangers at or above it); and for
        distances ``identified`` (right and below ``threshold``), ``strangers_rejected`` (test
        strangers at or above ``threshold``).
    """
    right = np.asarray(predicted) == np.asarray(labels)
    at_far = threshold_at_far(calibration_scores, np.zeros(len(calibration_scores), bool), far)
    result = {
        "rank1": float(np.mean(right)),
        "threshold_at_far": at_far,
        "identified_at_far": float(np.mean(right & (scores < at_far))),
        "strangers_rejected_at_far": float(np.mean(test_scores >= at_far)),
    }
    if distances:
        result["identified"] = float(np.mean(right & (scores < threshold)))
        result["strangers_rejected"] = float(np.mean(test_scores >= threshold))
    return result


def several_photos_table(photos, embeddings, photos_per_person=(1, 2, 3, 5, 10), draws=5,
                         threshold=settings.VERIFICATION_THRESHOLD, far=0.01, seed=0, methods=tuple(METHODS),
                         curve_thresholds=np.linspace(0.6, 1.4, 81)):
    """Closed-set and open-set scores of each method as the photos enrolled per person grow.

    In each of ``draws`` random draws, each person's photos are shuffled: the first
    max(photos_per_person) are the enrolment photos, of which the gallery with n photos per
    person takes the first n (so the galleries of one draw are nested), and the rest are the
    probes, the same for every n. The strangers are split at random into two halves: the
    threshold for ``far`` is chosen on one and measured on the other, never on the strangers it
    is measured on.

    Args:
        photos: a ``PeoplePhotos``; embeddings: (N, d) in ``photos.all_paths()`` order.
        photos_per_person: the n to try; each person needs more photos than the largest.
        draws: random draws averaged.
        threshold: the fixed threshold (L2) for the distance methods.
        far: the target false-accept rate of strangers.
        seed: the draws.
        methods: names of ``METHODS``.
        curve_thresholds: thresholds at which the distance methods' identified and rejected
            fractions are also recorded (the trade-off curves).

    Returns:
        A list of dicts, one per method and n, in the order of ``methods`` then n: ``method``,
        ``photos`` (n), ``people``, ``probes``, ``strangers_tested``, ``draws``, the averaged keys
        of ``several_photos_scores``, ``fit_seconds`` (fitting the method to the gallery), and
        for distance methods ``curve`` {"thresholds", "identified", "strangers_rejected"}.
    """
    people, strangers = photos.split(embeddings)
    enrolled = max(photos_per_person)
    short = [name for name, rows in zip(photos.names, people) if len(rows) <= enrolled]
    if short:
        raise ValueError(f"{len(short)} people have {enrolled} photos or fewer (e.g. {short[0]}): "
                         f"each needs {enrolled} to enrol and one or more to probe.")
    rng = np.random.default_rng(seed)
    curve_thresholds = np.asarray(curve_thresholds, np.float64)
    runs = {(method, count): [] for method in methods for count in photos_per_person}
    for _ in range(draws):
        orders, probes, probe_labels, calibration, test = _draw(people, strangers, enrolled, rng)
        for count in photos_per_person:
            gallery = np.concatenate([rows[order[:count]] for rows, order in zip(people, orders)])
            labels = np.repeat(np.arange(len(people)), count)
            for method in methods:
                started = time.perf_counter()
                predict = METHODS[method](gallery, labels)
                fit_seconds = time.perf_counter() - started
                predicted, scores = predict(probes)
                _, calibration_scores = predict(calibration)
                _, test_scores = predict(test)
                is_distance = method in DISTANCE_METHODS
                run = several_photos_scores(predicted, scores, probe_labels, calibration_scores, test_scores,
                                            threshold, far, is_distance)
                run["fit_seconds"] = fit_seconds
                if is_distance:
                    right = predicted == probe_labels
                    run["curve_identified"] = np.mean(right[:, None] & (scores[:, None] < curve_thresholds), axis=0)
                    run["curve_strangers_rejected"] = np.mean(test_scores[:, None] >= curve_thresholds, axis=0)
                runs[(method, count)].append(run)
    table = []
    for (method, count), results in runs.items():
        row = {"method": method, "photos": count, "people": len(people), "probes": len(probe_labels),
               "strangers_tested": len(test), "draws": draws}
        for key in results[0]:
            if not key.startswith("curve_"):
                row[key] = float(np.mean([result[key] for result in results]))
        if method in DISTANCE_METHODS:
            row["curve"] = {"thresholds": curve_thresholds.round(6).tolist(), **{
                key[len("curve_"):]: np.mean([result[key] for result in results], axis=0).round(6).tolist()
                for key in ("curve_identified", "curve_strangers_rejected")}}
        table.append(row)
    return table


def several_photos_markdown(table, threshold=settings.VERIFICATION_THRESHOLD, far=0.01):
    """``several_photos_table`` as Markdown: one table per score, a row per method, a column per n."""
    counts = sorted({row["photos"] for row in table})
    methods = list(dict.fromkeys(row["method"] for row in table))
    cell = {(row["method"], row["photos"]): row for row in table}
    first = table[0]
    let_in = [1 - row["strangers_rejected_at_far"] for row in table]
    sections = [
        ("rank1", "Rank-1: the right person comes first (closed set, no threshold)"),
        ("identified_at_far", f"Right and let in, at the threshold that lets in {far:.0%} of strangers (chosen on "
                              f"other strangers; on the test strangers it let in {min(let_in):.1%} to {max(let_in):.1%})"),
        ("identified", f"Right and let in, at the fixed threshold {threshold:.2f}"),
        ("strangers_rejected", f"Strangers rejected, at the fixed threshold {threshold:.2f}"),
    ]
    lines = [f"{first['people']} people, {first['probes']} probes of them, {first['strangers_tested']} test strangers, "
             f"{first['draws']} draws averaged."]
    for key, title in sections:
        lines += ["", f"**{title}**", "",
                  "| photos per person | " + " | ".join(str(count) for count in counts) + " |",
                  "| --- |" + " ---: |" * len(counts)]
        for method in methods:
            values = [cell[(method, count)].get(key) for count in counts]
            lines.append(f"| {method} | " + " | ".join("-" if value is None else f"{value:.1%}" for value in values) + " |")
    return "\n".join(lines)


def newcomers_table(photos, embeddings, photos_per_person=5, newcomers=10, draws=5, far=0.01, seed=0):
    """People join a gallery: a classifier trained before they joined, and FaceDatabase's rule.

    In each draw, ``newcomers`` people drawn at random join a gallery of the others, each with
    ``photos_per_person`` photos; their other photos are the probes. Both methods first have a
    threshold chosen for ``far`` on calibration strangers, with the gallery before the
    newcomers joined; the test strangers measure it.

    - The logistic regression has no output for a newcomer: until it is trained again, a
      newcomer can only be taken for someone else. Trained again (timed), it is scored at the old
      threshold and at one chosen again.
    - FaceDatabase's rule takes a newcomer in by adding their mean: nothing else changes.

    Args:
        photos, embeddings: as for ``several_photos_table``.
        photos_per_person: n, the photos enrolled per person.
        newcomers: how many people join.
        draws: random draws averaged.
        far: the target false-accept rate of strangers.
        seed: the draws.

    Returns:
        {"logistic regression": {...}, "FaceDatabase": {...}, "people_before", "newcomers",
        "photos", "draws"}; each method's dict holds fractions in [0, 1], averaged over draws:
        ``before_newcomers_taken_for_someone`` (newcomers' probes let in as a person already
        there), ``before_strangers_let_in``, ``after_newcomers_identified`` and
        ``after_strangers_let_in`` (at the old threshold), and ``seconds_to_take_them_in``; the
        classifier also ``after_newcomers_identified_rechosen`` and
        ``after_strangers_let_in_rechosen`` (threshold chosen again for ``far``).
    """
    from face_database import person_means

    people, strangers = photos.split(embeddings)
    rng = np.random.default_rng(seed)
    runs = {"logistic regression": [], "FaceDatabase": []}
    for _ in range(draws):
        orders, probes, probe_labels, calibration, test = _draw(people, strangers, photos_per_person, rng)
        joining = np.zeros(len(people), bool)
        joining[rng.choice(len(people), size=newcomers, replace=False)] = True
        # Labels: the people already there first (0..), the newcomers after them.
        relabel = np.argsort(np.argsort(joining, kind="stable"), kind="stable")
        gallery_rows = [rows[order[:photos_per_person]] for rows, order in zip(people, orders)]
        gallery = np.concatenate(gallery_rows)
        labels = relabel[np.repeat(np.arange(len(people)), photos_per_person)]
        before = labels < len(people) - newcomers
        newcomer_probes = joining[probe_labels]
        probes, truth = probes[newcomer_probes], relabel[probe_labels[newcomer_probes]]

        def at(threshold, predict):
            predicted, scores = predict(probes)
            _, test_scores = predict(test)
            return predicted, scores < threshold, float(np.mean(test_scores < threshold))

        for method, fit in (("logistic regression", logistic_regression), ("FaceDatabase", database_rule)):
            old = fit(gallery[before], labels[before])
            _, calibration_scores = old(calibration)
            threshold = threshold_at_far(calibration_scores, np.zeros(len(calibration_scores), bool), far)
            _, accepted, strangers_before = at(threshold, old)
            started = time.perf_counter()
            if method == "logistic regression":  # trained again, on everyone
                new = fit(gallery, labels)
                seconds = time.perf_counter() - started
            else:  # the newcomers' means are all that is new: time them, then the same rule on everyone
                person_means([rows for rows, joins in zip(gallery_rows, joining) if joins])
                seconds = time.perf_counter() - started
                new = fit(gallery, labels)
            predicted, accepted_after, strangers_after = at(threshold, new)
            run = {
                "before_newcomers_taken_for_someone": float(np.mean(accepted)),
                "before_strangers_let_in": strangers_before,
                "after_newcomers_identified": float(np.mean((predicted == truth) & accepted_after)),
                "after_strangers_let_in": strangers_after,
                "seconds_to_take_them_in": seconds,
            }
            if method == "logistic regression":
                _, calibration_scores = new(calibration)
                rechosen = threshold_at_far(calibration_scores, np.zeros(len(calibration_scores), bool), far)
                predicted, accepted_after, strangers_after = at(rechosen, new)
                run["after_newcomers_identified_rechosen"] = float(np.mean((predicted == truth) & accepted_after))
                run["after_strangers_let_in_rechosen"] = strangers_after
            runs[method].append(run)
    result = {method: {key: float(np.mean([run[key] for run in method_runs])) for key in method_runs[0]}
              for method, method_runs in runs.items()}
    return {**result, "people_before": len(people) - newcomers, "newcomers": newcomers,
            "photos": photos_per_person, "draws": draws}


def newcomers_markdown(result, far=0.01):
    """``newcomers_table`` as a Markdown table."""
    classifier, database = result["logistic regression"], result["FaceDatabase"]
    lines = [
        f"{result['newcomers']} people join {result['people_before']}, {result['photos']} photos each "
        f"({result['draws']} draws); thresholds chosen for {far:.0%} of strangers before they joined",
        "",
        "| | newcomers taken for someone else, before | newcomers recognised, after | strangers let in, before / after | time to take them in |",
        "| --- | ---: | ---: | ---: | ---: |",
        f"| logistic regression, trained again | {classifier['before_newcomers_taken_for_someone']:.1%} | "
        f"{classifier['after_newcomers_identified']:.1%} | {classifier['before_strangers_let_in']:.1%} / "
        f"{classifier['after_strangers_let_in']:.1%} | {classifier['seconds_to_take_them_in']:.2f} s |",
        f"| logistic regression, trained again, threshold chosen again | | "
        f"{classifier['after_newcomers_identified_rechosen']:.1%} | {classifier['before_strangers_let_in']:.1%} / "
        f"{classifier['after_strangers_let_in_rechosen']:.1%} | |",
        f"| FaceDatabase, their means added | {database['before_newcomers_taken_for_someone']:.1%} | "
        f"{database['after_newcomers_identified']:.1%} | {database['before_strangers_let_in']:.1%} / "
        f"{database['after_strangers_let_in']:.1%} | {database['seconds_to_take_them_in'] * 1e6:.0f} us |",
    ]
    return "\n".join(lines)

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

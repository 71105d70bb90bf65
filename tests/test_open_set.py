"""Open-set identification on synthetic embeddings (no model): search, scores, photo choice.

Each check is also run on a wrong implementation kept here, to show that it would catch it.
"""

from pathlib import Path

import numpy as np
import pytest

import distances
import open_set
from open_set import STRANGER


def unit(rows):
    rows = np.asarray(rows, np.float64)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


@pytest.fixture(scope="module")
def gallery_and_probes():
    """30 people in 16-d; each probe is its person's gallery embedding plus a little noise."""
    rng = np.random.default_rng(0)
    gallery = unit(rng.normal(size=(30, 16)))
    order = rng.permutation(30)
    probes = unit(gallery[order] + rng.normal(scale=0.05, size=(30, 16)))
    return gallery, probes, order


def check_search(search, gallery, probes, order):
    rows, found = search(gallery, probes)
    assert np.array_equal(rows, order)
    assert np.allclose(found, distances.l2_distance(probes, gallery[order]), atol=1e-5)


@pytest.mark.parametrize("algorithm", ["auto", "ball_tree"])
def test_searches_find_the_nearest_gallery_row(gallery_and_probes, algorithm):
    gallery, probes, order = gallery_and_probes
    check_search(open_set.brute_force_search, gallery, probes, order)
    check_search(lambda g, p: open_set.index_search(open_set.build_index(g, algorithm), p), gallery, probes, order)


def test_the_search_check_catches_a_search_for_the_farthest(gallery_and_probes):
    def farthest(gallery, probes):
        between = distances.l2_distance(probes[:, None, :], gallery[None, :, :])
        rows = np.argmax(between, axis=1)
        return rows, between[np.arange(len(probes)), rows]

    with pytest.raises(AssertionError):
        check_search(farthest, *gallery_and_probes)


# Six searches: four of gallery people, two of strangers, with their results.
LABELS = np.array([0, 1, 2, 3, STRANGER, STRANGER])
ROWS = np.array([0, 1, 3, 3, 0, 2])            # probe 2 (person 2) is taken for person 3
DISTANCES = np.array([0.5, 1.2, 0.6, 0.7, 0.9, 1.3])


def check_scores(scores_function):
    scores = scores_function(ROWS, DISTANCES, LABELS, threshold=1.0, far=0.5)
    assert scores["rank1"] == pytest.approx(3 / 4)         # persons 0, 1 and 3 found first
    assert scores["identified"] == pytest.approx(2 / 4)    # person 1's nearest is at 1.2: rejected
    assert scores["stranger_far"] == pytest.approx(1 / 2)  # one stranger of two at 0.9 < 1.0
    # At most half of the strangers may be let in: the largest such threshold is 1.3 (the one
    # at 0.9 gets in, the one at 1.3 does not); person 1, at 1.2, is then identified too.
    assert scores["threshold_at_far"] == pytest.approx(1.3)
    assert scores["identified_at_far"] == pytest.approx(3 / 4)
    stricter = scores_function(ROWS, DISTANCES, LABELS, threshold=1.0, far=0.0)
    assert stricter["threshold_at_far"] == pytest.approx(0.9)
    assert stricter["identified_at_far"] == pytest.approx(2 / 4)


def test_open_set_scores():
    check_scores(open_set.open_set_scores)


def _far_over_every_probe(rows, distances, labels, threshold, far):
    scores = open_set.open_set_scores(rows, distances, labels, threshold, far)
    return {**scores, "stranger_far": float(np.mean((labels == STRANGER) & (distances < threshold)))}


def _rank1_over_every_probe(rows, distances, labels, threshold, far):
    scores = open_set.open_set_scores(rows, distances, labels, threshold, far)
    return {**scores, "rank1": float(np.mean(rows == labels))}


def _identified_ignores_the_person(rows, distances, labels, threshold, far):
    scores = open_set.open_set_scores(rows, distances, labels, threshold, far)
    genuine = labels != STRANGER
    return {**scores, "identified": float(np.mean(distances[genuine] < threshold))}


@pytest.mark.parametrize("wrong", [_far_over_every_probe, _rank1_over_every_probe, _identified_ignores_the_person])
def test_the_score_checks_catch_wrong_scores(wrong):
    with pytest.raises(AssertionError):
        check_scores(wrong)


def test_scores_need_both_kinds_of_probes():
    with pytest.raises(ValueError, match="strangers"):
        open_set.open_set_scores(ROWS[:4], DISTANCES[:4], LABELS[:4], 1.0)


def fake_people():
    """{name: photo paths}: 6 people with 2 to 4 photos, 5 with one."""
    people = {f"Person_{index}": [Path(f"Person_{index}/{number}.jpg") for number in range(2 + index % 3)]
              for index in range(6)}
    people |= {f"Single_{index}": [Path(f"Single_{index}/0.jpg")] for index in range(5)}
    return people


def test_choose_photos_enrols_people_with_two_photos_and_keeps_singles_as_strangers():
    photos = open_set.choose_photos(fake_people(), seed=3)
    assert sorted(photos.names) == [f"Person_{index}" for index in range(6)]
    for name, gallery, probe in zip(photos.names, photos.gallery, photos.probes):
        assert gallery.parent.name == probe.parent.name == name and gallery != probe
    assert sorted(path.parent.name for path in photos.strangers) == [f"Single_{index}" for index in range(5)]
    # A smaller experiment uses a subset of the same photos (so their embeddings are cached).
    small = open_set.choose_photos(fake_people(), max_people=2, max_strangers=3, seed=3)
    assert small.names == photos.names[:2] and small.gallery == photos.gallery[:2] and small.probes == photos.probes[:2]
    assert len(small.strangers) == 3 and set(small.strangers) <= set(photos.strangers)
    embeddings = np.arange(len(small.all_paths()))[:, None]
    gallery, probes, strangers = small.split(embeddings)
    assert gallery[:, 0].tolist() == [0, 1] and probes[:, 0].tolist() == [2, 3] and strangers[:, 0].tolist() == [4, 5, 6]


def test_more_people_in_the_gallery_let_in_more_strangers():
    # Random directions in 8-d: a stranger's nearest gallery person gets closer as K grows.
    rng = np.random.default_rng(1)
    enrolled, strangers = 400, 300
    gallery = unit(rng.normal(size=(enrolled, 8)))
    probes = unit(gallery + rng.normal(scale=0.15, size=gallery.shape))
    embeddings = np.concatenate([gallery, probes, unit(rng.normal(size=(strangers, 8)))])
    photos = open_set.Photos(names=[str(i) for i in range(enrolled)], gallery=[None] * enrolled,
                             probes=[None] * enrolled, strangers=[None] * strangers)
    table = open_set.gallery_sizes_table(photos, embeddings, [10, 100, None], threshold=0.6, trials=5,
                                         brute_force_probes=20)
    assert [row["people"] for row in table] == [10, 100, 400]
    assert [row["trials"] for row in table] == [5, 5, 1]
    false_accepts = [row["stranger_far"] for row in table]
    assert false_accepts[0] < false_accepts[1] < false_accepts[2]
    thresholds = [row["threshold_at_far"] for row in table]
    assert thresholds[0] > thresholds[1] > thresholds[2]  # a larger gallery needs a stricter threshold
    rank1 = [row["rank1"] for row in table]
    assert rank1[0] > 0.9 and rank1[0] > rank1[2]  # and more people to confuse a probe with
    for row in table:
        times = row["seconds_per_query"]
        assert times["brute_force"] > 0 and set(times["index"]) == set(times["build"]) == {"brute", "ball_tree"}


def test_pair_false_accept_rate_counts_pairs_over_every_pair():
    gallery = np.array([[0.5, 0.0], [2.0, 0.0], [0.0, 3.0]])
    strangers = np.array([[0.0, 0.0], [1.0, 0.0]])
    # Below 0.6: (stranger 0, person 0) at 0.5 and (stranger 1, person 0) at 0.5; 6 pairs in all.
    assert open_set.pair_false_accept_rate(gallery, strangers, 0.6) == pytest.approx(2 / 6)
    # Below 1.01, stranger 1 also matches person 1 (at 1.0): 3 of 6 pairs, where counting strangers
    # matched (over the strangers) would give 2 / 2.
    assert open_set.pair_false_accept_rate(gallery, strangers, 1.01) == pytest.approx(3 / 6)


def test_expected_stranger_far_compounds_the_pair_rate():
    assert open_set.expected_stranger_far(0.01, 1) == pytest.approx(0.01)
    assert open_set.expected_stranger_far(0.01, [100, 1000]) == pytest.approx([1 - 0.99**100, 1 - 0.99**1000])
    assert open_set.expected_stranger_far(0.0, 10**6) == 0.0


def test_format_table_has_one_line_per_size():
    row = {"people": 1680, "rank1": 0.95, "identified": 0.9, "stranger_far": 0.25, "threshold_at_far": 0.8,
           "identified_at_far": 0.6, "seconds_per_query": {"brute_force": 2e-3, "index": {"brute": 5e-5, "ball_tree": 3e-4},
                                                           "build": {"brute": 1e-4, "ball_tree": 1e-3}}}
    lines = open_set.format_table([row], threshold=1.11).splitlines()
    assert len(lines) == 4
    assert lines[2].split() == ["1,680", "95.0%", "90.0%", "25.0%", "0.800", "60.0%", "2000.0", "50.0", "300.0"]

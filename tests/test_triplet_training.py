"""Choosing triplets in a batch: every anchor-positive pair, random negatives, semi-hard negatives.

No model: the embeddings are made by hand so that each negative's place (hard, semi-hard, beyond
the margin) is known. Each check is also run on a wrong implementation kept here, to show that
it would catch it.
"""

import numpy as np
import pytest

import distances
import triplet_training

ALPHA = 0.2


def line(*positions):
    """Embeddings on a line: photo i at (positions[i], 0)."""
    return np.array([[position, 0.0] for position in positions])


# The anchor (photo 0) and its positive (photo 1) are 0.5 apart: squared distance 0.25, so the
# semi-hard band of squared distances is (0.25, 0.45). Photos 2-5 are of another person:
#   2 at 0.3: squared 0.09, closer than the positive: hard
#   3 at 0.6: squared 0.36, inside the band: semi-hard, the only one
#   4 at 0.68: squared 0.4624, beyond the band; with PLAIN distances 0.68 is inside (0.5, 0.7)
#   5 at 2.0: squared 4, far beyond the margin: easy
EMBEDDINGS = line(0.0, 0.5, 0.3, 0.6, 0.68, 2.0)
LABELS = np.array([0, 0, 1, 1, 1, 1])
SEMI_HARD_OF_PAIR_0_1 = 3


def negatives_of(choose, anchor, positive, embeddings=EMBEDDINGS, labels=LABELS, draws=40):
    """Every negative ``choose`` gives the pair (anchor, positive), over many random draws."""
    found = set()
    for seed in range(draws):
        anchors, positives, negatives = choose(embeddings, labels, ALPHA, np.random.default_rng(seed))
        assert len(anchors) == len(positives) == len(negatives)
        found |= {int(n) for a, p, n in zip(anchors, positives, negatives) if (a, p) == (anchor, positive)}
    return found


def check_semi_hard(choose):
    """The checks of FaceNet's rule, on any implementation of ``semi_hard_triplets``."""
    assert negatives_of(choose, 0, 1) == {SEMI_HARD_OF_PAIR_0_1}
    # The rule is applied to the embeddings given: move photo 4 into the band, and it is chosen too.
    moved = EMBEDDINGS.copy()
    moved[4, 0] = 0.62
    assert negatives_of(choose, 0, 1, embeddings=moved) == {3, 4}
    # A pair with no negative in the band is left out: here every negative is hard or easy.
    no_band = line(0.0, 0.5, 0.3, 0.4, 2.0, 3.0)
    assert negatives_of(choose, 0, 1, embeddings=no_band) == set()
    # Every triplet returned obeys the rule, for every pair of a random batch.
    rng = np.random.default_rng(0)
    embeddings = rng.normal(size=(24, 8))
    embeddings /= np.linalg.norm(embeddings, axis=1, keepdims=True)
    labels = np.repeat(np.arange(6), 4)
    anchors, positives, negatives = choose(embeddings, labels, ALPHA, rng)
    assert len(anchors) > 0
    squared = distances.pairwise_distances(embeddings) ** 2
    assert np.all(labels[anchors] == labels[positives]) and np.all(anchors != positives)
    assert np.all(labels[negatives] != labels[anchors])
    assert np.all(squared[anchors, positives] < squared[anchors, negatives])
    assert np.all(squared[anchors, negatives] < squared[anchors, positives] + ALPHA)


def test_semi_hard_triplets_follow_facenets_rule():
    check_semi_hard(triplet_training.semi_hard_triplets)


def _band_choice(embeddings, labels, alpha, rng, inside):
    """Like semi_hard_triplets, with the band test ``inside(d_ap, d_an)`` on plain distances."""
    between = distances.pairwise_distances(embeddings)
    chosen = [], [], []
    for a, p in zip(*triplet_training.anchor_positive_pairs(labels)):
        candidates = np.flatnonzero((labels != labels[a]) & inside(between[a, p], between[a], alpha))
        if len(candidates):
            for kept, index in zip(chosen, (a, p, rng.choice(candidates))):
                kept.append(index)
    return tuple(np.array(kept, dtype=int) for kept in chosen)


WRONG_MINERS = {
    "plain, not squared, distances": lambda e, l, a, r: _band_choice(
        e, l, a, r, lambda ap, an, alpha: (an > ap) & (an < ap + alpha)),
    "hard negatives (closer than the positive)": lambda e, l, a, r: _band_choice(
        e, l, a, r, lambda ap, an, alpha: an < ap),
    "no margin (any negative farther than the positive)": lambda e, l, a, r: _band_choice(
        e, l, a, r, lambda ap, an, alpha: an > ap),
    "random negatives": triplet_training.random_triplets,
}


@pytest.mark.parametrize("mistake", WRONG_MINERS)
def test_the_semi_hard_checks_catch_wrong_miners(mistake):
    with pytest.raises(AssertionError):
        check_semi_hard(WRONG_MINERS[mistake])


def test_anchor_positive_pairs_are_every_ordered_pair_of_one_person():
    anchors, positives = triplet_training.anchor_positive_pairs(np.array([0, 0, 1, 1, 1, 2]))
    assert sorted(zip(anchors.tolist(), positives.tolist())) == [
        (0, 1), (1, 0), (2, 3), (2, 4), (3, 2), (3, 4), (4, 2), (4, 3)]


def test_random_triplets_keep_every_pair_with_a_negative_of_someone_else():
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(5), 3)
    anchors, positives, negatives = triplet_training.random_triplets(None, labels, ALPHA, rng)
    assert len(anchors) == 5 * 3 * 2
    assert np.all(labels[negatives] != labels[anchors])
    assert len(set(negatives.tolist())) > 5  # drawn, not always the same photo


def test_training_batch_takes_that_many_photos_of_that_many_people():
    labels = np.repeat(np.arange(8), 10)
    batch = triplet_training.training_batch(labels, people=3, photos_per_person=4, rng=np.random.default_rng(0))
    people, counts = np.unique(labels[batch], return_counts=True)
    assert len(batch) == len(set(batch.tolist())) == 12
    assert len(people) == 3 and np.all(counts == 4)


def test_active_triplets_counts_those_with_a_loss_above_zero():
    anchors, positives = np.zeros(4, int), np.ones(4, int)
    negatives = np.array([2, 3, 4, 5])  # hard, semi-hard, just beyond the margin, easy
    assert triplet_training.active_triplets(EMBEDDINGS, anchors, positives, negatives, ALPHA) == 2
    # Plain distances would count photo 4 (0.5 - 0.68 + 0.2 > 0) as well.
    plain = np.sum(distances.l2_distance(EMBEDDINGS[anchors], EMBEDDINGS[positives])
                   - distances.l2_distance(EMBEDDINGS[anchors], EMBEDDINGS[negatives]) + ALPHA > 0)
    assert plain != 2


def test_pair_scores_auc_and_val():
    # Two people, 3 photos each, on a line; photo 5, of person 1, lies 0.5 from person 0's photo 2
    # and 0.5 from its own photo 4: a same-person and a different-person pair tie at 0.5.
    embeddings = line(0.0, 0.1, 0.2, 1.1, 1.2, 0.7)
    labels = np.array([0, 0, 0, 1, 1, 1])
    scores = triplet_training.pair_scores(embeddings, labels, far=0.0)
    between = distances.pairwise_distances(embeddings)[np.triu_indices(6, 1)]
    same = (labels[:, None] == labels[None, :])[np.triu_indices(6, 1)]
    # AUC: the chance that a same-person pair is closer than a different-person one (ties half).
    closer = between[same][:, None] < between[~same][None, :]
    tied = between[same][:, None] == between[~same][None, :]
    assert scores["auc"] == pytest.approx(np.mean(closer + 0.5 * tied))
    assert scores["auc"] < 1
    # At FAR 0 the threshold is the smallest different-person distance (0.5): the same-person
    # pairs below it are accepted (5 of 6), the one at 0.5 is not.
    assert scores["val"] == pytest.approx(5 / 6)


def test_a_batch_without_semi_hard_negatives_gives_no_triplet():
    # Two people 5 apart: every negative is far beyond the margin for every pair.
    anchors, positives, negatives = triplet_training.semi_hard_triplets(
        line(0.0, 0.1, 5.0, 5.1), np.array([0, 0, 1, 1]), ALPHA, np.random.default_rng(0))
    assert len(anchors) == len(positives) == len(negatives) == 0
    assert negatives.dtype.kind == "i"  # still indices, for tf.gather

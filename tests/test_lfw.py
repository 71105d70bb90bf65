"""LFW reading, the download path (against a local file:// source) and the 10-fold protocol."""

import hashlib
import tarfile

import numpy as np
import pytest

import lfw


def test_official_pairs_resolve_to_photos(lfw_dir):
    pairs = lfw.read_pairs(lfw_dir)
    assert len(pairs) == 6000
    assert sum(pair.same for pair in pairs) == 3000
    assert sorted({pair.fold for pair in pairs}) == list(range(10))
    assert all(pair.first.is_file() and pair.second.is_file() for pair in pairs[::97])
    view_1 = lfw.read_pairs(lfw_dir, "pairsDevTest.txt")
    assert len(view_1) == 1000 and {pair.fold for pair in view_1} == {0}


def test_wrong_lfw_dir_says_what_to_do(tmp_path, monkeypatch):
    monkeypatch.setenv(lfw.LFW_DIR_ENV, str(tmp_path))
    with pytest.raises(lfw.LFWNotFoundError, match="has no pairs.txt"):
        lfw.lfw_root()
    (tmp_path / "pairs.txt").write_text("10 300\n")
    with pytest.raises(lfw.LFWNotFoundError, match="none of the photo folders"):
        lfw.lfw_root()


def make_source(folder):
    """A miniature LFW as it is published: a pairs file and a .tgz of photo folders."""
    photos = folder / "build" / "lfw_funneled" / "Ada_Lovelace"
    photos.mkdir(parents=True)
    for number in (1, 2):
        (photos / f"Ada_Lovelace_{number:04d}.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    archive = folder / "lfw-funneled.tgz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(folder / "build" / "lfw_funneled", arcname="lfw_funneled")
    pairs = folder / "pairs.txt"
    pairs.write_text("1 1\nAda_Lovelace 1 2\nAda_Lovelace 1 Ada_Lovelace 2\n")
    return {
        path.name: (path.as_uri(), hashlib.sha256(path.read_bytes()).hexdigest())
        for path in (pairs, archive)
    }


def test_fetch_downloads_checks_and_unpacks(tmp_path):
    sources = make_source(tmp_path / "server")
    home = lfw.fetch_lfw(tmp_path / "home", sources)
    pairs = lfw.read_pairs(home)
    assert [pair.same for pair in pairs] == [True, False]
    assert pairs[0].first.is_file() and pairs[0].first.parent.parent.name == "lfw_funneled"


def test_fetch_refuses_a_file_with_the_wrong_checksum(tmp_path):
    sources = make_source(tmp_path / "server")
    address, _ = sources["pairs.txt"]
    sources["pairs.txt"] = (address, "0" * 64)
    with pytest.raises(ValueError, match="(?i)hash|checksum|incomplete|corrupt"):
        lfw.fetch_lfw(tmp_path / "home", sources)


def synthetic_pairs(rng, pairs_per_fold=60, folds=10, separation=0.6):
    """Pairs whose matching distances are smaller than the non-matching ones, with overlap."""
    count = pairs_per_fold * folds
    same = np.tile(np.repeat([True, False], pairs_per_fold // 2), folds)
    fold = np.repeat(np.arange(folds), pairs_per_fold)
    first = rng.normal(size=(count, 8))
    noise = rng.normal(size=(count, 8))
    second = np.where(same[:, None], first + separation * noise, rng.normal(size=(count, 8)))
    return first, second, same, fold


def test_protocol_matches_a_direct_computation():
    rng = np.random.default_rng(3)
    first, second, same, folds = synthetic_pairs(rng)
    result = lfw.evaluate_protocol(first, second, same, folds)
    distances = np.linalg.norm(first - second, axis=1)
    direct = []
    for fold in range(10):
        train, test = folds != fold, folds == fold
        # Brute force over every candidate threshold on the training folds.
        ordered = np.sort(distances[train])
        candidates = (ordered[:-1] + ordered[1:]) / 2
        accuracy = [np.mean((distances[train] < t) == same[train]) for t in candidates]
        threshold = candidates[int(np.argmax(accuracy))]
        direct.append(np.mean((distances[test] < threshold) == same[test]))
    assert result["accuracy_mean"] == pytest.approx(np.mean(direct), abs=1e-9)
    assert 0.7 < result["accuracy_mean"] < 1.0
    assert 0.5 < result["auc"] <= 1.0


def test_protocol_on_separable_and_on_random_pairs():
    rng = np.random.default_rng(4)
    first, second, same, folds = synthetic_pairs(rng, separation=0.01)
    assert lfw.evaluate_protocol(first, second, same, folds)["accuracy_mean"] == 1.0
    random_second = rng.normal(size=first.shape)
    chance = lfw.evaluate_protocol(first, random_second, same, folds)
    assert 0.35 < chance["accuracy_mean"] < 0.65 and 0.4 < chance["auc"] < 0.6


def test_cosine_and_mean_subtraction():
    rng = np.random.default_rng(5)
    first, second, same, folds = synthetic_pairs(rng)
    unit_first = first / np.linalg.norm(first, axis=1, keepdims=True)
    unit_second = second / np.linalg.norm(second, axis=1, keepdims=True)
    # On unit vectors L2 and cosine distance order the pairs the same way.
    l2 = lfw.evaluate_protocol(unit_first, unit_second, same, folds, "l2")
    cosine = lfw.evaluate_protocol(unit_first, unit_second, same, folds, "cosine")
    assert l2["fold_accuracies"] == cosine["fold_accuracies"]
    shifted = lfw.evaluate_protocol(first + 5, second + 5, same, folds, "cosine", subtract_mean=True)
    assert shifted["accuracy_mean"] > lfw.evaluate_protocol(first + 5, second + 5, same, folds, "cosine")["accuracy_mean"]
    with pytest.raises(ValueError, match="metric"):
        lfw.pair_distances(first, second, "manhattan")

"""Several photos per person: FaceDatabase (enrol, identify, save, load) and the ways of using
several photos that open_set measures.

Each check is also run on a wrong implementation kept here, to show that it would catch it. The
checks on synthetic embeddings need no model; those on photos use the model and LFW.
"""

import io
import json
import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import embeddings
import face_database
import faces
import lfw
import open_set
import settings
from distances import l2_distance
from face_database import DatabaseFileError, FaceDatabase, IncompatibleDatabaseError

THRESHOLD = settings.VERIFICATION_THRESHOLD


def unit(rows):
    rows = np.asarray(rows, np.float64)
    return rows / np.linalg.norm(rows, axis=-1, keepdims=True)


def synthetic_people(rng, people=12, photos=6, dimensions=16, spreads=(0.1, 0.5)):
    """People as clusters on the unit sphere: a centre each, photos scattered around it by a
    spread of their own (about the L2 distance from a photo to the centre)."""
    centres = unit(rng.normal(size=(people, dimensions)))
    scale = rng.uniform(*spreads, size=people)
    return [unit(centre + spread * rng.normal(size=(photos, dimensions)) / np.sqrt(dimensions))
            for centre, spread in zip(centres, scale)]


# ---------------------------------------------------------------------------------------------
# The decision rule, on synthetic embeddings


def check_decide(decide):
    rng = np.random.default_rng(0)
    people = synthetic_people(rng)
    means = face_database.person_means(people)
    probes = unit(rng.normal(size=(200, 16)))
    rows, distances, accepted = decide(probes, means, 1.2)
    for probe, row, distance, ok in zip(probes, rows, distances, accepted):
        # Who: the nearest re-normalised mean.
        templates = unit(means)
        assert row == np.argmin(l2_distance(probe, templates))
        # How far: the root-mean-square of the distances to that person's photos.
        assert distance == pytest.approx(np.sqrt(np.mean(l2_distance(probe, people[row]) ** 2)), abs=1e-9)
        assert ok == (distance < 1.2)
    # With one photo per person it is who_is_it's rule: the nearest photo, at its distance.
    singles = np.stack([rows_[0] for rows_ in people])
    rows, distances, _ = decide(probes, face_database.person_means([one[None] for one in singles]), 1.2)
    nearest = np.array([np.argmin(l2_distance(probe, singles)) for probe in probes])
    assert np.array_equal(rows, nearest)
    assert np.allclose(distances, l2_distance(probes, singles[nearest]))


def test_decide():
    check_decide(face_database.decide)


def _decide_at_the_mean(probes, means, threshold):
    """Wrong: the distance to the re-normalised mean, which strangers come closer to."""
    templates = unit(means)
    rows = np.argmin(open_set.distance_matrix(probes, templates), axis=1)
    distances = l2_distance(probes, templates[rows])
    return rows, distances, distances < threshold


def _decide_who_by_spread(probes, means, threshold):
    """Wrong: who is chosen by the root-mean-square distance too (people whose photos vary lose)."""
    spread = 1 - np.sum(means**2, axis=1)
    all_distances = np.sqrt(open_set.distance_matrix(probes, means) ** 2 + spread)
    rows = np.argmin(all_distances, axis=1)
    distances = all_distances[np.arange(len(rows)), rows]
    return rows, distances, distances < threshold


def _decide_mean_of_distances(probes, means, threshold):
    """Wrong: another average of distances than the one documented (about the mean's norm)."""
    rows, distances, _ = face_database.decide(probes, means, threshold)
    distances = distances * np.linalg.norm(means[rows], axis=1) ** 0.25
    return rows, distances, distances < threshold


@pytest.mark.parametrize("wrong", [_decide_at_the_mean, _decide_who_by_spread, _decide_mean_of_distances])
def test_the_decide_check_catches_wrong_rules(wrong):
    with pytest.raises(AssertionError):
        check_decide(wrong)


# ---------------------------------------------------------------------------------------------
# The ways of using several photos, and their scores


def check_methods(methods):
    # Person 0 has one photo right by the probe, person 1 three a little farther away.
    probe = unit([[1.0, 0.0, 0.0]])
    near = unit([[1.0, 0.5, 0.0]])
    farther = unit([[1.0, 0.0, 0.62], [1.0, 0.62, 0.0], [1.0, -0.62, 0.0]])
    gallery, labels = np.concatenate([near, farther]), np.array([0, 1, 1, 1])
    distances = l2_distance(probe, gallery)
    predicted, score = methods["nearest photo"](gallery, labels)(probe)
    assert predicted[0] == 0 and score[0] == pytest.approx(distances[0])
    # k = 3 neighbours, weighted 1/distance: person 1's three photos outvote person 0's one.
    predicted, score = methods["k-NN vote"](gallery, labels)(probe)
    assert predicted[0] == 1 and score[0] == pytest.approx(distances[1:].min())
    # The mean of person 1's photos points right at the probe.
    predicted, score = methods["mean embedding"](gallery, labels)(probe)
    template = unit(farther.mean(axis=0))
    assert predicted[0] == 1 and score[0] == pytest.approx(l2_distance(probe[0], template))
    predicted, score = methods["FaceDatabase"](gallery, labels)(probe)
    assert predicted[0] == 1 and score[0] == pytest.approx(np.sqrt(np.mean(distances[1:] ** 2)))
    # Well-separated synthetic people: every method finds them; the classifier's score is 1 - p.
    rng = np.random.default_rng(1)
    people = synthetic_people(rng, people=8, photos=6)
    gallery = np.concatenate([rows[:4] for rows in people])
    labels = np.repeat(np.arange(8), 4)
    probes = np.concatenate([rows[4:] for rows in people])
    for name, method in methods.items():
        predicted, scores = method(gallery, labels)(probes)
        assert np.mean(predicted == np.repeat(np.arange(8), 2)) >= 0.9, name
        assert np.all((scores >= 0) & (scores <= 2)), name


def test_methods():
    check_methods(open_set.METHODS)


def _knn_without_weights(gallery, labels):
    """Wrong: k-NN by the nearest photo alone."""
    return open_set.nearest_photo(gallery, labels)


def _mean_not_renormalised(gallery, labels):
    """Wrong: the distance to the plain mean (not unit length)."""
    from face_database import person_means

    means = person_means([gallery[labels == person] for person in range(labels.max() + 1)])

    def predict(probes):
        distances = open_set.distance_matrix(probes, means)
        rows = np.argmin(distances, axis=1)
        return rows, distances[np.arange(len(rows)), rows]

    return predict


@pytest.mark.parametrize("name, wrong", [("k-NN vote", _knn_without_weights), ("mean embedding", _mean_not_renormalised),
                                         ("FaceDatabase", open_set.mean_embedding)])
def test_the_methods_check_catches_wrong_methods(name, wrong):
    with pytest.raises(AssertionError):
        check_methods({**open_set.METHODS, name: wrong})


# Five probes of gallery people, strangers in two sets: calibration (chooses the threshold for
# the false-accept rate) and test (measures it).
PREDICTED = np.array([0, 1, 2, 0, 4])
LABELS = np.array([0, 1, 3, 3, 4])            # probes 2 and 3 are taken for someone else
SCORES = np.array([0.5, 1.0, 0.6, 0.7, 1.2])
CALIBRATION = np.array([0.8, 0.9, 1.3, 1.4])  # at most 1 of 4 let in: threshold 0.9
TEST = np.array([0.7, 0.85, 0.9, 1.5])


def check_scores(scores_function):
    scores = scores_function(PREDICTED, SCORES, LABELS, CALIBRATION, TEST, threshold=1.1, far=0.25, distances=True)
    assert scores["rank1"] == pytest.approx(3 / 5)
    assert scores["threshold_at_far"] == pytest.approx(0.9)  # chosen on the calibration strangers
    assert scores["identified_at_far"] == pytest.approx(1 / 5)  # only probe 0 (0.5) is right and below 0.9
    assert scores["strangers_rejected_at_far"] == pytest.approx(2 / 4)  # 0.7 and 0.85 get in; 0.9 is not below 0.9
    assert scores["identified"] == pytest.approx(2 / 5)  # probes 0 and 1 right and below 1.1
    assert scores["strangers_rejected"] == pytest.approx(1 / 4)  # only the test stranger at 1.5
    classifier = scores_function(PREDICTED, SCORES, LABELS, CALIBRATION, TEST, threshold=1.1, far=0.25, distances=False)
    assert "identified" not in classifier and "strangers_rejected" not in classifier


def test_several_photos_scores():
    check_scores(open_set.several_photos_scores)


def _threshold_chosen_on_the_test_strangers(predicted, scores, labels, calibration, test, threshold, far, distances):
    return open_set.several_photos_scores(predicted, scores, labels, test, test, threshold, far, distances)


def _rejected_counts_the_threshold_itself_as_in(predicted, scores, labels, calibration, test, threshold, far, distances):
    result = open_set.several_photos_scores(predicted, scores, labels, calibration, test, threshold, far, distances)
    return {**result, "strangers_rejected_at_far": float(np.mean(test > result["threshold_at_far"]))}


def _identified_ignores_who(predicted, scores, labels, calibration, test, threshold, far, distances):
    result = open_set.several_photos_scores(predicted, scores, labels, calibration, test, threshold, far, distances)
    return {**result, "identified": float(np.mean(scores < threshold))}


@pytest.mark.parametrize("wrong", [_threshold_chosen_on_the_test_strangers, _rejected_counts_the_threshold_itself_as_in,
                                   _identified_ignores_who])
def test_the_scores_check_catches_wrong_scores(wrong):
    with pytest.raises(AssertionError):
        check_scores(wrong)


def fake_people():
    """{name: photo paths}: 6 people with 3 to 8 photos, 5 with one."""
    people = {f"Person_{index}": [Path(f"Person_{index}/{number}.jpg") for number in range(3 + index)]
              for index in range(6)}
    return people | {f"Single_{index}": [Path(f"Single_{index}/0.jpg")] for index in range(5)}


def test_choose_people_keeps_people_with_enough_photos_and_smaller_runs_use_a_subset():
    photos = open_set.choose_people(fake_people(), min_photos=5, max_photos=6, seed=3)
    assert sorted(photos.names) == ["Person_2", "Person_3", "Person_4", "Person_5"]
    assert [len(paths) for paths in photos.photos] == [min(6, 3 + int(name[-1])) for name in photos.names]
    for name, paths in zip(photos.names, photos.photos):
        assert {path.parent.name for path in paths} == {name} and len(set(paths)) == len(paths)
    assert sorted(path.parent.name for path in photos.strangers) == [f"Single_{index}" for index in range(5)]
    small = open_set.choose_people(fake_people(), min_photos=5, max_photos=4, max_people=2, max_strangers=3, seed=3)
    assert small.names == photos.names[:2]
    assert all(paths == bigger[:4] for paths, bigger in zip(small.photos, photos.photos))
    assert small.strangers == photos.strangers[:3]
    vectors = np.arange(len(small.all_paths()))[:, None]
    people, strangers = small.split(vectors)
    assert [rows[:, 0].tolist() for rows in people] == [[0, 1, 2, 3], [4, 5, 6, 7]]
    assert strangers[:, 0].tolist() == [8, 9, 10]


@pytest.fixture(scope="module")
def synthetic_experiment():
    """60 synthetic people with 12 photos each, and 600 strangers (random directions), in 8-d."""
    rng = np.random.default_rng(2)
    people = synthetic_people(rng, people=60, photos=12, dimensions=8, spreads=(0.2, 0.6))
    strangers = unit(rng.normal(size=(600, 8)))
    photos = open_set.PeoplePhotos(names=[str(index) for index in range(60)], photos=[[None] * 12] * 60,
                                   strangers=[None] * 600)
    return photos, np.concatenate(people + [strangers])


def test_several_photos_table_on_synthetic_people(synthetic_experiment):
    photos, vectors = synthetic_experiment
    table = open_set.several_photos_table(photos, vectors, (1, 5), draws=2, threshold=0.8, far=0.05)
    assert [(row["method"], row["photos"]) for row in table] == [(method, count) for method in open_set.METHODS
                                                                  for count in (1, 5)]
    rows = {(row["method"], row["photos"]): row for row in table}
    assert all(row["people"] == 60 and row["probes"] == 60 * 7 and row["strangers_tested"] == 300 for row in table)
    for method in open_set.DISTANCE_METHODS:
        assert len(rows[(method, 5)]["curve"]["identified"]) == 81
        # One photo per person: every distance method is the nearest photo.
        assert rows[(method, 1)]["strangers_rejected"] == rows[("nearest photo", 1)]["strangers_rejected"]
    assert "identified" not in rows[("logistic regression", 5)] and "curve" not in rows[("logistic regression", 5)]
    # More photos: the nearest of five lets more strangers in; FaceDatabase's rule does not.
    assert rows[("nearest photo", 5)]["strangers_rejected"] < rows[("nearest photo", 1)]["strangers_rejected"]
    assert rows[("FaceDatabase", 5)]["strangers_rejected"] >= rows[("FaceDatabase", 1)]["strangers_rejected"]
    assert rows[("mean embedding", 5)]["rank1"] > rows[("mean embedding", 1)]["rank1"]
    with pytest.raises(ValueError, match="each needs 12 to enrol and one or more to probe"):
        open_set.several_photos_table(photos, vectors, (1, 12), draws=1)


def test_newcomers_table_on_synthetic_people(synthetic_experiment):
    photos, vectors = synthetic_experiment
    result = open_set.newcomers_table(photos, vectors, photos_per_person=5, newcomers=6, draws=2, far=0.05)
    assert result["people_before"] == 54 and result["newcomers"] == 6
    for method in ("logistic regression", "FaceDatabase"):
        scores = result[method]
        # A classifier trained before they joined cannot name them; once taken in, they are found.
        assert scores["after_newcomers_identified"] > 0.2, (method, scores)
        assert all(0 <= value <= 1 for key, value in scores.items() if key != "seconds_to_take_them_in")
    markdown = open_set.newcomers_markdown(result, far=0.05)
    assert "| FaceDatabase, their means added |" in markdown


# ---------------------------------------------------------------------------------------------
# FaceDatabase on embeddings: save, load, refuse


@pytest.fixture
def vectors():
    """{name: (n, 512) unit-length rows}: three people with 3, 1 and 2 photos (not in sorted order)."""
    rng = np.random.default_rng(4)
    return {name: unit(rng.normal(size=(count, settings.EMBEDDING_SIZE))).astype(np.float32)
            for name, count in (("grace", 3), ("ada", 1), ("émilie du châtelet", 2))}


def filled(cls, model, vectors):
    people = cls(model)
    for name, rows in vectors.items():
        people.add_embeddings(name, rows)
    return people


def check_round_trip(cls, model, vectors, folder):
    people = filled(cls, model, vectors)
    path = people.save(folder / "people.npz")
    again = cls.load(path, model)
    assert again.identities() == sorted(vectors) and again.photo_counts() == {name: len(rows) for name, rows in vectors.items()}
    for name, rows in vectors.items():
        np.testing.assert_array_equal(again.embeddings(name), rows)
    probes = unit(np.concatenate(list(vectors.values())) + 0.01)
    assert again.identify_embeddings(probes) == people.identify_embeddings(probes)
    assert [folder / "people.npz"] == sorted(folder.iterdir()), "no temporary file left behind"


def test_save_and_load_round_trip(model, vectors, tmp_path):
    check_round_trip(FaceDatabase, model, vectors, tmp_path)


class MeansOnly(FaceDatabase):
    """Wrong: saves one mean per person, losing the photos."""

    def save(self, path):
        means = FaceDatabase(self.model)
        for name, vector in self.as_dict().items():
            means.add_embeddings(name, vector)
        return means.save(path)


class ForgetsTheOrder(FaceDatabase):
    """Wrong: saves the people in sorted order, with the counts in the order they were added."""

    def save(self, path):
        self._people = dict(zip(list(self._people), [self._people[name] for name in sorted(self._people)]))
        return super().save(path)


@pytest.mark.parametrize("wrong", [MeansOnly, ForgetsTheOrder])
def test_the_round_trip_check_catches_wrong_saves(model, vectors, tmp_path, wrong):
    with pytest.raises(AssertionError):
        check_round_trip(wrong, model, vectors, tmp_path)


def check_refuses_other_weights_and_pipelines(cls, model, vectors, folder, monkeypatch):
    with monkeypatch.context() as patch:
        patch.setattr(embeddings, "weights_sha256", lambda: "0123456789ab" + "0" * 52)
        path = filled(cls, model, vectors).save(folder / "other_weights.npz")
    with pytest.raises(IncompatibleDatabaseError, match=r"other weights \(SHA-256 0123456789ab.*Build it again from the photos"):
        cls.load(path, model)
    with monkeypatch.context() as patch:
        patch.setattr(settings, "PIPELINE_VERSION", settings.PIPELINE_VERSION - 1)
        path = filled(cls, model, vectors).save(folder / "older_pipeline.npz")
    with pytest.raises(IncompatibleDatabaseError, match=r"another version of the pipeline \(version: .*Build it again"):
        cls.load(path, model)


def test_a_database_from_other_weights_or_another_pipeline_is_refused(model, vectors, tmp_path, monkeypatch):
    check_refuses_other_weights_and_pipelines(FaceDatabase, model, vectors, tmp_path, monkeypatch)


class Trusting(FaceDatabase):
    """Wrong: loads whatever the file holds, without comparing weights and pipelines."""

    @classmethod
    def load(cls, path, model):
        header, rows = face_database._read_database_file(path)
        people, start = cls(model), 0
        for name, count in zip(header["identities"], header["photos"]):
            people.add_embeddings(name, rows[start : start + count])
            start += count
        return people


def test_the_refusal_check_catches_a_trusting_load(model, vectors, tmp_path, monkeypatch):
    with pytest.raises(pytest.fail.Exception):
        check_refuses_other_weights_and_pipelines(Trusting, model, vectors, tmp_path, monkeypatch)


def npz(**arrays):
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def damaged_files(good):
    header = np.load(io.BytesIO(good))["header"]
    rows = np.load(io.BytesIO(good))["embeddings"]
    return {
        "truncated": good[: len(good) // 2],
        "text": b"name,photo\nada,ada.jpg\n",
        "pickled": b"\x80\x04\x95" + b"\x00" * 40,
        "single_array.npy": b"",  # written below with np.save
        "no_header": npz(embeddings=rows),
        "other_format": npz(header=np.array('{"format": "something else"}'), embeddings=rows),
        "counts_disagree": npz(header=header, embeddings=rows[:-1]),
        "not_unit_length": npz(header=header, embeddings=rows * 2),
    }


def test_a_damaged_or_foreign_file_gets_a_clear_error(model, vectors, tmp_path):
    good = filled(FaceDatabase, model, vectors).save(tmp_path / "good.npz").read_bytes()
    for name, content in damaged_files(good).items():
        path = tmp_path / name
        if name.endswith(".npy"):
            np.save(path, np.zeros(3))
        else:
            path.write_bytes(content)
        with pytest.raises(DatabaseFileError, match=f"{name} is not a face database saved by FaceDatabase.save, or it is damaged"):
            FaceDatabase.load(path, model)
    with pytest.raises(FileNotFoundError, match="nowhere.npz: no such file"):
        FaceDatabase.load(tmp_path / "nowhere.npz", model)


def check_save_is_atomic(cls, model, vectors, folder, monkeypatch):
    """A save that fails half-way leaves the file saved before as it was."""
    path = filled(cls, model, vectors).save(folder / "people.npz")
    before = path.read_bytes()
    real_savez = np.savez

    def savez_then_crash(file, **arrays):
        real_savez(file, **arrays)
        if hasattr(file, "truncate"):
            file.truncate(100)  # half a file, then the disk is full
        raise OSError(28, "No space left on device")

    with monkeypatch.context() as patch:
        patch.setattr(np, "savez", savez_then_crash)
        with pytest.raises(OSError):
            filled(cls, model, {"someone else": vectors["ada"]}).save(path)
    assert path.read_bytes() == before
    assert sorted(folder.iterdir()) == [path]


def test_save_is_atomic(model, vectors, tmp_path, monkeypatch):
    check_save_is_atomic(FaceDatabase, model, vectors, tmp_path, monkeypatch)


class WritesInPlace(FaceDatabase):
    """Wrong: writes straight into the file."""

    def save(self, path):
        names = list(self._people)
        header = {"format": face_database.FILE_FORMAT, "format_version": face_database.FILE_FORMAT_VERSION,
                  "weights_sha256": self.weights_sha256, "pipeline": self.pipeline, "threshold": self.threshold,
                  "identities": names, "photos": [len(self._people[name]) for name in names]}
        with open(path, "wb") as handle:
            np.savez(handle, header=np.array(json.dumps(header)),
                     embeddings=np.concatenate([self._people[name] for name in names]))
        return Path(path)


def test_the_atomic_check_catches_a_save_in_place(model, vectors, tmp_path, monkeypatch):
    with pytest.raises(AssertionError):
        check_save_is_atomic(WritesInPlace, model, vectors, tmp_path, monkeypatch)


def test_identities_must_be_names_and_an_empty_database_says_so(model, vectors, tmp_path):
    people = FaceDatabase(model)
    for identity, error in ((None, TypeError), (3, TypeError), ("", ValueError), ("   ", ValueError)):
        with pytest.raises(error, match="identity must be a person's name"):
            people.add_embeddings(identity, vectors["ada"])
        with pytest.raises(error, match="identity must be a person's name"):
            people.add(identity, ["never read.jpg"])  # refused before any photo is read
    with pytest.raises(ValueError, match="No photos given for 'ada'"):
        people.add("ada", [])
    with pytest.raises(ValueError, match="The database is empty"):
        people.identify_embeddings(vectors["ada"])
    with pytest.raises(KeyError, match="'ada' is not in the database"):
        people.remove("ada")
    with pytest.raises(ValueError, match="L2 norm 1"):
        people.add_embeddings("ada", vectors["ada"] * 3)
    assert len(people) == 0 and people.as_dict() == {} and people.identities() == []
    assert len(FaceDatabase.load(people.save(tmp_path / "empty.npz"), model)) == 0


def test_the_graded_dict_and_a_face_database_agree_with_one_photo_each(model, vectors):
    """With one photo per person, FaceDatabase.identify answers as who_is_it does on the dict."""
    singles = {name: rows[0] for name, rows in vectors.items()}
    people = FaceDatabase.from_dict(model, singles)
    assert {name: vector.tolist() for name, vector in people.as_dict().items()} == \
        {name: vector.tolist() for name, vector in singles.items()}
    rng = np.random.default_rng(5)
    probes = unit(np.stack(list(singles.values()))[rng.integers(0, 3, 50)] + rng.normal(scale=0.04, size=(50, 512)))
    for probe, (identity, distance) in zip(probes, people.identify_embeddings(probes)):
        to_everyone = {name: float(l2_distance(probe, vector)) for name, vector in singles.items()}
        nearest = min(to_everyone, key=to_everyone.get)
        assert distance == pytest.approx(to_everyone[nearest])
        assert identity == (nearest if to_everyone[nearest] < THRESHOLD else None)


# ---------------------------------------------------------------------------------------------
# FaceDatabase on photos (the model and LFW)


@pytest.fixture(scope="module")
def portraits(lfw_photo):
    """Photos of three LFW people, a photo of two faces side by side, and one of a wall."""
    def photos(name, numbers):
        return [lfw_photo(name, number) for number in numbers]

    pair = np.concatenate([faces.read_image(lfw_photo("Hans_Blix", 1)), faces.read_image(lfw_photo("Kofi_Annan", 1))], axis=1)
    return {
        "serena": photos("Serena_Williams", (1, 2, 3)), "serena_new": lfw_photo("Serena_Williams", 18),
        "colin": photos("Colin_Powell", (1, 2)), "colin_new": lfw_photo("Colin_Powell", 9),
        "laura": photos("Laura_Bush", (1, 2)), "stranger": lfw_photo("Roh_Moo-hyun", 1),
        "two_faces": pair, "wall": np.full((200, 200, 3), 180, np.uint8),
    }


def check_enrol_and_identify(cls, model, portraits):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", faces.SeveralFacesWarning)  # Laura Bush's second photo shows two faces
        _check_enrol_and_identify(cls, model, portraits)


def _check_enrol_and_identify(cls, model, portraits):
    people = cls(model)
    people.add("serena", portraits["serena"])  # paths
    people.add("colin", [Image.open(path) for path in portraits["colin"]])  # PIL images
    people.add("laura", [faces.read_image(path) for path in portraits["laura"]])  # arrays
    assert people.identities() == ["colin", "laura", "serena"]
    assert people.photo_counts() == {"colin": 2, "laura": 2, "serena": 3}
    identity, distance = people.identify(portraits["serena_new"])
    probe = people.embed(portraits["serena_new"])[0]
    assert identity == "serena"
    assert distance == pytest.approx(np.sqrt(np.mean(l2_distance(probe, people.embeddings("serena")) ** 2)), abs=1e-5)
    assert people.identify(portraits["colin_new"])[0] == "colin"
    stranger, distance = people.identify(portraits["stranger"])
    assert stranger is None and distance >= THRESHOLD
    assert people.identify(portraits["stranger"], threshold=2.0)[0] is not None  # a threshold of 2 lets anyone in
    people.remove("colin")
    assert people.identities() == ["laura", "serena"]
    assert people.identify(portraits["colin_new"])[0] != "colin"


def test_enrol_and_identify_photos(model, portraits):
    check_enrol_and_identify(FaceDatabase, model, portraits)


class IgnoresTheThreshold(FaceDatabase):
    """Wrong: always answers with the nearest person."""

    def identify_embeddings(self, vectors, threshold=None):
        return super().identify_embeddings(vectors, threshold=np.inf)


class RemoveKeepsTheMeans(FaceDatabase):
    """Wrong: forgets the person but keeps deciding with the old means."""

    def remove(self, identity):
        summary = self._summary()
        super().remove(identity)
        self._means = summary


@pytest.mark.parametrize("wrong", [IgnoresTheThreshold, RemoveKeepsTheMeans])
def test_the_enrol_check_catches_wrong_databases(model, portraits, wrong):
    with pytest.raises(AssertionError):
        check_enrol_and_identify(wrong, model, portraits)


def check_nothing_half_added(cls, model, portraits, folder):
    people = cls(model)
    people.add("serena", portraits["serena"][:1])
    with pytest.raises(faces.FaceNotFoundError, match=r"No face found in photo 2 of 3 \(an array of shape \(200, 200, 3\)\)"):
        people.add("colin", [portraits["colin"][0], portraits["wall"], portraits["colin"][1]])
    empty = folder / "empty.jpg"
    empty.touch()
    with pytest.raises(faces.ImageReadError, match="empty.jpg is empty"):
        people.add("serena", [portraits["serena"][1], empty])
    assert people.identities() == ["serena"] and people.photo_counts() == {"serena": 1}


def test_a_photo_without_a_face_adds_nothing(model, portraits, tmp_path):
    check_nothing_half_added(FaceDatabase, model, portraits, tmp_path)


class OneByOne(FaceDatabase):
    """Wrong: adds each photo as soon as it is embedded."""

    def add(self, identity, photos):
        for photo in photos:
            super().add(identity, [photo])


def test_the_half_added_check_catches_adding_one_by_one(model, portraits, tmp_path):
    with pytest.raises(AssertionError):
        check_nothing_half_added(OneByOne, model, portraits, tmp_path)


def test_a_photo_of_several_faces_warns_and_enrols_one_face(model, portraits):
    people = FaceDatabase(model)
    with pytest.warns(faces.SeveralFacesWarning, match=r"the photo \(an array of shape \(250, 500, 3\)\) shows \d faces; "
                                                       r"using the largest, most central one"):
        people.add("hans", portraits["two_faces"])
    assert people.photo_counts() == {"hans": 1}


# ---------------------------------------------------------------------------------------------
# The default rule keeps strangers out as well as one photo does (LFW)

# 30 LFW people with 11 photos or more, 8 of their photos (5 to enrol, 3 to probe), and 200
# strangers: a subset of the photos of the several-photos notebook and benchmark (cached).
SAMPLE = {"min_photos": 11, "max_photos": 8, "max_people": 30, "max_strangers": 200, "seed": 0}


@pytest.fixture(scope="module")
def lfw_sample(lfw_dir, model):
    photos = open_set.choose_people(lfw.people_with_photos(lfw_dir), **SAMPLE)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", faces.SeveralFacesWarning)
        vectors = embeddings.encode_images(photos.all_paths(), model, on_no_face="center", progress=False)
    return photos.split(vectors)


def default_rule_rates(cls, model, people, strangers, enrolled, draws=4):
    """(strangers rejected, probes identified) at the default threshold, ``enrolled`` photos
    per person (the first of each draw's order), the same three probes whatever ``enrolled``."""
    rng = np.random.default_rng(0)
    rejected, identified = [], []
    for _ in range(draws):
        orders = [rng.permutation(len(rows)) for rows in people]
        database = cls(model)
        for index, (rows, order) in enumerate(zip(people, orders)):
            database.add_embeddings(f"person {index}", rows[order[:enrolled]])
        answers = database.identify_embeddings(strangers)
        rejected.append(np.mean([identity is None for identity, _ in answers]))
        probes = np.concatenate([rows[order[5:]] for rows, order in zip(people, orders)])
        truth = [f"person {index}" for index, rows in enumerate(people) for _ in rows[5:]]
        identified.append(np.mean([identity == who for (identity, _), who in zip(database.identify_embeddings(probes), truth)]))
    return float(np.mean(rejected)), float(np.mean(identified))


def check_default_rule_keeps_strangers_out(cls, model, sample):
    people, strangers = sample
    one = default_rule_rates(cls, model, people, strangers, 1)
    five = default_rule_rates(cls, model, people, strangers, 5)
    assert five[0] >= one[0], f"strangers rejected: {one[0]:.3f} with 1 photo, {five[0]:.3f} with 5"
    assert five[1] > one[1], f"people identified: {one[1]:.3f} with 1 photo, {five[1]:.3f} with 5"


def test_the_default_rule_keeps_strangers_out_as_well_as_one_photo(model, lfw_sample):
    check_default_rule_keeps_strangers_out(FaceDatabase, model, lfw_sample)


class NearestPhoto(FaceDatabase):
    """Wrong: the nearest photo, at the plain threshold (what most users try first)."""

    def identify_embeddings(self, vectors, threshold=None):
        threshold = self.threshold if threshold is None else threshold
        names = list(self._people)
        answers = []
        for vector in np.array(vectors, ndmin=2):
            nearest = {name: float(l2_distance(vector, self._people[name]).min()) for name in names}
            name = min(nearest, key=nearest.get)
            answers.append((name if nearest[name] < threshold else None, nearest[name]))
        return answers


class MeanEmbedding(FaceDatabase):
    """Wrong: the distance to the re-normalised mean, at the plain threshold."""

    def identify_embeddings(self, vectors, threshold=None):
        threshold = self.threshold if threshold is None else threshold
        templates = self.as_dict()
        answers = []
        for vector in np.array(vectors, ndmin=2):
            distances = {name: float(l2_distance(vector, template)) for name, template in templates.items()}
            name = min(distances, key=distances.get)
            answers.append((name if distances[name] < threshold else None, distances[name]))
        return answers


@pytest.mark.parametrize("wrong", [NearestPhoto, MeanEmbedding])
def test_the_stranger_check_catches_rules_that_let_strangers_in(model, lfw_sample, wrong):
    with pytest.raises(AssertionError, match="strangers rejected"):
        check_default_rule_keeps_strangers_out(wrong, model, lfw_sample)

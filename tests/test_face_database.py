"""The notebook's photos: built from LFW or an instructor's folder, recognised, cached."""

import shutil

import numpy as np
import pytest

import distances
import embeddings
import face_database
import faces
import settings
from exercises import answers, catalogue, checks


def reference_who_is_it(path, database, model):
    """(min_dist, identity or None) by the reference the grader uses."""
    encode = answers.stand_in_encoder({str(path): embeddings.img_to_encoding(path, model)})
    case = {"exercise": "who_is_it", "photo": str(path), "threshold": settings.VERIFICATION_THRESHOLD}
    reference = checks.load(catalogue.REFERENCES["who_is_it"].source, "who_is_it")
    answer = answers.call(reference, case, dict(database), encode, model)
    distance, identity = answer["returned"]["items"]
    return distance, identity


@pytest.fixture(scope="module")
def built_images(tmp_path_factory, lfw_dir):
    images = tmp_path_factory.mktemp("images")
    face_database.build_from_lfw(lfw_dir, images_dir=images)
    return images


def test_build_from_lfw(built_images):
    people = face_database.database_photos(built_images / "database")
    camera = face_database.read_manifest(built_images / "camera")
    assert len(people) == 12 and len(camera) == 16
    assert all(path.is_file() for path in list(people.values()) + [path for path, _ in camera])
    identities = {identity for _, identity in camera}
    assert identities - {face_database.UNKNOWN} <= set(people)
    assert sum(identity == face_database.UNKNOWN for _, identity in camera) == 4


def test_camera_photos_are_recognised_as_the_manifest_says_with_a_margin(built_images, model):
    database = face_database.build_database(model, built_images / "database")
    threshold, margin = settings.VERIFICATION_THRESHOLD, face_database.DECISION_MARGIN
    for path, expected in face_database.read_manifest(built_images / "camera"):
        distance, identity = reference_who_is_it(path, database, model)
        found = identity or face_database.UNKNOWN
        assert found == expected, f"{path.name}: {found} at {distance:.3f}, manifest says {expected}"
        # Far enough from the threshold that another crop of the photos decides the same.
        assert abs(distance - threshold) >= margin, f"{path.name} at {distance:.3f}, threshold {threshold}"


def test_images_built_from_an_older_selection_are_rebuilt_and_an_instructors_kept(tmp_path, lfw_dir, built_images, monkeypatch):
    images = tmp_path / "images"
    shutil.copytree(built_images, images)
    assert face_database.built_from(images)["source"] == "lfw"
    (images / face_database.BUILT_FROM_NAME).write_text('{"source": "lfw", "selection_sha256": "an older one"}')
    (images / "camera" / "camera_01.jpg").write_bytes(b"stale")
    face_database.ensure_images(images)
    assert (images / "camera" / "camera_01.jpg").read_bytes() == (built_images / "camera" / "camera_01.jpg").read_bytes()
    (images / face_database.BUILT_FROM_NAME).write_text('{"source": "/home/teacher/my_people"}')
    (images / "camera" / "camera_01.jpg").write_bytes(b"the instructor's own")
    face_database.ensure_images(images)
    assert (images / "camera" / "camera_01.jpg").read_bytes() == b"the instructor's own"


def instructor_folder(root, built_images):
    """An instructor's own people: two of the LFW photos under new names."""
    folder = root / "my_people"
    (folder / "database").mkdir(parents=True)
    (folder / "camera").mkdir()
    shutil.copy(built_images / "database" / "serena.jpg", folder / "database" / "ada.jpg")
    shutil.copy(built_images / "database" / "colin.jpg", folder / "database" / "grace.jpg")
    shutil.copy(built_images / "camera" / "camera_12.jpg", folder / "camera" / "door_1.jpg")
    shutil.copy(built_images / "camera" / "camera_13.jpg", folder / "camera" / "door_2.jpg")
    (folder / "camera" / "manifest.csv").write_text("file,identity\ndoor_1.jpg,ada\ndoor_2.jpg,unknown\n")
    return folder


def test_build_from_an_instructors_folder(tmp_path, built_images, model):
    folder = instructor_folder(tmp_path, built_images)
    images = tmp_path / "images"
    face_database.build_from_folder(folder, images)
    database = face_database.build_database(model, images / "database")
    assert sorted(database) == ["ada", "grace"]
    results = {path.name: reference_who_is_it(path, database, model)[1]
               for path, _ in face_database.read_manifest(images / "camera")}
    assert results == {"door_1.jpg": "ada", "door_2.jpg": None}


def test_instructors_folder_errors_name_the_problem(tmp_path, built_images):
    folder = instructor_folder(tmp_path, built_images)
    (folder / "camera" / "manifest.csv").write_text("file,identity\ndoor_1.jpg,bob\n")
    with pytest.raises(ValueError, match=r"names \['bob'\], who have no photo"):
        face_database.build_from_folder(folder, tmp_path / "images")
    (folder / "camera" / "manifest.csv").write_text("file,identity\ndoor_1.jpg,ada\n")
    (folder / "database" / "grace.jpg").write_bytes(b"")
    with pytest.raises(faces.ImageReadError, match="grace.jpg is empty"):
        face_database.build_from_folder(folder, tmp_path / "images")
    assert not (tmp_path / "images").exists(), "a failed build must not replace the photos"


def test_embeddings_are_cached_and_recomputed_when_a_photo_changes(tmp_path, built_images, model, monkeypatch):
    photos = [tmp_path / "a.jpg", tmp_path / "b.jpg"]
    shutil.copy(built_images / "database" / "hans.jpg", photos[0])
    shutil.copy(built_images / "database" / "laura.jpg", photos[1])
    cache = tmp_path / "cache"
    first = embeddings.encode_images(photos, model, cache_dir=cache, progress=False)
    assert first.shape == (2, 512) and len(list((cache / "embeddings").rglob("*.npy"))) == 2

    computed = []
    original = embeddings.embed_crops
    monkeypatch.setattr(embeddings, "embed_crops", lambda crops, *a, **k: computed.append(len(crops)) or original(crops, *a, **k))
    again = embeddings.encode_images(photos, model, cache_dir=cache, progress=False)
    np.testing.assert_array_equal(again, first)
    assert computed == []

    shutil.copy(built_images / "database" / "kofi.jpg", photos[1])
    changed = embeddings.encode_images(photos, model, cache_dir=cache, progress=False)
    assert computed == [1]
    np.testing.assert_array_equal(changed[0], first[0])
    assert distances.l2_distance(changed[1], first[1]) > 0.5


def test_encode_images_matches_img_to_encoding(built_images, model):
    photos = sorted((built_images / "database").glob("*.jpg"))[:3]
    batch = embeddings.encode_images(photos, model, cache_dir=None, progress=False)
    one_by_one = np.stack([embeddings.img_to_encoding(path, model) for path in photos])
    np.testing.assert_allclose(batch, one_by_one, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(batch, axis=1), 1.0, atol=1e-5)


def test_encode_images_names_a_bad_file_before_working(tmp_path, built_images, model):
    good = tmp_path / "good.jpg"
    shutil.copy(built_images / "database" / "hans.jpg", good)
    with pytest.raises(faces.ImageReadError, match="missing.jpg: no such file"):
        embeddings.encode_images([good, tmp_path / "missing.jpg"], model, cache_dir=None, progress=False)


def test_uploaded_photo_is_checked_and_bad_uploads_explained(built_images, capsys):
    import try_it_yourself

    calls = []
    verify = lambda path, identity, database, model: calls.append(("verify", path.suffix, identity))  # noqa: E731
    who_is_it = lambda path, database, model: calls.append(("who_is_it", path.suffix))  # noqa: E731
    photo = (built_images / "database" / "serena.jpg").read_bytes()
    try_it_yourself.check_photo(photo, "me.jpg", "serena", verify, who_is_it, {}, None)
    assert calls == [("who_is_it", ".jpg"), ("verify", ".jpg", "serena")]
    try_it_yourself.check_photo(b"not a photo", "notes.png", "", verify, who_is_it, {}, None)
    assert "is not an image" in capsys.readouterr().out
    assert len(calls) == 2

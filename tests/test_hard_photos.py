"""Finding the whole face in hard photos: tight crops, dark and side-lit faces (issue 18).

Each photo test runs on the shipped ``faces.locate_faces`` and on a wrong one (no second search
on a padded, equalised copy), marked to fail: the test catches that mistake.
"""

import numpy as np
import pytest

import faces

# LFW photos (deep-funneled, 250x250, the face in the middle) on which MTCNN alone finds no face
# once they are cut to their central 70x70 px, or darkened and lit from one side.
PHOTOS = [("Aaron_Sorkin", 1), ("Abdullah_Gul", 9), ("Abel_Pacheco", 1)]


def tight_crop(photo, side=70):
    """The central side x side px: the inner face (eyes, nose, mouth), cut at cheeks and chin."""
    start = (photo.shape[0] - side) // 2
    return np.ascontiguousarray(photo[start : start + side, start : start + side])


def dark_side_lit(photo):
    """A quarter of the light, gamma 2, and light falling to 5% across the photo from the left."""
    dark = 255.0 * 0.25 * (photo / 255.0) ** 2.0
    ramp = 0.05 + 0.95 * np.linspace(1, 0, photo.shape[1]) ** 2
    return np.clip(dark * ramp[None, :, None], 0, 255).astype(np.uint8)


def first_search_only(images):
    """The wrong implementation: MTCNN's first search alone."""
    return faces.locate_faces(images, second_pass=False)


LOCATORS = [
    pytest.param(faces.locate_faces, id="shipped"),
    pytest.param(first_search_only, id="first-search-only", marks=pytest.mark.xfail(strict=True)),
]


@pytest.fixture(scope="module")
def photos(lfw_photo):
    return [faces.read_image(lfw_photo(name, number)) for name, number in PHOTOS]


def plausible_faces(locate, images):
    """The face ``locate`` finds in each image, each checked to be there and plausible."""
    found, _ = locate(images)
    for face, image in zip(found, images):
        assert face is not None and faces.plausible(face, image.shape)
    return found


@pytest.mark.parametrize("locate", LOCATORS)
def test_a_tight_crop_gives_the_whole_face(photos, locate):
    crops = [tight_crop(photo) for photo in photos]
    for face, crop in zip(plausible_faces(locate, crops), crops):
        # The whole face is larger than the 70 px crop of its inner part (about 115 px in LFW).
        assert max(face["box"][2:]) > crop.shape[0]


@pytest.mark.parametrize("locate", LOCATORS)
def test_a_dark_side_lit_face_is_found(photos, locate):
    for face in plausible_faces(locate, [dark_side_lit(photo) for photo in photos]):
        x, y, w, h = face["box"]
        assert abs(x + w / 2 - 125) < 30 and abs(y + h / 2 - 125) < 40  # the face in the middle


@pytest.mark.parametrize("locate", LOCATORS)
def test_a_photo_that_is_a_face_crop_is_boxed_as_a_whole_face(photos, locate):
    # Cut at 100 px, MTCNN boxes the photo itself; padded, it boxes the whole face beyond it.
    crops = [tight_crop(photo, 100) for photo in photos]
    found, _ = locate(crops)
    assert all(max(face["box"][2:]) > 105 for face in found)


def test_an_ordinary_photo_is_searched_once(photos, monkeypatch):
    calls = []
    detect = faces.detect_faces
    monkeypatch.setattr(faces, "detect_faces", lambda images, side: calls.append(len(images)) or detect(images, side))
    found, _ = faces.locate_faces(photos)
    assert calls == [len(photos)] and all(face is not None for face in found)


def test_a_box_around_one_eye_is_not_plausible():
    shape = (192, 168, 3)
    eye = {"box": [60, 50, 33, 31], "confidence": 0.9, "keypoints": {
        "left_eye": (68, 60), "right_eye": (84, 61), "nose": (76, 68), "mouth_left": (69, 74), "mouth_right": (83, 74)}}
    face = {"box": [30, 40, 110, 130], "confidence": 0.99, "keypoints": {
        "left_eye": (62, 90), "right_eye": (108, 90), "nose": (85, 115), "mouth_left": (66, 140), "mouth_right": (104, 140)}}
    upside_down = {**face, "keypoints": {**face["keypoints"], "nose": (85, 70)}}
    assert not faces.plausible(eye, shape)
    assert faces.plausible(face, shape)
    assert not faces.plausible(upside_down, shape)


def test_a_crop_past_the_edge_is_padded_not_shifted():
    image = np.random.default_rng(0).integers(0, 255, (100, 120, 3), dtype=np.uint8)
    box = [-20, 10, 60, 60]  # its left third outside the photo
    for padding, mode in (("reflect", "symmetric"), ("edge", "edge")):
        padded = np.pad(image, [(0, 0), (40, 0), (0, 0)], mode=mode)
        expected = faces.crop_face(padded, [20, 10, 60, 60], margin=0.0, size=60)
        np.testing.assert_array_equal(faces.crop_face(image, box, margin=0.0, size=60, padding=padding), expected)


def test_equalising_brings_up_a_dark_photo_and_keeps_its_shape():
    rng = np.random.default_rng(1)
    dark = rng.integers(0, 40, (90, 70, 3), dtype=np.uint8)
    equalised = faces.equalise_light(dark)
    assert equalised.shape == dark.shape and equalised.dtype == np.uint8
    assert equalised.mean() > 2 * dark.mean() and equalised.std() > dark.std()


def test_a_dark_face_is_brightened_and_a_lit_one_left_alone(photos):
    crop = faces.crop_face(photos[0], [70, 70, 110, 110])
    assert faces.brighten_dark_face(crop) is crop
    dark = (crop * 0.15).astype(np.uint8)
    brightened = faces.brighten_dark_face(dark)
    inner = brightened[32:128, 32:128].mean() / 255
    assert 0.4 < inner < 0.6 and brightened.max() <= 255


def test_a_profile_failing_the_landmark_test_keeps_its_box(monkeypatch):
    # The first search's main face has its landmarks out of a face's order (as a profile's may);
    # the second search finds only a plausible face elsewhere: the profile's box is kept.
    profile = {"box": [100, 60, 120, 140], "confidence": 0.99, "keypoints": {
        "left_eye": (150, 110), "right_eye": (158, 110), "nose": (140, 175), "mouth_left": (150, 150),
        "mouth_right": (156, 150)}}
    elsewhere = {"box": [5, 5, 95, 100], "confidence": 0.99, "keypoints": {
        "left_eye": (30, 40), "right_eye": (70, 40), "nose": (50, 60), "mouth_left": (35, 85), "mouth_right": (65, 85)}}
    searches = iter([[[profile]], [[faces._shifted_detection(elsewhere, -128)]]])  # 0.4 x 320 px of padding
    monkeypatch.setattr(faces, "detect_faces", lambda images, side: next(searches))
    assert not faces.plausible(profile, (320, 320, 3)) and faces.plausible(elsewhere, (320, 320, 3))
    found, counts = faces.locate_faces([np.zeros((320, 320, 3), np.uint8)])
    assert found == [profile] and counts == [1]

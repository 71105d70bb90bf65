"""Reading photos: every kind of bad input gets a clear error naming the file."""


import numpy as np
import pytest
from PIL import Image

import embeddings
import faces


@pytest.fixture
def face_jpeg(lfw_photo):
    return lfw_photo("Serena_Williams", 1)


@pytest.fixture
def synthetic_jpeg(tmp_path):
    """A JPEG of noise: enough for reading errors, which come before any face or model."""
    path = tmp_path / "noise.jpg"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (240, 320, 3), dtype=np.uint8)).save(path, quality=90)
    return path


def test_missing_path(tmp_path):
    with pytest.raises(faces.ImageReadError, match="nobody.jpg: no such file"):
        faces.read_image(tmp_path / "nobody.jpg")


def test_directory(tmp_path):
    with pytest.raises(faces.ImageReadError, match="is a folder"):
        faces.read_image(tmp_path)


def test_empty_file(tmp_path):
    empty = tmp_path / "empty.jpg"
    empty.touch()
    with pytest.raises(faces.ImageReadError, match="empty.jpg is empty"):
        faces.read_image(empty)


def test_truncated_jpeg(tmp_path, synthetic_jpeg):
    data = synthetic_jpeg.read_bytes()
    half, header = tmp_path / "half.jpg", tmp_path / "header.jpg"
    half.write_bytes(data[: len(data) // 2])
    header.write_bytes(data[:40])  # cut off inside the header: Pillow fails while opening
    with pytest.raises(faces.ImageReadError, match="half.jpg could not be decoded.*truncated"):
        faces.read_image(half)
    with pytest.raises(faces.ImageReadError, match="header.jpg could not be read.*truncated"):
        faces.read_image(header)


def test_not_an_image(tmp_path):
    text = tmp_path / "notes.jpg"
    text.write_text("these are not pixels\n" * 20)
    with pytest.raises(faces.ImageReadError, match="notes.jpg is not an image"):
        faces.read_image(text)


def test_decompression_bombs(tmp_path):
    bomb, bigger = tmp_path / "bomb.png", tmp_path / "bigger.png"
    Image.new("1", (10_000, 10_000)).save(bomb)  # 100 Mpx that compress to a few kB
    Image.new("1", (14_000, 14_000)).save(bigger)  # 196 Mpx: Pillow itself refuses to open it
    assert bomb.stat().st_size < 100_000
    with pytest.raises(faces.ImageReadError, match="bomb.png is 10000x10000 pixels, more than the 40,000,000 allowed"):
        faces.read_image(bomb)
    with pytest.raises(faces.ImageReadError, match="bigger.png has more than .* pixels, far more than the 40,000,000"):
        faces.read_image(bigger)


def test_no_face_is_an_error_unless_a_fallback_is_asked(tmp_path, model):
    wall = tmp_path / "wall.png"
    Image.fromarray(np.full((200, 200, 3), 180, np.uint8)).save(wall)
    with pytest.raises(faces.FaceNotFoundError, match="No face found in .*wall.png"):
        embeddings.img_to_encoding(wall, model)
    embedding = embeddings.img_to_encoding(wall, model, on_no_face="center")
    assert embedding.shape == (512,)


def test_tiny_image_has_no_face_rather_than_a_crash(model):
    with pytest.raises(faces.FaceNotFoundError):
        embeddings.img_to_encoding(np.zeros((8, 8, 3), np.uint8), model)


def test_wrong_type_and_shape():
    with pytest.raises(faces.ImageReadError, match="got int"):
        faces.read_image(42)
    with pytest.raises(faces.ImageReadError, match=r"\(H, W, 3\)"):
        faces.read_image(np.zeros((4, 4, 5), np.uint8))


@pytest.mark.parametrize("mode", ["L", "RGBA", "CMYK", "P", "I;16", "LA"])
def test_every_mode_becomes_rgb(tmp_path, face_jpeg, mode):
    rgb = Image.open(face_jpeg).convert("RGB")
    if mode == "I;16":
        converted = Image.fromarray((np.asarray(rgb.convert("L"), np.uint16) * 257))
    else:
        converted = rgb.convert(mode)
    path = tmp_path / ("photo.tiff" if mode in ("CMYK", "I;16") else "photo.png")
    converted.save(path)
    pixels = faces.read_image(path)
    assert pixels.shape == (250, 250, 3) and pixels.dtype == np.uint8
    # Every conversion keeps the picture: close to the grey version of the original.
    grey = np.asarray(rgb.convert("L"), np.float64)
    assert np.abs(pixels.mean(axis=2) - grey).mean() < 12


def test_exif_orientation_is_applied(tmp_path, face_jpeg):
    upright = Image.open(face_jpeg)
    rotated = upright.transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 clockwise to view": undoes ROTATE_90 (counter-clockwise)
    path = tmp_path / "rotated.jpg"
    rotated.save(path, exif=exif, quality=95)
    pixels = faces.read_image(path).astype(np.float64)
    assert np.abs(pixels - np.asarray(upright, np.float64)).mean() < 6


def test_same_embedding_for_path_pil_and_array(face_jpeg, model):
    from_path = embeddings.img_to_encoding(face_jpeg, model)
    from_pil = embeddings.img_to_encoding(Image.open(face_jpeg), model)
    from_array = embeddings.img_to_encoding(np.asarray(Image.open(face_jpeg)), model)
    assert from_path.shape == (512,) and from_path.dtype == np.float32
    assert abs(np.linalg.norm(from_path) - 1) < 1e-5
    np.testing.assert_allclose(from_pil, from_path, atol=1e-5)
    np.testing.assert_allclose(from_array, from_path, atol=1e-5)


def test_several_faces_take_the_main_one_and_say_so(lfw_photo, model):
    photo = faces.read_image(lfw_photo("Serena_Williams", 1))
    small = np.asarray(Image.fromarray(photo).resize((100, 100)))
    canvas = np.full((300, 400, 3), 128, np.uint8)
    canvas[20:120, 10:110] = small  # a small face in the corner
    canvas[50:300, 120:370] = photo  # the main face, large and central
    with pytest.warns(faces.SeveralFacesWarning, match="shows 2 faces"):
        crops, boxes, counts = faces.face_crops([canvas])
    x, y, w, h = boxes[0]
    assert counts == [2] and x > 120 and y > 50


def test_main_face_prefers_large_and_central():
    detections = [{"box": [0, 0, 30, 30]}, {"box": [40, 40, 20, 20]}, {"box": [150, 150, 40, 40]}]
    assert faces.main_face(detections, (100, 100)) == detections[1]
    assert faces.main_face([], (100, 100)) is None

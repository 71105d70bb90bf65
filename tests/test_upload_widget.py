"""The section 8 upload widget without a browser: every upload gets a sentence, never an exception.

The learner's functions are stand-ins here, so these tests need neither the model nor LFW;
tests/test_browser.py uploads real photos through the widget in JupyterLab.
"""

import datetime
import io
import warnings

import nbformat
import numpy as np
import pytest
from nbclient import NotebookClient
from PIL import Image

import faces
import try_it_yourself


def jpeg(width, height, color=(120, 140, 160)):
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buffer, "JPEG")
    return buffer.getvalue()


class Learner:
    """Stand-ins for the notebook's verify and who_is_it, recording their calls."""

    def __init__(self, raises=None):
        self.calls, self.raises = [], raises

    def who_is_it(self, path, database, model):
        self.calls.append(("who_is_it", path.suffix))
        if self.raises:
            raise self.raises(f"trouble with {path}")
        warnings.warn(f"{path} shows 2 faces; using the largest, most central one.", faces.SeveralFacesWarning)
        print("It's serena, the distance is 0.500.")
        return 0.5, "serena"

    def verify(self, path, identity, database, model):
        self.calls.append(("verify", path.suffix, identity))
        print(f"It's {identity}, welcome in!")
        return 0.625, True


def check(content, name="me.jpg", claimed="serena", learner=None, show=None):
    learner = learner or Learner()
    checked = try_it_yourself.check_photo(content, name, claimed, learner.verify, learner.who_is_it, {}, None, show)
    return checked, learner.calls


def test_a_photo_is_checked_with_both_functions(capsys):
    shown = []
    checked, calls = check(jpeg(200, 100), show=shown.append)
    out = capsys.readouterr().out
    assert checked and calls == [("who_is_it", ".jpg"), ("verify", ".jpg", "serena")]
    assert "Checking me.jpg (" in out and "200x100 pixels" in out
    assert "who_is_it: It's serena, the distance is 0.500." in out
    assert "verify as serena: It's serena, welcome in! (distance 0.625)" in out
    assert "Note: me.jpg shows 2 faces; using the largest, most central one." in out
    assert len(shown) == 1 and shown[0].shape == (100, 200, 3)


@pytest.mark.parametrize("content, name, expected", [
    (b"", "empty.jpg", "empty.jpg is empty (0 bytes)"),
    (b"just some notes", "notes.jpg", "notes.jpg is not an image Pillow can read"),
    (jpeg(9000, 6700), "huge.jpg", "huge.jpg is 9000x6700 pixels, more than the 40,000,000 allowed"),
    (jpeg(200, 100)[:-200], "cut.jpg", "cut.jpg could not be decoded"),
    (jpeg(200, 100)[:300], "header.jpg", "header.jpg could not be read (Truncated File Read); the file may be truncated or damaged"),
])
def test_a_bad_file_is_explained_and_nothing_is_called(capsys, content, name, expected):
    checked, calls = check(content, name)
    out = capsys.readouterr().out
    assert not checked and calls == []
    assert expected in out
    assert "/tmp" not in out and "upload." not in out, "the message names the learner's file, not ours"


def test_no_face_and_the_learners_errors_are_explained(capsys):
    checked, _ = check(jpeg(200, 100), "wall.jpg", learner=Learner(raises=faces.FaceNotFoundError))
    assert not checked
    assert "No face found in wall.jpg. Use a photo where one face is clearly visible" in capsys.readouterr().out
    checked, _ = check(jpeg(200, 100), "me.png", learner=Learner(raises=NotImplementedError))
    out = capsys.readouterr().out
    assert not checked
    assert "Your who_is_it raised NotImplementedError: trouble with me.png" in out
    assert "then run this cell again: until then the widget calls the old who_is_it" in out


def uploaded(name, content):
    return ({"name": name, "type": "image/jpeg", "size": len(content), "content": memoryview(content),
             "last_modified": datetime.datetime.now(datetime.timezone.utc)},)


def test_check_takes_the_photo_and_a_missing_photo_is_explained(capsys):
    learner = Learner()
    checker = try_it_yourself.UploadChecker(learner.verify, learner.who_is_it, {"serena": np.zeros(512)}, None)
    checker._show = lambda image: None
    first = checker.upload
    first.value = uploaded("me.jpg", jpeg(200, 100))
    checker.button.click()
    assert "who_is_it: It's serena" in capsys.readouterr().out
    # A fresh upload button replaces the used one: a photo dropped on the way (too large for the
    # notebook's connection) cannot leave an old photo to be checked again.
    assert checker.upload is not first and checker.controls.children[0] is checker.upload
    assert checker.upload.value == ()
    checker.button.click()
    out = capsys.readouterr().out
    assert "No photo has arrived." in out and "at most about 10 MB" in out
    assert len(learner.calls) == 1


def test_the_widget_says_it_needs_a_live_notebook_where_it_cannot_be_shown():
    checker = try_it_yourself.UploadChecker(Learner().verify, Learner().who_is_it, {}, None)
    bundle = checker._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert bundle["text/plain"] == try_it_yourself.NEEDS_LIVE_NOTEBOOK

    # As nbconvert --execute runs it: the cell's output says so.
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        "import try_it_yourself\n"
        "try_it_yourself.upload_widget(lambda *a: None, lambda *a: None, {'ada': None}, None)"
    )])
    NotebookClient(notebook, timeout=120, kernel_name="python3").execute()
    outputs = notebook.cells[0].outputs
    assert [output.output_type for output in outputs] == ["display_data"], outputs
    assert outputs[0].data["text/plain"] == try_it_yourself.NEEDS_LIVE_NOTEBOOK

"""Enrol yourself (try_it_yourself): several photos into a FaceDatabase, then found in a new one,
from a folder (headless) or through the upload widget (driven here without a browser)."""

import datetime
import shutil

import numpy as np
import pytest
from PIL import Image

import face_database
import try_it_yourself


@pytest.fixture(scope="module")
def my_photos(tmp_path_factory, lfw_photo):
    """A learner's folder: three photos of one face, one without a face, one empty file; and a
    new photo of the same face, and one of somebody else."""
    folder = tmp_path_factory.mktemp("my_photos")
    for number in (1, 2, 3):
        shutil.copy(lfw_photo("Serena_Williams", number), folder / f"me_{number}.jpg")
    Image.fromarray(np.full((200, 200, 3), 180, np.uint8)).save(folder / "wall.png")
    (folder / "empty.jpg").touch()
    (folder / "notes.txt").write_text("not a photo, and not looked at")
    return {"folder": folder, "new": lfw_photo("Serena_Williams", 18), "other": lfw_photo("Roh_Moo-hyun", 1),
            "colin": lfw_photo("Colin_Powell", 1)}


def test_enrol_from_a_folder_then_be_found_in_a_new_photo(model, my_photos, capsys):
    people = try_it_yourself.enrol_from_folder(my_photos["folder"], "ada", model, new_photo=my_photos["new"])
    out = capsys.readouterr().out
    assert isinstance(people, face_database.FaceDatabase) and people.photo_counts() == {"ada": 3}
    assert "Left out: No face found in wall.png." in out
    assert "Left out: " in out and "empty.jpg is empty (0 bytes)" in out
    assert "notes.txt" not in out
    assert "Enrolled ada with 3 photos. The database knows 1 person: ada." in out
    assert "Serena_Williams_0018.jpg: it's ada (distance 0." in out
    try_it_yourself.identify_photo(people, my_photos["other"])
    assert "Roh_Moo-hyun_0001.jpg: nobody the database knows. The nearest is ada, at 1." in capsys.readouterr().out


def test_enrol_into_the_graded_dict_of_one_embedding_per_name(model, my_photos, capsys):
    """The notebook's database, one embedding per name, with the learner added beside it."""
    colin = face_database.FaceDatabase(model).embed(my_photos["colin"])[0]
    people = try_it_yourself.enrol_from_folder(my_photos["folder"], "ada", model, database={"colin": colin})
    assert people.photo_counts() == {"ada": 3, "colin": 1}
    assert people.identify(my_photos["new"])[0] == "ada"
    capsys.readouterr()
    with pytest.raises(FileNotFoundError, match="is not a folder"):
        try_it_yourself.enrol_from_folder(my_photos["folder"] / "wall.png", "ada", model)


def test_nothing_is_enrolled_without_a_face_or_a_name(model, my_photos, capsys):
    people = face_database.FaceDatabase(model)
    folder = my_photos["folder"]
    assert try_it_yourself.enrol_photos(people, "ada", [folder / "wall.png", folder / "empty.jpg"]) == 0
    assert "None of the 2 photos could be used: ada was not enrolled." in capsys.readouterr().out
    assert try_it_yourself.enrol_photos(people, "  ", [folder / "me_1.jpg"]) == 0
    assert "Type your name in the box" in capsys.readouterr().out
    assert len(people) == 0


def uploads(*files):
    return tuple({"name": name, "type": "image/jpeg", "size": len(content), "content": memoryview(content),
                  "last_modified": datetime.datetime.now(datetime.timezone.utc)} for name, content in files)


def test_the_widget_enrols_uploads_and_finds_the_learner(model, my_photos, capsys):
    folder = my_photos["folder"]
    widget = try_it_yourself.EnrolWidget(model)
    widget.enrol_button.click()
    assert "No photos have arrived." in capsys.readouterr().out
    widget.name.value = "ada"
    first = widget.photos
    first.value = uploads(*[(f"me_{number}.jpg", (folder / f"me_{number}.jpg").read_bytes()) for number in (1, 2)],
                          ("holiday.png", (folder / "wall.png").read_bytes()), ("me_1.jpg", b"not a photo"))
    widget.enrol_button.click()
    out = capsys.readouterr().out
    assert "Left out: No face found in holiday.png." in out
    assert "Left out: me_1.jpg is not an image Pillow can read" in out
    assert "Enrolled ada with 2 photos." in out
    assert "/tmp" not in out, "the messages name the learner's files, not ours"
    # A fresh upload button replaces the used one (as in section 8's widget).
    assert widget.photos is not first and widget.photos in widget.enrol_row.children and widget.photos.multiple
    widget.new_photo.value = uploads(("today.jpg", my_photos["new"].read_bytes()))
    widget.identify_button.click()
    assert "today.jpg: it's ada (distance 0." in capsys.readouterr().out
    widget.identify_button.click()
    assert "No photo has arrived. Press \"New photo\"" in capsys.readouterr().out
    assert widget.people.photo_counts() == {"ada": 2}


def test_the_enrol_widget_says_it_needs_a_live_notebook_where_it_cannot_be_shown(model):
    bundle = try_it_yourself.EnrolWidget(model)._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert "needs a live notebook" in bundle["text/plain"]


"""An upload widget that checks the learner's own photo against the database.

The photo is read from the upload in memory and saved only to a temporary file for the
learner's ``verify`` and ``who_is_it`` (which take a path); nothing leaves the computer.
"""

import io
import tempfile
from pathlib import Path

from PIL import Image

import fr_utils


def _uploaded_bytes(upload):
    """The content of the last uploaded file (ipywidgets 8 gives a tuple of dicts)."""
    if not upload.value:
        return None, None
    item = upload.value[-1]
    return item["name"], bytes(item["content"])


def check_photo(photo_bytes, name, claimed, verify, who_is_it, database, model):
    """Run who_is_it, and verify against ``claimed``, on an uploaded photo. Prints the answers."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"upload{Path(name).suffix or '.jpg'}"
        path.write_bytes(photo_bytes)
        try:
            fr_utils.read_image(path)
            print("who_is_it:")
            who_is_it(path, database, model)
            if claimed:
                print(f"verify as {claimed}:")
                verify(path, claimed, database, model)
        except (fr_utils.ImageReadError, fr_utils.FaceNotFoundError) as problem:
            print(problem)


def upload_widget(verify, who_is_it, database, model):
    """Show an upload button, a name to verify against, and a place for the answers."""
    import ipywidgets as widgets
    from IPython.display import display

    upload = widgets.FileUpload(accept="image/*", multiple=False, description="Your photo")
    claimed = widgets.Dropdown(options=[""] + sorted(database), description="Claims to be")
    button = widgets.Button(description="Check", button_style="primary")
    output = widgets.Output()

    def on_click(_):
        output.clear_output()
        with output:
            name, content = _uploaded_bytes(upload)
            if content is None:
                print("Choose a photo first.")
                return
            thumbnail = Image.open(io.BytesIO(content))
            thumbnail.thumbnail((160, 160))
            display(thumbnail)
            check_photo(content, name, claimed.value, verify, who_is_it, database, model)

    button.on_click(on_click)
    box = widgets.VBox([widgets.HBox([upload, claimed, button]), output])
    display(box)


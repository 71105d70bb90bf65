"""An upload widget that checks the learner's own photo against the database.

The photo is read from the upload in memory and saved only to a temporary file for the
learner's ``verify`` and ``who_is_it`` (which take a path); nothing leaves the computer.

Whatever is uploaded, the widget's output area says what happened in a sentence: the answers for
a photo of a face, or what is wrong with the file (empty, not an image, too many pixels, no face)
or with the learner's functions. No exception reaches the widget.

One failure Python never sees: the notebook's connection to Python (a websocket of the Jupyter
server) drops any message over 10 MiB, its default limit, and an upload is one message. A larger
photo is then lost on the way, and its FileUpload widget sends nothing more afterwards. So each
Check takes the photo out of the upload button and puts a new button in its place, and a Check
that finds no photo says that the photo may have been too large, as well as how to choose one.

Where widgets cannot be shown (the notebook run by nbconvert or nbclient, without a screen), the
cell's output says instead that the upload needs a live notebook.
"""

import contextlib
import io
import tempfile
import warnings
from pathlib import Path

from PIL import Image

import faces

# The Jupyter server's limit on one websocket message (tornado's websocket_max_message_size).
UPLOAD_LIMIT_MB = 10
THUMBNAIL_SIZE = (160, 160)

NEEDS_LIVE_NOTEBOOK = (
    "The photo upload needs a live notebook: open this notebook in JupyterLab, Jupyter Notebook 7 "
    "or VS Code, run the cells, and use the upload button that this cell shows there. "
    "(This run has no screen, so there is no button to click.)"
)
NO_PHOTO = (
    "No photo has arrived. Press \"Your photo\", choose a JPEG or PNG photo of a face, then press "
    "Check.\nIf you did choose one, it did not reach Python: the notebook's connection carries at "
    f"most about {UPLOAD_LIMIT_MB} MB at a time and drops a larger file without a word. Make the "
    "photo smaller (a face needs only a few hundred pixels: resize it, or save it as a JPEG) and "
    "choose it again."
)
NO_FACE = (
    "No face found in {name}. Use a photo where one face is clearly visible, facing the camera, "
    "and at least 1/8 of the photo's height."
)


def _size_text(count):
    if count < 1000:
        return f"{count} bytes"
    if count < 1_000_000:
        return f"{count / 1000:.0f} KB"
    return f"{count / 1_000_000:.1f} MB"


def _uploaded_bytes(upload):
    """The name and content of the last uploaded file (ipywidgets 8 gives a tuple of dicts)."""
    if not upload.value:
        return None, None
    item = upload.value[-1]
    return item["name"], bytes(item["content"])


def _call(label, function, *args, describe=None):
    """Call the learner's function; print ``label`` and what it printed on one line.

    ``describe(result)`` may add to that line (e.g. the distance verify returned).
    """
    printed = io.StringIO()
    try:
        with contextlib.redirect_stdout(printed):
            result = function(*args)
    except BaseException:
        if printed.getvalue().strip():
            print(f"{label}: {printed.getvalue().strip()}")
        raise
    extra = ""
    if describe is not None:
        with contextlib.suppress(Exception):
            extra = describe(result)
    print(f"{label}: {printed.getvalue().strip() or '(printed nothing)'}{extra}")
    return result


def check_photo(photo_bytes, name, claimed, verify, who_is_it, database, model, show=None):
    """Run who_is_it, and verify against ``claimed``, on an uploaded photo; print the answers.

    Every problem is printed as a sentence that names the file, never raised: an empty file, a
    file that is not an image, a photo of more than ``settings.MAX_IMAGE_PIXELS`` pixels, a
    photo without a face, or an exception in ``verify`` or ``who_is_it``.

    Args:
        photo_bytes: the uploaded file's content.
        name: the uploaded file's name (for the messages).
        claimed: a name of the database to verify against, or "" for who_is_it alone.
        verify, who_is_it: the learner's functions; they take a path.
        database, model: passed on to them.
        show: called with the photo (an RGB array) once it has been read, e.g. to display it.

    Returns:
        True if the photo was checked, False if a problem was printed instead.
    """
    name = Path(name or "your photo").name
    if not photo_bytes:
        print(f"{name} is empty (0 bytes): there is no photo in it. Choose a JPEG or PNG photo "
              f"and press Check again.")
        return False
    with tempfile.TemporaryDirectory() as folder:
        suffix = Path(name).suffix.lower()
        path = Path(folder) / f"upload{suffix if suffix.isascii() and len(suffix) < 8 else ''}"
        path.write_bytes(photo_bytes)

        def said(problem):  # fr_utils' messages name the temporary file; name the upload instead
            return str(problem).replace(str(path), name)

        try:
            image = faces.read_image(path)
        except faces.ImageReadError as problem:
            print(said(problem))
            return False
        except Exception as error:  # Pillow's own errors, e.g. OSError for a cut-off header
            print(f"{name} could not be read as a photo: it may be truncated or damaged "
                  f"({type(error).__name__}: {said(error)}). Choose it again, or use another JPEG or PNG photo.")
            return False
        height, width = image.shape[:2]
        print(f"Checking {name} ({_size_text(len(photo_bytes))}, {width}x{height} pixels)")
        if show is not None:
            show(image)
        step = "who_is_it"
        try:
            with warnings.catch_warnings(record=True) as noted:
                warnings.simplefilter("always")
                _call("who_is_it", who_is_it, path, database, model)
                if claimed:
                    step = "verify"
                    _call(f"verify as {claimed}", verify, path, claimed, database, model,
                          describe=lambda result: f" (distance {float(result[0]):.3f})")
            for message in dict.fromkeys(str(warning.message) for warning in noted):
                print(f"Note: {said(message)}")  # e.g. several faces, the main one used
        except faces.FaceNotFoundError:
            print(NO_FACE.format(name=name))
            return False
        except faces.ImageReadError as problem:
            print(said(problem))
            return False
        except Exception as error:  # the learner's code: say what it raised, do not crash the widget
            print(f"Your {step} raised {type(error).__name__}: {said(error)}\nFix it in its cell and run "
                  f"that cell, then run this cell again: until then the widget calls the old {step}.")
            return False
    return True


class UploadChecker:
    """The widget: an upload button, a name to verify against, a Check button, an output area.

    Displaying it shows the widget in a live notebook; where widgets cannot be shown, the
    display's plain-text form says that a live notebook is needed.
    """

    def __init__(self, verify, who_is_it, database, model):
        import ipywidgets as widgets

        self._widgets = widgets
        self.functions = verify, who_is_it, database, model
        self.upload = self._new_upload()
        self.claimed = widgets.Dropdown(options=[""] + sorted(database), description="Claims to be",
                                        style={"description_width": "initial"})
        self.button = widgets.Button(description="Check", button_style="primary")
        self.hint = widgets.Label(f"JPEG or PNG, up to {UPLOAD_LIMIT_MB} MB")
        self.output = widgets.Output()
        self.controls = widgets.HBox([self.upload, self.claimed, self.button, self.hint])
        self.box = widgets.VBox([self.controls, self.output])
        self.button.on_click(self._on_click)

    def _new_upload(self):
        return self._widgets.FileUpload(accept="image/*", multiple=False, description="Your photo")

    def _take_photo(self):
        """The uploaded file, and a fresh upload button in place of the used one."""
        name, content = _uploaded_bytes(self.upload)
        used, self.upload = self.upload, self._new_upload()
        self.controls.children = (self.upload,) + tuple(self.controls.children[1:])
        used.close()
        return name, content

    def check(self):
        """What pressing Check does: print the answers, or why there are none, in the output."""
        self.output.clear_output()
        with self.output:
            try:
                name, content = self._take_photo()
                if content is None:
                    print(NO_PHOTO)
                    return
                verify, who_is_it, database, model = self.functions
                check_photo(content, name, self.claimed.value, verify, who_is_it, database, model,
                            show=self._show)
            except Exception as error:  # never leave the output area silent
                print(f"Something went wrong: {type(error).__name__}: {error}. Run this cell again.")

    def _on_click(self, _):
        self.check()

    @staticmethod
    def _show(image):
        from IPython.display import display

        thumbnail = Image.fromarray(image)
        thumbnail.thumbnail(THUMBNAIL_SIZE)
        display(thumbnail)

    def _repr_mimebundle_(self, include=None, exclude=None):
        bundle = self.box._repr_mimebundle_(include=include, exclude=exclude)
        bundle["text/plain"] = NEEDS_LIVE_NOTEBOOK
        return bundle


def upload_widget(verify, who_is_it, database, model):
    """Show an upload button, a name to verify against, and a place for the answers.

    Without ipywidgets, or without a screen (nbconvert), the cell says what it needs instead.
    """
    from IPython.display import display

    try:
        checker = UploadChecker(verify, who_is_it, database, model)
    except ImportError:
        print("The photo upload needs ipywidgets: python -m pip install -r requirements.txt, "
              "then restart the kernel.")
        return
    display(checker)

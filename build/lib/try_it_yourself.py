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

"Enrol yourself" (``enrol_widget``, or ``enrol_from_folder`` without a screen) adds the learner,
with several photos, to a ``face_database.FaceDatabase``, then finds them in a new photo.
"""

import contextlib
import io
import tempfile
import warnings
from pathlib import Path

import numpy as np
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


# ---------------------------------------------------------------------------------------------
# Enrol yourself: several photos of you in a FaceDatabase, then find you in a new photo
#
# The same steps with uploads (EnrolWidget, in a live notebook) or with a folder of photos
# (enrol_from_folder, anywhere). Each photo is checked on its own: one that cannot be read or
# shows no face is named and left out, and the others are enrolled together (FaceDatabase.add
# itself adds all or nothing).

ENROL_HINT = f"JPEG or PNG, several at once, up to {UPLOAD_LIMIT_MB} MB in all"
NO_PHOTOS = (
    "No photos have arrived. Press \"Your photos\", choose several JPEG or PNG photos of your face "
    "(hold Ctrl or Shift to choose more than one), then press Enrol.\nIf you did choose some, they "
    f"did not reach Python: the notebook's connection carries at most about {UPLOAD_LIMIT_MB} MB at a "
    "time and drops more without a word. Choose fewer or smaller photos (a face needs only a few "
    "hundred pixels)."
)


def face_database_of(database, model):
    """A FaceDatabase: ``database`` itself, a new one holding the graded dict {name: embedding}
    (``FaceDatabase.from_dict``), or an empty one when ``database`` is None."""
    import face_database

    if isinstance(database, face_database.FaceDatabase):
        return database
    if database is None:
        return face_database.FaceDatabase(model)
    return face_database.FaceDatabase.from_dict(model, database)


def _describe_problem(error, name):
    if isinstance(error, faces.FaceNotFoundError):
        return NO_FACE.format(name=name)
    return str(error)


def enrol_photos(people, identity, photos, names=None):
    """Enrol ``identity`` in ``people`` with the photos that show a face; print what happened.

    Args:
        people: a ``face_database.FaceDatabase``.
        identity: the name to enrol under (a non-empty str).
        photos: file paths (or PIL images, arrays).
        names: a name for each photo in the messages (default: the paths).

    Returns:
        How many photos were enrolled (0: none, and the database is unchanged).
    """
    import face_database

    names = names or [Path(photo).name if isinstance(photo, (str, Path)) else f"photo {index + 1}"
                      for index, photo in enumerate(photos)]
    try:
        face_database.check_identity(identity)
    except (TypeError, ValueError) as problem:
        print(f"{problem} Type your name in the box, then enrol again.")
        return 0
    good = []
    for photo, name in zip(photos, names):
        with warnings.catch_warnings(record=True) as noted:
            warnings.simplefilter("always")
            try:
                good.append(people.embed([photo])[0])
            except (faces.ImageReadError, faces.FaceNotFoundError) as problem:
                print(f"Left out: {_describe_problem(problem, name)}")
                continue
        for message in dict.fromkeys(str(warning.message) for warning in noted):
            print(f"Note: {message}")
    if not good:
        print(f"None of the {len(names)} photos could be used: {identity} was not enrolled. "
              f"Choose photos where your face is clearly visible, facing the camera.")
        return 0
    before = len(people.embeddings(identity)) if identity in people else 0
    people.add_embeddings(identity, np.stack(good))
    print(f"Enrolled {identity} with {len(good)} photo{'s' if len(good) > 1 else ''}"
          + (f" (now {before + len(good)} in all)" if before else "")
          + f". The database knows {len(people)} {'person' if len(people) == 1 else 'people'}: {', '.join(people.identities())}.")
    if len(good) + before == 1:
        print("One photo works (one-shot learning); two or three of different days and light work better.")
    return len(good)


def identify_photo(people, photo, name=None):
    """Run ``people.identify`` on a photo and print the answer in a sentence.

    Returns:
        (identity or None, distance), or None if the photo could not be used (the reason printed).
    """
    name = name or (Path(photo).name if isinstance(photo, (str, Path)) else "the photo")
    if not len(people):
        print("The database is empty: enrol someone first.")
        return None
    try:
        with warnings.catch_warnings(record=True) as noted:
            warnings.simplefilter("always")
            [vector] = people.embed([photo])
        for message in dict.fromkeys(str(warning.message) for warning in noted):
            print(f"Note: {message}")
    except (faces.ImageReadError, faces.FaceNotFoundError) as problem:
        print(_describe_problem(problem, name))
        return None
    [(nearest, distance)] = people.identify_embeddings(vector, threshold=np.inf)
    identity = nearest if distance < people.threshold else None
    if identity is None:
        print(f"{name}: nobody the database knows. The nearest is {nearest}, at {distance:.3f}, not below "
              f"the threshold {people.threshold:.2f}.")
    else:
        print(f"{name}: it's {identity} (distance {distance:.3f}, below the threshold {people.threshold:.2f}).")
    return identity, distance


def enrol_from_folder(folder, identity, model, database=None, new_photo=None):
    """Enrol yourself from a folder of your photos, then (optionally) find you in a new photo.

    The same steps as the upload widget, without a screen: every .jpg, .jpeg and .png photo of
    ``folder`` (not its subfolders) is checked; those that show a face are enrolled under
    ``identity``; then ``new_photo``, if given, is identified.

    Args:
        folder: a folder of photos of one person.
        identity: their name.
        model: the network from ``embeddings.load_facenet``.
        database: a FaceDatabase to add to, the graded dict {name: embedding} (copied into a new
            FaceDatabase), or None for a new, empty one.
        new_photo: a photo to identify afterwards (not one of the enrolled photos).

    Returns:
        The FaceDatabase.
    """
    import face_database

    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder} is not a folder. Put your photos in a folder and give its path "
                                f"(relative to {Path.cwd()}).")
    photos = sorted(path for path in folder.iterdir()
                    if path.is_file() and path.suffix.lower() in face_database.PHOTO_SUFFIXES)
    if not photos:
        raise FileNotFoundError(f"{folder} holds no .jpg, .jpeg or .png photos.")
    people = face_database_of(database, model)
    enrol_photos(people, identity, photos)
    if new_photo is not None:
        identify_photo(people, new_photo)
    return people


def _uploaded_files(upload):
    """[(name, content)] of every file of a FileUpload (ipywidgets 8 gives a tuple of dicts)."""
    return [(item["name"], bytes(item["content"])) for item in upload.value or ()]


@contextlib.contextmanager
def _as_files(uploads):
    """The uploads written to a temporary folder, each under its own name in a folder of its own;
    yields (paths, a function that puts the uploads' names back into a message)."""
    with tempfile.TemporaryDirectory() as folder:
        paths = []
        for index, (name, content) in enumerate(uploads):
            path = Path(folder) / str(index) / (Path(name or "photo").name or "photo")
            path.parent.mkdir()
            path.write_bytes(content)
            paths.append(path)

        def said(text):
            for index in range(len(paths)):
                text = text.replace(f"{folder}/{index}/", "")
            return text

        yield paths, said


class EnrolWidget:
    """Enrol yourself: a name, several photos, Enrol; then a new photo and Who is it?

    ``people`` is the FaceDatabase the widget adds to. Displaying it shows the widget in a live
    notebook; where widgets cannot be shown, the plain-text form says that a live notebook is needed.
    """

    def __init__(self, model, database=None):
        import ipywidgets as widgets

        self._widgets = widgets
        self.people = face_database_of(database, model)
        self.name = widgets.Text(description="Your name", placeholder="e.g. ada",
                                 style={"description_width": "initial"})
        self.photos = self._new_upload(multiple=True)
        self.enrol_button = widgets.Button(description="Enrol", button_style="primary")
        self.new_photo = self._new_upload(multiple=False)
        self.identify_button = widgets.Button(description="Who is it?", button_style="primary")
        self.output = widgets.Output()
        self.enrol_row = widgets.HBox([self.name, self.photos, self.enrol_button, widgets.Label(ENROL_HINT)])
        self.identify_row = widgets.HBox([self.new_photo, self.identify_button, widgets.Label("a photo not enrolled")])
        self.box = widgets.VBox([self.enrol_row, self.identify_row, self.output])
        self.enrol_button.on_click(lambda _: self.enrol())
        self.identify_button.on_click(lambda _: self.identify())

    def _new_upload(self, multiple):
        return self._widgets.FileUpload(accept="image/*", multiple=multiple,
                                        description="Your photos" if multiple else "New photo")

    def _take(self, row, attribute, multiple):
        """The files of an upload button, and a fresh button in its place (see UploadChecker)."""
        used = getattr(self, attribute)
        files = _uploaded_files(used)
        fresh = self._new_upload(multiple)
        setattr(self, attribute, fresh)
        row.children = tuple(fresh if child is used else child for child in row.children)
        used.close()
        return files

    def enrol(self):
        """What pressing Enrol does: enrol the uploaded photos under the name typed."""
        self.output.clear_output()
        with self.output:
            try:
                uploads = self._take(self.enrol_row, "photos", True)
                if not uploads:
                    print(NO_PHOTOS)
                    return
                with _as_files(uploads) as (paths, said), contextlib.redirect_stdout(io.StringIO()) as printed:
                    enrol_photos(self.people, self.name.value.strip() or self.name.value, paths,
                                 [Path(path).name for path in paths])
                print(said(printed.getvalue()), end="")
            except Exception as error:  # never leave the output area silent
                print(f"Something went wrong: {type(error).__name__}: {error}. Run this cell again.")

    def identify(self):
        """What pressing Who is it? does: identify the new photo."""
        self.output.clear_output()
        with self.output:
            try:
                uploads = self._take(self.identify_row, "new_photo", False)
                if not uploads:
                    print(NO_PHOTO.replace("Your photo", "New photo").replace("press Check", "press Who is it?"))
                    return
                with _as_files(uploads[-1:]) as (paths, said), contextlib.redirect_stdout(io.StringIO()) as printed:
                    identify_photo(self.people, paths[0], Path(paths[0]).name)
                print(said(printed.getvalue()), end="")
            except Exception as error:
                print(f"Something went wrong: {type(error).__name__}: {error}. Run this cell again.")

    def _repr_mimebundle_(self, include=None, exclude=None):
        bundle = self.box._repr_mimebundle_(include=include, exclude=exclude)
        bundle["text/plain"] = NEEDS_LIVE_NOTEBOOK.replace("the upload button", "the upload buttons")
        return bundle


def enrol_widget(model, database=None):
    """Show the enrol-yourself widget; returns it (its ``people`` is the FaceDatabase).

    Args:
        model: the network.
        database: the graded dict {name: embedding} to start from (copied), a FaceDatabase to
            add to, or None for an empty one.
    """
    from IPython.display import display

    try:
        widget = EnrolWidget(model, database)
    except ImportError:
        print("The photo upload needs ipywidgets: python -m pip install -r requirements.txt, "
              "then restart the kernel.")
        return None
    display(widget)
    return widget

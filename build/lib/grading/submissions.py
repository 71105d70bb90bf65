"""Finding the notebooks to grade, and reading their graded cells without trusting them.

A submission is read as data, never run here: its size is checked before it is read, its JSON
is parsed with a depth guard, and every field used is checked for its type. Anything unexpected
makes that one submission unreadable, with a reason that quotes none of its content; the other
submissions are graded. Paths that are not regular files (symbolic links, FIFOs, devices,
folders) are refused without being opened for reading.

Everything done here takes time in proportion to the notebook's size, which is checked first:
one JSON parse, one pass over the cells, and searches anchored at the start of a line. Turning
a cell into the Python IPython would run happens inside the sandbox (``cells.py``), within the
exercise's time limit.
"""

import json
import os
import re
import stat
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from exercises import contract

SIZE_LIMIT_BYTES = 20_000_000  # JupyterLab's notebooks for this course are about 30 kB to 2 MB
CELL_SOURCE_LIMIT = 1_000_000  # characters of one graded cell


class UnreadableSubmission(Exception):
    """The submission cannot be graded; the message says why, without quoting its content."""


@dataclass
class GradedCells:
    """The cells of one submission that hold the exercises, and notes about how they were found."""

    sources: dict  # exercise -> the cell's source (str)
    notes: list = field(default_factory=list)
    too_long: dict = field(default_factory=dict)  # exercise -> why its cell is not graded


def clean_text(text, limit=500):
    """``text`` on one line, without control or invisible formatting characters (no terminal
    escapes, no fake lines, no right-to-left overrides in reports), cut to ``limit``."""
    return "".join("?" if unicodedata.category(character) in ("Cc", "Cf", "Cs", "Zl", "Zp") else character
                   for character in str(text)[:limit])


def spreadsheet_cell(text):
    """``text`` for a CSV cell: cleaned, and never read as a formula by a spreadsheet."""
    text = clean_text(text, 1000)
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text


def find_submissions(paths):
    """The notebooks to grade, with the name each gets in the reports.

    Args:
        paths: notebooks and folders; a folder stands for every ``*.ipynb`` entry in it (sorted).

    Returns:
        [(path, name)], where a name is the path relative to the folder graded (for several
        arguments, relative to the folder they share). Entries are returned whatever their type;
        ``read_graded_cells`` refuses non-regular files.

    Raises:
        FileNotFoundError: a path does not exist, or a folder holds no .ipynb entries.
    """
    found, bases = [], []
    for path in (Path(path) for path in paths):
        if not os.path.lexists(path):
            raise FileNotFoundError(f"{path}: no such notebook or folder")
        if path.is_dir() and not path.is_symlink():
            entries = sorted(entry for entry in path.iterdir() if entry.name.endswith(".ipynb"))
            if not entries:
                raise FileNotFoundError(f"{path} holds no .ipynb notebooks")
            found += entries
            bases.append(path.absolute())
        else:
            found.append(path)
            bases.append(path.absolute().parent)
    base = Path(os.path.commonpath(bases)) if bases else Path.cwd()
    named = [(path, path.absolute().relative_to(base).as_posix()) for path in found]
    seen = set()
    return [(path, name) for path, name in named if not (name in seen or seen.add(name))]


def display_name(name):
    """A submission's name for tables and gradebooks: cleaned, and, when it is not written in
    Unicode's composed form (NFC), marked so that it cannot be taken for a name that is."""
    cleaned = clean_text(name)
    if unicodedata.is_normalized("NFC", name):
        return cleaned
    return f"{clean_text(unicodedata.normalize('NFC', name))} [decomposed Unicode: {ascii(name)[1:-1]}]"


def note_lookalike_names(reports):
    """Add a note to each report whose name differs from another's only in Unicode normalisation
    (José written with é, or with e and a combining accent): they look alike but are two files."""
    groups = {}
    for report in reports:
        groups.setdefault(unicodedata.normalize("NFC", report["submission"]), []).append(report)
    for group in groups.values():
        names = sorted({report["submission"] for report in group})
        if len(names) > 1:
            listed = " and ".join(ascii(name) for name in names)
            for report in group:
                note = f"names that look alike but differ in their Unicode characters were graded apart: {listed}"
                if note not in report["notes"]:
                    report["notes"].append(clean_text(note))


def _read_bytes(path):
    """The file's bytes, refusing anything but a regular file of at most SIZE_LIMIT_BYTES."""
    try:
        info = os.lstat(path)
    except OSError as error:
        raise UnreadableSubmission(f"the file cannot be examined ({error.strerror})") from None
    if stat.S_ISLNK(info.st_mode):
        raise UnreadableSubmission("it is a symbolic link, not a notebook file; copy the notebook itself into the folder")
    if not stat.S_ISREG(info.st_mode):
        raise UnreadableSubmission("it is not a regular file (a folder, FIFO or device); only notebook files are graded")
    if info.st_size > SIZE_LIMIT_BYTES:
        raise UnreadableSubmission(
            f"it is {info.st_size / 1e6:.1f} MB, over the {SIZE_LIMIT_BYTES / 1e6:.0f} MB limit; clear the outputs "
            "(Edit > Clear Outputs of All Cells) and save again")
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as error:
        raise UnreadableSubmission(f"the file cannot be opened ({error.strerror})") from None
    with os.fdopen(descriptor, "rb") as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            raise UnreadableSubmission("it is not a regular file")
        data = handle.read(SIZE_LIMIT_BYTES + 1)
    if len(data) > SIZE_LIMIT_BYTES:
        raise UnreadableSubmission(f"it is over the {SIZE_LIMIT_BYTES / 1e6:.0f} MB limit")
    return data


def _parse(data):
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise UnreadableSubmission("it is not UTF-8 text, so not a notebook saved by Jupyter") from None
    try:
        notebook = json.loads(text)
    except RecursionError:
        raise UnreadableSubmission("its JSON is nested too deeply to be a notebook") from None
    except ValueError as error:
        position = f" (line {error.lineno}, column {error.colno})" if hasattr(error, "lineno") else ""
        raise UnreadableSubmission(f"it is not valid JSON{position}, so not a notebook") from None
    if not isinstance(notebook, dict) or not isinstance(notebook.get("cells"), list):
        raise UnreadableSubmission("it has no list of cells, so it is not a Jupyter notebook")
    if notebook.get("nbformat") != 4:
        raise UnreadableSubmission("it is not in notebook format 4 (the format JupyterLab and Notebook 7 save)")
    return notebook


def _cell_fields(cell, number):
    """(cell_type, source, grade_id or None) of one cell, each checked for its type."""
    if not isinstance(cell, dict):
        raise UnreadableSubmission(f"cell {number} is not an object")
    cell_type = cell.get("cell_type")
    if not isinstance(cell_type, str):
        raise UnreadableSubmission(f"cell {number} has no cell_type")
    source = cell.get("source", "")
    if isinstance(source, list) and all(isinstance(line, str) for line in source):
        source = "".join(source)
    if not isinstance(source, str):
        raise UnreadableSubmission(f"cell {number}'s source is neither text nor a list of lines")
    try:
        grade_id = contract.nbgrader_metadata(cell, strict=True).get("grade_id")
    except ValueError as problem:
        raise UnreadableSubmission(f"cell {number}: {problem}") from None
    return cell_type, source, grade_id


def read_graded_cells(path, exercises):
    """The cell of each exercise in a submission.

    A cell belongs to an exercise by its nbgrader ``grade_id`` (kept by JupyterLab when the
    learner edits the cell); if no cell has it (metadata lost by copying the code into a new
    cell), the last cell that starts a line with ``def <exercise>(`` is used, as the notebook
    itself would use the last definition. When several cells carry the same grade_id, the last
    one is graded and a note says so.

    Args:
        path: the notebook file.
        exercises: the exercise names (the grade_ids of the solution cells).

    Returns:
        GradedCells; exercises with no cell are absent from ``sources``.

    Raises:
        UnreadableSubmission: not a regular file, too large, or not a well-formed notebook.
    """
    notebook = _parse(_read_bytes(path))
    by_grade_id, by_definition, notes = {}, {}, []
    for number, cell in enumerate(notebook["cells"], start=1):
        cell_type, source, grade_id = _cell_fields(cell, number)
        if cell_type != "code":
            continue
        if grade_id in exercises:
            by_grade_id.setdefault(grade_id, []).append((number, source))
        for exercise in exercises:
            if re.search(rf"^def {re.escape(exercise)}\(", source, re.M):
                by_definition[exercise] = source
    sources = {}
    for exercise in exercises:
        if exercise in by_grade_id:
            found = by_grade_id[exercise]
            if len(found) > 1:
                numbers = ", ".join(str(number) for number, _ in found[:20]) + (", ..." if len(found) > 20 else "")
                notes.append(f"cells {numbers} all carry grade_id {exercise!r}; the last one was graded. "
                             "Delete the copies (nbgrader refuses duplicate grade_ids).")
            sources[exercise] = found[-1][1]
        elif exercise in by_definition:
            sources[exercise] = by_definition[exercise]
    too_long = {}
    for exercise, source in list(sources.items()):
        if len(source) > CELL_SOURCE_LIMIT:
            del sources[exercise]
            too_long[exercise] = (f"the {exercise} cell has {len(source):,} characters, more than the {CELL_SOURCE_LIMIT:,} "
                                  "a graded cell may have: remove what it does not need (blank lines, pasted output)")
    return GradedCells(sources, notes, too_long)

"""Reading submissions as data, in time that grows with their size, never faster: names and
messages made safe, cells made the Python IPython would run, names that only look alike told apart."""

import json
import unicodedata

from IPython.core import inputtransformer2

from grading import cells, submissions


def test_messages_stay_on_one_line_without_escapes_or_invisible_characters():
    text = "x\n  total          10 / 10\x1b[2J\u202eevil\udcff"
    assert submissions.clean_text(text) == "x?  total          10 / 10?[2J?evil?"
    assert len(submissions.clean_text("y" * 1000)) == 500


def test_a_gradebook_cell_is_never_a_formula():
    assert submissions.spreadsheet_cell('=HYPERLINK("http://example.invalid")') == "'=HYPERLINK(\"http://example.invalid\")"
    for text in ("+1", "-1", "@SUM(A1)"):
        assert submissions.spreadsheet_cell(text) == "'" + text
    assert submissions.spreadsheet_cell("alice.ipynb") == "alice.ipynb"


SOURCE = '''import numpy as np
x = %time 1
def f():
    s = """
%not a magic
"""
    %time y = 2
    return s
np.linalg.norm?
!ls
files = !ls
??np
'''


def test_cells_become_the_python_ipython_would_run_and_plain_code_is_untouched():
    plain = "def f():\n    return 1\n"
    assert cells.as_python(plain) is plain
    assert cells.as_python(SOURCE) == inputtransformer2.TransformerManager().transform_cell(SOURCE)
    assert cells.as_python("%%time\ndef f():\n    return 1\n") == \
        "get_ipython().run_cell_magic('time', '', 'def f():\\n    return 1\\n')\n"
    assert cells.as_python("def verify():\n    return 1\nnp.linalg.norm?") == \
        "def verify():\n    return 1\nget_ipython().run_line_magic('pinfo', 'np.linalg.norm')"


def _tokenised_characters(monkeypatch):
    """Count the characters IPython's tokeniser and transformer are given (their work)."""
    counted = [0]
    tokenise, transform = inputtransformer2.make_tokens_by_line, inputtransformer2.TransformerManager.transform_cell

    def counting_tokenise(lines):
        counted[0] += sum(len(line) for line in lines)
        return tokenise(lines)

    def counting_transform(self, cell):
        counted[0] += len(cell)
        return transform(self, cell)

    monkeypatch.setattr(inputtransformer2, "make_tokens_by_line", counting_tokenise)
    monkeypatch.setattr(inputtransformer2.TransformerManager, "transform_cell", counting_transform)
    return counted


def test_turning_a_cell_into_python_costs_in_proportion_to_its_size(monkeypatch):
    counted = _tokenised_characters(monkeypatch)
    work = {}
    for magics in (200, 800):
        counted[0] = 0
        cells.as_python("".join(f"%time x_{index} = {index}\n" for index in range(magics)) + "\n" * (50 * magics))
        work[magics] = counted[0]
    # Four times the cell, at most about four times the work (IPython alone: sixteen times).
    assert work[800] / work[200] < 5, work


def test_the_quadratic_ways_are_told_apart_by_this_measure(monkeypatch):
    """The measure above fails IPython's own transform_cell, which tokenises the whole cell again
    for each magic: a wrong (quadratic) implementation does not pass it."""
    counted = _tokenised_characters(monkeypatch)
    work = {}
    for magics in (50, 200):
        counted[0] = 0
        inputtransformer2.TransformerManager().transform_cell("".join(f"%time x_{index} = {index}\n" for index in range(magics)))
        work[magics] = counted[0]
    assert work[200] / work[50] > 8, work


def _notebook_with_a_cell(source):
    return json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [
        {"cell_type": "code", "metadata": {"nbgrader": {"grade_id": "verify", "solution": True}}, "source": source,
         "outputs": [], "execution_count": None}]})


def test_reading_a_notebook_does_not_transform_its_cells_and_ends_quickly(tmp_path, monkeypatch):
    counted = _tokenised_characters(monkeypatch)
    path = tmp_path / "blank_lines.ipynb"
    path.write_text(_notebook_with_a_cell("def verify():\n    pass\n" + "\n" * 900_000 + "%time x = 1\n" * 600))
    graded = submissions.read_graded_cells(path, ["verify"])
    assert graded.sources["verify"].startswith("def verify():") and counted[0] == 0
    path.write_text(_notebook_with_a_cell("def verify():\n    pass\n" + "\n" * 1_000_000))
    graded = submissions.read_graded_cells(path, ["verify", "who_is_it"])
    assert graded.sources == {} and "more than the 1,000,000 a graded cell may have" in graded.too_long["verify"]


def test_names_tell_apart_what_only_looks_alike(tmp_path):
    composed, decomposed = unicodedata.normalize("NFC", "José.ipynb"), unicodedata.normalize("NFD", "José.ipynb")
    assert composed != decomposed
    assert submissions.display_name(composed) == composed
    assert submissions.display_name(decomposed) != submissions.display_name(composed)
    assert "decomposed" in submissions.display_name(decomposed)
    reports = [{"submission": composed, "notes": []}, {"submission": decomposed, "notes": []}, {"submission": "a.ipynb", "notes": []}]
    submissions.note_lookalike_names(reports)
    assert all("look alike" in report["notes"][0] for report in reports[:2]) and reports[2]["notes"] == []


def test_names_are_relative_to_the_folder_graded(tmp_path):
    (tmp_path / "class" / "b").mkdir(parents=True)
    for name in ("class/alice.ipynb", "class/bob.ipynb", "class/b/carol.ipynb"):
        (tmp_path / name).write_text("{}")
    assert [name for _, name in submissions.find_submissions([tmp_path / "class"])] == ["alice.ipynb", "bob.ipynb"]
    assert [name for _, name in submissions.find_submissions([tmp_path / "class", tmp_path / "class" / "b"])] == \
        ["alice.ipynb", "bob.ipynb", "b/carol.ipynb"]
    assert [name for _, name in submissions.find_submissions([tmp_path / "class" / "bob.ipynb"])] == ["bob.ipynb"]

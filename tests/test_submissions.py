"""Reading submissions as data: names and messages made safe, IPython's magics made Python."""

from tests.grading import submissions


def test_messages_stay_on_one_line_without_escapes_or_invisible_characters():
    text = "x\n  total          10 / 10\x1b[2J\u202eevil\udcff"
    assert submissions.clean_text(text) == "x?  total          10 / 10?[2J?evil?"
    assert len(submissions.clean_text("y" * 1000)) == 500


def test_a_gradebook_cell_is_never_a_formula():
    assert submissions.spreadsheet_cell('=HYPERLINK("http://example.invalid")') == "'=HYPERLINK(\"http://example.invalid\")"
    for text in ("+1", "-1", "@SUM(A1)"):
        assert submissions.spreadsheet_cell(text) == "'" + text
    assert submissions.spreadsheet_cell("alice.ipynb") == "alice.ipynb"


def test_magics_become_the_calls_ipython_would_make_and_plain_code_is_untouched():
    plain = "def f():\n    return 1\n"
    assert submissions.as_python(plain) is plain
    assert submissions.as_python("%%time\ndef f():\n    return 1\n") == \
        "get_ipython().run_cell_magic('time', '', 'def f():\\n    return 1\\n')\n"
    assert "get_ipython().system('pip install x')" in submissions.as_python("!pip install x\nx = 1\n")

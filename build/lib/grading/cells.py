"""A notebook cell as the Python IPython would run, in time that grows linearly with the cell.

IPython turns a cell's magics (``%time x = f()``, ``%%time``), shell lines (``!pip install ...``,
``files = !ls``) and help lines (``np.linalg.norm?``, ``??np``) into ``get_ipython()`` calls
before running it. Its ``TransformerManager.transform_cell`` re-tokenises the whole cell once per
such line, so a cell with many of them costs time in the square of its size. Here the cell is
tokenised once (IPython's own tokeniser, which tells a ``%`` at the start of a line from one
inside a string), and each line that needs it is transformed alone, by IPython, so the result
is IPython's own and the cost stays in proportion to the cell's size.

Runs inside the grading sandbox (``child.py``), where a cell's own time limit bounds it too.
"""

import re

# Lines IPython may transform: a magic, a shell or a help line (%, !, ? first), an assignment of
# one (x = %time ..., files = !ls), or a help line ending with ? or ??. Linear: each pattern is
# anchored at a line's start or matches a single character.
CANDIDATE = re.compile(r"^[ \t]*[%!?]|^[ \t]*[\w.]+[ \t]*=[ \t]*[%!]|\?[ \t]*$", re.M)
ESCAPES = ("%", "%%", "!", "!!", "?", "??")
SKIPPED_TOKEN_TYPES = {0, 5, 6}  # ENDMARKER, INDENT, DEDENT


def _transform(chunk):
    """IPython's transformation of a few lines that hold one logical line, kept at its indentation."""
    from IPython.core.inputtransformer2 import TransformerManager

    indent = chunk[: len(chunk) - len(chunk.lstrip(" \t"))]
    body = "".join(line[len(indent):] if line.startswith(indent) else line for line in chunk.splitlines(keepends=True))
    result = TransformerManager().transform_cell(body)
    if not chunk.endswith("\n"):
        result = result.rstrip("\n")
    return "".join(indent + line if line.strip() else line for line in result.splitlines(keepends=True))


def _needs_transform(tokens):
    significant = [token for token in tokens if token.type not in SKIPPED_TOKEN_TYPES and token.string.strip()]
    if not significant:
        return False
    first = significant[0].string
    if first in ESCAPES or first[:1] in ("%", "!", "?"):
        return True
    if len(significant) >= 3 and significant[1].string == "=" and significant[2].string[:1] in ("%", "!"):
        return True
    return significant[-1].string == "?"


def as_python(source):
    """``source`` (a cell) as the Python IPython would run; unchanged when it needs nothing.

    A cell magic on the first line (``%%time``) makes the whole cell one ``run_cell_magic`` call,
    as in IPython. A cell IPython cannot tokenise is returned unchanged: Python then reports the
    syntax error, as the notebook would.
    """
    if not CANDIDATE.search(source):
        return source
    from IPython.core.inputtransformer2 import make_tokens_by_line

    if source.lstrip().startswith("%%"):
        try:
            return _transform(source.lstrip("\n"))
        except Exception:  # noqa: BLE001 - IPython could not parse it; Python will say what is wrong
            return source
    lines = source.splitlines(keepends=True)
    try:
        logical_lines = make_tokens_by_line(lines)
    except Exception:  # noqa: BLE001
        return source
    replaced = {}
    for tokens in logical_lines:
        if not _needs_transform(tokens):
            continue
        rows = [token.start[0] for token in tokens if token.type not in SKIPPED_TOKEN_TYPES]
        first, last = min(rows), max(token.end[0] for token in tokens if token.type not in SKIPPED_TOKEN_TYPES)
        if first < 1 or last > len(lines):
            continue
        try:
            replaced[first] = (last, _transform("".join(lines[first - 1:last])))
        except Exception:  # noqa: BLE001 - left as it is; Python will say what is wrong
            continue
    if not replaced:
        return source
    out, row = [], 1
    while row <= len(lines):
        if row in replaced:
            last, text = replaced[row]
            out.append(text if text.endswith("\n") or last == len(lines) else text + "\n")
            row = last + 1
        else:
            out.append(lines[row - 1])
            row += 1
    return "".join(out)

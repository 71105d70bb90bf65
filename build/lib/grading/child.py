"""Runs ONE exercise of ONE submission inside the grading sandbox, and reports plain answers.

    python child.py job.json

The grader (``grading/grader.py``) starts this script inside the OS sandbox
(``grading/sandbox.py``), next to ``answers.py``, ``cells.py`` and the project's modules (code
only: no solutions, no photos), and a read-only job file:

    {"exercise": "who_is_it",
     "cells": [{"exercise": "triplet_loss", "source": ...}, ..., {"exercise": "who_is_it", "source": ...}],
     "hidden_test": the instructor's hidden-test code for this exercise, or "",
     "cases": [plain cases], "databases": {key: {name: [512 numbers]}}, "encodings": {photo: [512 numbers]},
     "notebook": {"database": {name: [512 numbers]}, "threshold": 1.11, "photos": {photo: [512 numbers]}},
     "output_limit": characters the cells may print}

The cells run in order in one namespace, as the released notebook would hold it when run top to
bottom: its imports (``np``, ``tf``, ``fr_utils``, ...), ``model``, ``database``, ``THRESHOLD``,
IPython's ``display`` and ``get_ipython``, and the learner's earlier exercises (so ``who_is_it``
may call the learner's ``verify``). ``img_to_encoding``, wherever the cells find it, returns the
encodings the grader computed. An earlier exercise's cell that fails is passed over, as the
notebook would go on; the graded cell that fails is the answer.

It prints ONE line of JSON on its original standard output and exits:

    {"answers": [one answer per case, see answers.py], "hidden_test": None | "what failed"}
    or {"error": "what went wrong"}

Nothing in this process knows a right answer: the cases hold inputs only, and the grader checks
the answers' values in its own process. A submission that rewrites this script, its modules or
its output changes only its own answers, which must still be right on inputs drawn for this run.
"""

import json
import os
import sys
import types

HIDDEN_TEST_FILE = "<hidden test>"


def _helpers():
    """(answers, cells): side by side with this file in the sandbox; in the project, packages."""
    try:
        import answers
        import cells
    except ImportError:  # run in the project's own process (the test suite)
        from exercises import answers
        from grading import cells
    return answers, cells


class OutputLimitExceeded(Exception):
    """The submission printed more than the grader allows."""


class CappedWriter:
    """A text stream that keeps nothing and raises once ``limit`` characters were written."""

    def __init__(self, limit):
        self.limit, self.written, self.exceeded = limit, 0, False

    def write(self, text):
        self.written += len(text)
        if self.written > self.limit:
            self.exceeded = True
            raise OutputLimitExceeded(f"the cell printed more than {self.limit:,} characters")
        return len(text)

    def flush(self):
        pass

    def isatty(self):
        return False


class LazyModule(types.ModuleType):
    """A module imported on first use (TensorFlow takes seconds; most cells never touch it)."""

    def __init__(self, name, after=None):
        super().__init__(name)
        self._after = after

    def __getattr__(self, attribute):
        import importlib

        module = importlib.import_module(self.__name__)
        if self._after is not None:
            self._after(module)
            self._after = None
        return getattr(module, attribute)


class Shell:
    """What ``get_ipython()`` returns here: cells came through IPython's transformation
    (cells.as_python), so their magics are calls to these methods. Cell magics whose body is
    Python (``%%time``, ``%%timeit``, ``%%capture``) run the body; other magics, help lines and
    shell commands do nothing."""

    PYTHON_BODY = ("time", "timeit", "capture", "prun")

    def __init__(self, namespace):
        self.namespace, self.filename = namespace, "<cell>"
        self.user_ns = namespace

    def run_cell_magic(self, name, line, cell):
        if name in self.PYTHON_BODY:
            _, cells = _helpers()
            exec(compile(cells.as_python(cell), self.filename, "exec"), self.namespace)  # noqa: S102

    def run_line_magic(self, name, line, *unused):
        return None

    def system(self, command):
        return None

    def getoutput(self, command):
        return []


class StandInModel:
    """The ``model`` a cell sees: the grader computed every encoding with the real FaceNet."""

    def __repr__(self):
        return "<FaceNet (the grader's stand-in: img_to_encoding returns the encodings it computed)>"


def notebook_namespace(job, encode):
    """The names the released notebook defines before its exercise cells, with stand-ins where
    the real thing would need the model or the photos."""
    import numpy as np

    notebook = job["notebook"]
    model = StandInModel()

    def patch(module):
        for attribute in ("img_to_encoding",):
            if hasattr(module, attribute):
                setattr(module, attribute, encode)
        if hasattr(module, "load_facenet"):
            module.load_facenet = lambda *unused, **also_unused: model

    tests = types.ModuleType("public_tests")
    for name in ("triplet_loss_test", "verify_test", "who_is_it_test", "camera_table", "print_camera_table"):
        setattr(tests, name, lambda *unused, **also_unused: None)  # the grader runs the tests itself
    namespace = {
        "__name__": "__main__", "np": np,
        "tf": LazyModule("tensorflow") if job["exercise"] != "triplet_loss" else __import__("tensorflow"),
        "plt": LazyModule("matplotlib.pyplot"),
        "fr_utils": LazyModule("fr_utils", after=patch),
        "face_database": LazyModule("face_database"), "lfw": LazyModule("lfw"), "plots": LazyModule("plots"),
        "triplet_training": LazyModule("triplet_training"), "public_tests": tests,
        "img_to_encoding": encode, "load_facenet": lambda *unused, **also_unused: model,
        "model": model, "THRESHOLD": notebook["threshold"],
        "database": {name: np.asarray(vector, np.float32) for name, vector in notebook["database"].items()},
        "display": lambda *unused, **also_unused: None,
    }
    shell = Shell(namespace)
    namespace["get_ipython"] = lambda: shell
    return namespace


def _line_in(error, filename):
    """The line of ``filename`` an exception came from (None if it did not come from there)."""
    line = getattr(error, "lineno", None) if isinstance(error, SyntaxError) else None
    trace = error.__traceback__
    while trace is not None:
        if trace.tb_frame.f_code.co_filename == filename:
            line = trace.tb_lineno
        trace = trace.tb_next
    return line


def _text(error):
    try:
        return str(error)
    except BaseException:  # noqa: BLE001 - a hostile __str__
        return "?"


def cell_error(error, exercise, filename):
    """The message for a cell that failed before its function could be called."""
    line = _line_in(error, filename)
    where = f" at line {line}" if line else ""
    return (f"the cell raised {type(error).__name__}{where} when it ran, before {exercise} could be called: "
            f"{_text(error)}")[:500]


def hidden_test_failure(error):
    """The message for an instructor's hidden test that failed."""
    line = _line_in(error, HIDDEN_TEST_FILE)
    where = f" (its line {line})" if line else ""
    text = _text(error)
    return f"an instructor's hidden test failed{where}: {type(error).__name__}{': ' + text if text else ''}"[:500]


class _Answer(Exception):
    """The message to send; raised to stop the job where it is."""


def run_job(job):
    """The message for one job (see the module docstring): the learner's cells, the hidden test,
    then the cases. Prints of the cells go nowhere (and stop the job past the job's limit)."""
    import numpy as np

    answers, cells = _helpers()
    exercise = job["exercise"]
    # Taken before any submitted code runs, so that a cell that rewrites answers.py's functions
    # does not change how the cases are called, nor which database objects they share.
    call, databases = answers.call, answers.materialise(job["databases"])
    objects = [databases[case] if "database" in case else None for case in job["cases"]]
    encodings = {photo: np.asarray(vector, np.float32) for photo, vector in {**job["notebook"]["photos"],
                                                                              **job["encodings"]}.items()}
    encode = answers.stand_in_encoder(encodings, unknown="stand-in")
    namespace = notebook_namespace(job, encode)
    capped = CappedWriter(job["output_limit"])
    saved = sys.stdout, sys.stderr
    sys.stdout = sys.stderr = capped

    def stop_if_too_much():
        if capped.exceeded:
            raise _Answer({"error": f"the cell printed more than {capped.limit:,} characters"})

    try:
        for cell in job["cells"]:
            filename = f"<graded cell {cell['exercise']}>"
            namespace["get_ipython"]().filename = filename
            try:
                exec(compile(cells.as_python(cell["source"]), filename, "exec"), namespace)  # noqa: S102
            except BaseException as error:  # noqa: BLE001 - the submission's own failure, reported as data
                stop_if_too_much()
                if cell["exercise"] == exercise:
                    raise _Answer({"error": cell_error(error, exercise, filename)}) from None
        function = namespace.get(exercise)
        if not callable(function):
            raise _Answer({"error": f"the cell does not define a function called {exercise}"})
        hidden = None
        if job["hidden_test"]:
            try:
                exec(compile(job["hidden_test"], HIDDEN_TEST_FILE, "exec"), namespace)  # noqa: S102
            except BaseException as error:  # noqa: BLE001 - the instructor's test failed
                stop_if_too_much()
                hidden = hidden_test_failure(error)
        results = []
        try:
            for case, database in zip(job["cases"], objects):
                results.append(call(function, case, database, encode, model=namespace["model"]))
                stop_if_too_much()
        except _Answer:
            raise
        except BaseException as error:  # noqa: BLE001 - this script's own code, broken by the cell
            stop_if_too_much()
            raise _Answer({"error": f"the grading process failed ({type(error).__name__}) after the cell changed "
                                    "something it relies on (Python's built-ins, numpy or this process's modules)"}) from None
        return {"answers": results, "hidden_test": hidden}
    except _Answer as answer:
        return answer.args[0]
    finally:
        sys.stdout, sys.stderr = saved


def main():
    # The answer goes out on a private copy of stdout; fds 1 and 2 then lead nowhere, so that
    # prints from C code (TensorFlow's logs) do not mix with it.
    answer_fd = os.dup(1)
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 1)
    os.dup2(null, 2)
    import landlock

    landlock.restrict_writes(["/tmp", "/dev"])  # before any submitted code: no /proc/self/oom_score_adj
    with open(sys.argv[1]) as handle:
        job = json.load(handle)
    message = run_job(job)
    payload = (json.dumps(message) + "\n").encode()
    while payload:
        payload = payload[os.write(answer_fd, payload):]
    os._exit(0)  # skip interpreter shutdown: the submission may have left threads or handlers


if __name__ == "__main__":
    main()

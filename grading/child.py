"""Runs ONE exercise of ONE submission inside the grading sandbox, and reports plain answers.

    python child.py job.json

The grader (``grading/grader.py``) starts this script inside the OS sandbox
(``grading/sandbox.py``), next to ``answers.py``, ``cells.py``, ``landlock.py`` and the project's
modules (code only: no solutions), in a folder holding the notebook's photos (``images/``), with
a read-only job file:

    {"exercise": "who_is_it",
     "cells": [{"kind": "notebook", "source": ...}, {"kind": "exercise", "exercise": "verify", "source": ...}, ...],
     "hidden_test": the instructor's hidden-test code for this exercise, or "",
     "cases": [plain cases], "databases": {key: {name: [512 numbers]}}, "encodings": {photo: [512 numbers]},
     "notebook": {"database": {name: [512 numbers]}, "threshold": 1.11, "photos": {photo: [512 numbers]}},
     "output_limit": characters the cells may print}

The cells are the released notebook's, top to bottom up to the graded exercise, with the
student's exercise cells in their places: so a graded cell finds every name the notebook gave it
(``np``, ``tf``, ``fr_utils``, ``model``, ``database``, ``THRESHOLD``, ``camera``, ``display``,
the student's earlier exercises, ...). What needs the model, a screen or the network is a
stand-in (``stand_ins``): ``img_to_encoding`` and ``encode_images``, wherever a cell finds them,
return the encodings the grader computed; ``load_facenet`` a stand-in model; ``plots`` and
``plt.show`` draw nothing; the notebook's test cells are not run (the grader tests). A notebook
cell or an earlier exercise's cell that fails is passed over, as the notebook would go on; when
the graded cell fails before its function is defined, that is the answer.

It prints ONE line of JSON on its original standard output and exits:

    {"answers": [one answer per case, see answers.py], "hidden_test": None | "what failed",
     "notes": [...]}
    or {"error": "what went wrong"}

Nothing in this process knows a right answer: the cases hold inputs only, and the grader checks
the answers' values in its own process. A submission that rewrites this script, its modules or
its output changes only its own answers, which must still be right on inputs drawn for this run.
"""

import builtins
import contextlib
import importlib
import json
import os
import sys
import types

HIDDEN_TEST_FILE = "<hidden test>"
_MISSING = object()
# The names of pyplot a notebook cell calls to show a figure: nothing to show here.
PYPLOT_NO_OPS = ("show", "pause", "close")
# Taken when this module is loaded, before any submitted code runs.
_exec, _compile = builtins.exec, builtins.compile


def _helpers():
    """(answers, cells): side by side with this file in the sandbox; in the project, packages."""
    try:
        import answers
        import cells
    except ImportError:  # run in the project's own process (the test suite)
        from exercises import answers
        from grading import cells
    return answers, cells


def _frozen(module):
    """A copy of ``module`` whose functions look their globals up in a snapshot of it: a cell that
    rewrites the module afterwards (``answers._gradient = ...``) changes nothing of the copy."""
    snapshot = dict(module.__dict__)
    copy = types.ModuleType(module.__name__)
    for name, value in snapshot.items():
        if isinstance(value, types.FunctionType) and value.__module__ == module.__name__:
            snapshot[name] = types.FunctionType(value.__code__, snapshot, value.__name__, value.__defaults__,
                                                value.__closure__)
            snapshot[name].__kwdefaults__ = value.__kwdefaults__
    copy.__dict__.update(snapshot)
    return copy


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
    """A module imported on first use (TensorFlow and pyplot take seconds; most cells never use
    them). ``cheap`` attributes are answered without the import."""

    def __init__(self, name, cheap=None):
        super().__init__(name)
        self._cheap = cheap or {}

    def __getattr__(self, attribute):
        if attribute in self._cheap:
            return self._cheap[attribute]
        if sys.modules.get(self.__name__) is self:
            del sys.modules[self.__name__]
        module = importlib.import_module(self.__name__)
        return getattr(module, attribute)


def _tensorflow_version():
    try:
        from importlib.metadata import version

        return version("tensorflow")
    except Exception:  # noqa: BLE001 - only for a print in the notebook's first cell
        return "?"


class Shell:
    """What ``get_ipython()`` returns here: cells came through IPython's transformation
    (cells.as_python), so their magics are calls to these methods, done as IPython does them:
    ``%time``/``%%time``, ``%%capture`` and ``%%prun`` run their code in the notebook's names,
    ``%timeit``/``%%timeit`` run it once in names of their own (so what it defines is not kept,
    as in IPython); other magics, help lines and shell commands do nothing."""

    def __init__(self, namespace):
        self.namespace, self.filename = namespace, "<cell>"
        self.user_ns = namespace

    def _run(self, code, namespace):
        _, cells = _helpers()
        source = cells.as_python(code)
        try:  # an expression: its value, as %time gives it
            return eval(_compile(source, self.filename, "eval"), namespace)  # noqa: S307
        except SyntaxError:
            _exec(_compile(source, self.filename, "exec"), namespace)
        return None

    def run_cell_magic(self, name, line, cell):
        if name in ("time", "capture", "prun"):
            return self._run(cell, self.namespace)
        if name == "timeit":
            self._run(cell, dict(self.namespace))
        return None

    def run_line_magic(self, name, line, *unused):
        if name == "time":
            return self._run(line, self.namespace)
        if name == "timeit":
            self._run(line, dict(self.namespace))
        return None

    def system(self, command):
        return None

    def getoutput(self, command):
        return []


class StandInModel:
    """The ``model`` a cell sees: the grader computed every encoding with the real FaceNet."""

    input = types.SimpleNamespace(shape=(None, 160, 160, 3))
    output = types.SimpleNamespace(shape=(None, 512))

    def count_params(self):
        return 23_497_424

    def __repr__(self):
        return "<FaceNet (the grader's stand-in: img_to_encoding returns the encodings it computed)>"


def _no_op(*unused, **also_unused):
    return None


def _no_op_functions(name):
    """A stand-in module whose functions (lowercase names) all do nothing."""
    module = types.ModuleType(name)

    def attribute(wanted):
        if wanted.islower() and not wanted.startswith("_"):
            return _no_op
        raise AttributeError(f"module {name!r} has no attribute {wanted!r}")

    module.__getattr__ = attribute
    return module


@contextlib.contextmanager
def stand_ins(job, encode, model):
    """The project's modules, patched so that the notebook's cells run without the model, the
    photos' pixels or a screen (see the module docstring); everything is put back afterwards."""
    import numpy as np

    import embeddings
    import face_database
    import fr_utils
    import quiet_tensorflow

    database = {name: np.asarray(vector, np.float32) for name, vector in job["notebook"]["database"].items()}

    def encode_images(paths, model=None, *unused, **also_unused):
        vectors = [encode(path) for path in paths]
        return np.stack(vectors) if vectors else np.zeros((0, 512), np.float32)

    tensorflow = None if job["exercise"] == "triplet_loss" else LazyModule("tensorflow", {"__version__": _tensorflow_version()})
    patches = [(module, name, value) for module in (fr_utils, embeddings) for name, value in (
        ("img_to_encoding", encode), ("encode_images", encode_images), ("load_facenet", lambda *unused: model))]
    patches += [(face_database, "ensure_images", _no_op),
                (face_database, "build_database", lambda *unused, **also_unused: {name: vector.copy()
                                                                                  for name, vector in database.items()})]
    if tensorflow is not None:
        patches += [(module, "import_tensorflow", lambda: tensorflow) for module in (fr_utils, quiet_tensorflow)]
    plots = _no_op_functions("plots")
    pyplot = LazyModule("matplotlib.pyplot", {name: _no_op for name in PYPLOT_NO_OPS})
    tests = _no_op_functions("exercises.public_tests")  # the grader runs the tests itself
    package = types.ModuleType("exercises")
    package.public_tests = tests
    modules = {"plots": plots, "matplotlib.pyplot": pyplot, "exercises": package, "exercises.public_tests": tests}
    saved = [(owner, name, getattr(owner, name, _MISSING)) for owner, name, _ in patches]
    saved_modules = {name: sys.modules.get(name, _MISSING) for name in modules}
    for owner, name, value in patches:
        setattr(owner, name, value)
    sys.modules.update(modules)
    try:
        yield
    finally:
        for owner, name, value in saved:
            setattr(owner, name, value) if value is not _MISSING else delattr(owner, name)
        for name, module in saved_modules.items():
            if module is _MISSING:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module


def new_namespace(job):
    namespace = {"__name__": "__main__", "display": _no_op}
    if job["exercise"] == "triplet_loss":
        import tensorflow

        namespace["tf"] = tensorflow
    shell = Shell(namespace)
    namespace["get_ipython"] = lambda: shell
    return namespace


def _line_in(error, filename, outermost=False):
    """The line of ``filename`` an exception came from (None if it did not come from there): the
    innermost such line, or with ``outermost`` the line of the cell's own code that started it."""
    line = getattr(error, "lineno", None) if isinstance(error, SyntaxError) else None
    trace = error.__traceback__
    while trace is not None:
        if trace.tb_frame.f_code.co_filename == filename:
            line = trace.tb_lineno
            if outermost:
                return line
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
    """The message for one job (see the module docstring): the notebook's cells and the learner's,
    the hidden test, then the cases. Prints of the cells go nowhere (and stop the job past the
    job's limit). Whatever it patches for the cells is put back when it returns."""
    import numpy as np

    answers, cells = _helpers()
    answers = _frozen(answers)  # before any submitted code runs
    exercise = job["exercise"]
    call, databases = answers.call, answers.materialise(job["databases"])
    objects = [databases[case] if "database" in case else None for case in job["cases"]]
    encodings = {photo: np.asarray(vector, np.float32) for photo, vector in {**job["notebook"]["photos"],
                                                                              **job["encodings"]}.items()}
    encode = answers.stand_in_encoder(encodings, unknown="stand-in")
    model = StandInModel()
    namespace = new_namespace(job)
    capped = CappedWriter(job["output_limit"])
    saved = sys.stdout, sys.stderr
    notes = []

    def stop_if_too_much():
        if capped.exceeded:
            raise _Answer({"error": f"the cell printed more than {capped.limit:,} characters"})

    sys.stdout = sys.stderr = capped
    try:
        with stand_ins(job, encode, model):
            for cell in job["cells"]:
                graded = cell["kind"] == "exercise" and cell["exercise"] == exercise
                filename = f"<graded cell {cell['exercise']}>" if cell["kind"] == "exercise" else "<notebook cell>"
                namespace["get_ipython"]().filename = filename
                before = namespace.get(exercise)
                try:
                    _exec(_compile(cells.as_python(cell["source"]), filename, "exec"), namespace)
                except BaseException as error:  # noqa: BLE001 - the submission's own failure, reported as data
                    stop_if_too_much()
                    if graded:
                        function = namespace.get(exercise)
                        if not callable(function) or function is before:
                            raise _Answer({"error": cell_error(error, exercise, filename)}) from None
                        # Defined, then something after the def raised (a check at the end of
                        # the cell): the notebook's own test would still run the function.
                        notes.append(f"the {exercise} cell raised {type(error).__name__} at line "
                                     f"{_line_in(error, filename, outermost=True)} after defining {exercise}; "
                                     "it was graded anyway")
            function = namespace.get(exercise)
            if not callable(function):
                raise _Answer({"error": f"the cell does not define a function called {exercise}"})
            hidden = None
            if job["hidden_test"]:
                try:
                    _exec(_compile(job["hidden_test"], HIDDEN_TEST_FILE, "exec"), namespace)
                except BaseException as error:  # noqa: BLE001 - the instructor's test failed
                    stop_if_too_much()
                    hidden = hidden_test_failure(error)
            results = []
            try:
                for case, database in zip(job["cases"], objects):
                    results.append(call(function, case, database, encode, model=model))
                    stop_if_too_much()
            except _Answer:
                raise
            except BaseException as error:  # noqa: BLE001 - this script's own code, broken by the cell
                stop_if_too_much()
                raise _Answer({"error": f"the grading process failed ({type(error).__name__}) after the cell changed "
                                        "something it relies on (Python's built-ins, numpy or this process's modules)"}) from None
        return {"answers": results, "hidden_test": hidden, "notes": notes[:3]}
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

    # Before any submitted code: files may be written in /tmp, /dev/shm and /dev/null only (so not
    # /proc/self/oom_score_adj, nor the /dev of a sandbox without root).
    landlock.restrict_writes(["/tmp", "/dev/shm"], files=["/dev/null"])
    with open(sys.argv[1]) as handle:
        job = json.load(handle)
    try:
        message = run_job(job)
    except BaseException as error:  # noqa: BLE001 - this script's own failure: said, not silent
        message = {"error": f"the grading process failed ({type(error).__name__}); report this to the course staff"}
    payload = (json.dumps(message) + "\n").encode()
    while payload:
        payload = payload[os.write(answer_fd, payload):]
    os._exit(0)  # skip interpreter shutdown: the submission may have left threads or handlers


if __name__ == "__main__":
    main()

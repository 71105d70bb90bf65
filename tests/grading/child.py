"""Runs ONE exercise of ONE submission inside the grading sandbox, and reports plain answers.

    python child.py job.json

The grader (``tests/grading/grader.py``) starts this script inside the OS sandbox
(``tests/grading/sandbox.py``), next to ``answers.py`` and a read-only job file:

    {"exercise": "verify", "source": the submission's cell, "cases": [plain cases],
     "encodings": {photo: [512 numbers]}, "output_limit": characters the cell may print}

It prints ONE line of JSON on its original standard output and exits:

    {"answers": [one answer per case, see answers.py]}   or   {"error": "what went wrong"}

The learner's cell runs first; nothing in this process knows a right answer: the cases hold
inputs only, and the grader compares the answers with the reference in its own process. So a
submission that rewrites this script's functions, its modules or its output changes only its
own answers.
"""

import json
import os
import sys


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


class LazyTensorFlow:
    """``tf`` for cells that may not need it: TensorFlow is imported on first use only."""

    def __getattr__(self, name):
        import tensorflow

        return getattr(tensorflow, name)


class Shell:
    """What ``get_ipython()`` returns here: the graded cell came through IPython's transformation
    (submissions.as_python), so its magics are calls to these methods. Cell magics whose body is
    Python (``%%time``, ``%%timeit``, ``%%capture``) run the body; other magics and shell commands
    do nothing."""

    PYTHON_BODY = ("time", "timeit", "capture", "prun")

    def __init__(self, namespace, filename):
        self.namespace, self.filename = namespace, filename

    def run_cell_magic(self, name, line, cell):
        if name in self.PYTHON_BODY:
            exec(compile(cell, self.filename, "exec"), self.namespace)  # noqa: S102

    def run_line_magic(self, name, line, *unused):
        return None

    def system(self, command):
        return None

    getoutput = system


def cell_error(error, exercise):
    """The message for a cell that failed before its function could be called."""
    line = getattr(error, "lineno", None) if isinstance(error, SyntaxError) else None
    trace = error.__traceback__
    while trace is not None:
        if trace.tb_frame.f_code.co_filename == f"<graded cell {exercise}>":
            line = trace.tb_lineno
        trace = trace.tb_next
    where = f" at line {line}" if line else ""
    try:
        text = str(error)
    except BaseException:  # noqa: BLE001 - a hostile __str__
        text = "?"
    return f"the cell raised {type(error).__name__}{where} when it ran, before {exercise} could be called: {text}"[:500]


def main():
    # The answer goes out on a private copy of stdout; fds 1 and 2 then lead nowhere, so that
    # prints from C code (TensorFlow's logs) do not mix with it.
    answer_fd = os.dup(1)
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 1)
    os.dup2(null, 2)

    def send(message):
        payload = (json.dumps(message) + "\n").encode()
        while payload:
            payload = payload[os.write(answer_fd, payload):]
        os._exit(0)  # skip interpreter shutdown: the submission may have left threads or handlers

    with open(sys.argv[1]) as handle:
        job = json.load(handle)
    exercise = job["exercise"]

    import answers
    import numpy as np

    if exercise == "triplet_loss":
        import tensorflow as tf
    else:
        tf = LazyTensorFlow()

    encodings = {photo: np.asarray(vector, np.float32) for photo, vector in job["encodings"].items()}

    def img_to_encoding(image_path, model=None, *unused, **also_unused):
        """The grader's stand-in: the encoding the grader computed for this photo."""
        key = str(image_path)
        if key not in encodings:
            raise FileNotFoundError(f"{key}: the grader has no encoding for this photo")
        return encodings[key].copy()

    filename = f"<graded cell {exercise}>"
    namespace = {"__name__": "submission", "np": np, "tf": tf, "THRESHOLD": None, "img_to_encoding": img_to_encoding}
    shell = Shell(namespace, filename)
    namespace["get_ipython"] = lambda: shell
    capped = CappedWriter(job["output_limit"])
    sys.stdout = sys.stderr = capped
    try:
        exec(compile(job["source"], filename, "exec"), namespace)  # noqa: S102
    except BaseException as error:  # noqa: BLE001 - the submission's own failure, reported as data
        send({"error": f"the cell printed more than {capped.limit:,} characters" if capped.exceeded
              else cell_error(error, exercise)})
    function = namespace.get(exercise)
    if not callable(function):
        send({"error": f"the cell does not define a function called {exercise}"})

    results = []
    try:
        for case in job["cases"]:
            answer = answers.call(function, case, img_to_encoding, model="model")
            if capped.exceeded:
                send({"error": f"the cell printed more than {capped.limit:,} characters"})
            results.append(answer)
    except BaseException as error:  # noqa: BLE001 - this script's own code, broken by the cell
        send({"error": f"the grading process failed ({type(error).__name__}) after the cell changed something it "
                       "relies on (Python's built-ins, numpy or this process's modules)"})
    send({"answers": results})


if __name__ == "__main__":
    main()

"""Runs ONE exercise of ONE submission, in a process of its own, and reports plain data.

The grader starts ``python child.py`` with a JSON job on standard input:
    {"exercise": "triplet_loss" | "verify" | "who_is_it", "source": the graded cell's code,
     "cases": [...], "encodings": {photo path: [512 floats]}, "threshold": float,
     "memory_bytes": int, "output_bytes": int}
and reads one JSON line from this process's original standard output:
    {"answers": [plain answer per case]} or {"error": "what went wrong"}.

Nothing here decides a grade: the answers are what the learner's function returned, made plain
(numbers, type names), and the grader compares them with the reference in its own process.
Before the learner's code runs, this process limits its memory, sends prints to a capped
buffer (fd 1 and 2 to /dev/null), and installs an audit hook that refuses file writes,
subprocesses, sockets and the like.
"""

import json
import os
import resource
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


class OutputLimitExceeded(Exception):
    """The submission printed more than the grader allows."""


class CappedWriter:
    """A text stream that keeps nothing and raises once ``limit`` characters were written."""

    def __init__(self, limit):
        self.limit, self.written = limit, 0

    def write(self, text):
        self.written += len(text)
        if self.written > self.limit:
            raise OutputLimitExceeded(f"the submission printed more than {self.limit:,} characters")
        return len(text)

    def flush(self):
        pass


class SubmissionBlocked(PermissionError):
    """The submission tried something the grader does not allow."""


BLOCKED_EVENTS = {
    "os.remove", "os.rename", "os.rmdir", "os.mkdir", "os.chmod", "os.truncate", "os.link",
    "os.symlink", "os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.fork", "os.forkpty",
    "os.kill", "os.killpg", "os.putenv", "os.unsetenv", "os.chdir", "shutil.rmtree", "shutil.copyfile",
    "shutil.move", "subprocess.Popen", "socket.connect", "socket.bind", "ctypes.dlopen",
    "ctypes.dlsym",
}


def audit(event, arguments):
    if event in BLOCKED_EVENTS:
        raise SubmissionBlocked(f"{event} is not allowed in a graded cell")
    if event == "open":
        _, mode, flags = arguments
        if (isinstance(mode, str) and any(letter in mode for letter in "wax+")) or (
            isinstance(flags, int) and flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC)
        ):
            raise SubmissionBlocked(f"writing files ({arguments[0]!r}) is not allowed in a graded cell")


class LazyTensorFlow:
    """``tf`` for cells that may not need it: TensorFlow is imported on first use only."""

    def __getattr__(self, name):
        import tensorflow

        return getattr(tensorflow, name)


def run(job, send):
    import numpy as np

    if job["exercise"] == "triplet_loss":
        import tensorflow as tf
    else:
        tf = LazyTensorFlow()

    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    import exercise_checks

    # Bound now, so that a submission rebinding the module's names changes nothing here.
    plain = exercise_checks.plain_triplet_answer if job["exercise"] == "triplet_loss" else exercise_checks.plain_pair_answer

    encodings = {path: np.asarray(vector, np.float32) for path, vector in job["encodings"].items()}

    def img_to_encoding(image_path, model, *unused, **also_unused):
        """The grader's stand-in: the pre-computed encoding of a known photo."""
        key = str(image_path)
        if key not in encodings:
            raise FileNotFoundError(f"{key}: the grader has no encoding for this photo")
        return encodings[key].copy()

    namespace = {
        "__name__": "submission", "np": np, "tf": tf, "THRESHOLD": job["threshold"],
        "img_to_encoding": img_to_encoding,
    }
    cases = [decode_case(case) for case in job["cases"]]

    resource.setrlimit(resource.RLIMIT_AS, (job["memory_bytes"], job["memory_bytes"]))
    capped = CappedWriter(job["output_bytes"])
    sys.stdout = sys.stderr = capped
    sys.addaudithook(audit)

    try:
        exec(compile(job["source"], f"<graded cell {job['exercise']}>", "exec"), namespace)
    except BaseException as error:  # the submission's own failure, reported as data
        return send({"error": f"the graded cell raised {type(error).__name__}: {error}"[:500]})
    function = namespace.get(job["exercise"])
    if not callable(function):
        return send({"error": f"the graded cell does not define a function {job['exercise']}"})

    answers = []
    for case in cases:
        try:
            if job["exercise"] == "triplet_loss":
                y_pred = [tf.constant(case[part]) for part in ("anchor", "positive", "negative")]
                value = function(None, y_pred, alpha=case["alpha"])
            elif job["exercise"] == "verify":
                value = function(case["photo"], case["identity"], case["database"], "model")
            else:
                value = function(case["photo"], case["database"], "model")
            answers.append(plain(value))
        except OutputLimitExceeded as error:
            return send({"error": str(error)})
        except MemoryError:
            return send({"error": "the submission ran out of memory"})
        except BaseException as error:  # noqa: B036 - SystemExit too: it is the submission's
            answers.append({"crash": f"{type(error).__name__}: {error}"[:300]})
    return send({"answers": answers})


def decode_case(case):
    """JSON lists back to float32 arrays (keys that hold vectors)."""
    import numpy as np

    decoded = dict(case)
    for key in ("anchor", "positive", "negative"):
        if key in decoded:
            decoded[key] = np.asarray(decoded[key], np.float32)
    if "database" in decoded:
        decoded["database"] = {name: np.asarray(vector, np.float32) for name, vector in decoded["database"].items()}
    return decoded


def main():
    result_fd = os.dup(1)
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 1)
    os.dup2(null, 2)
    job = json.loads(sys.stdin.read())

    def send(message):
        payload = (json.dumps(message, default=str) + "\n").encode()
        while payload:
            payload = payload[os.write(result_fd, payload):]

    run(job, send)
    os._exit(0)  # skip interpreter shutdown: the submission may have left threads or handlers


if __name__ == "__main__":
    main()

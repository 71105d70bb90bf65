"""What grading costs: time with and without the sandbox, workers, and the grader's memory.

    python benchmarks/grading.py                 # everything below, about 10 minutes
    python benchmarks/grading.py --only memory   # one part: times | workers | memory

Every run is the README's grading command (python -m grading PATH --report ...) in a fresh
process, on copies of the solved fixture notebook; each time includes the grader's set-up
(TensorFlow, the photos' encodings from the cache, the cases). Memory is the grader process's
own peak resident set (VmHWM in /proc), sampled while it runs: the sandboxes are separate
processes with their own limits. Prints a table and writes .cache/benchmarks/grading.json.
"""

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.results import write_results

PROJECT_DIR = Path(__file__).resolve().parents[1]
FIXTURES = PROJECT_DIR / "tests" / "grading" / "fixtures" / "notebooks"


def grade(target, *options):
    """Run the grading command; returns (seconds, peak resident MB of the grader process)."""
    with tempfile.TemporaryDirectory() as folder:
        command = [sys.executable, "-m", "grading", str(target), "--report", str(Path(folder) / "grades.json"), *options]
        started = time.perf_counter()
        process = subprocess.Popen(command, cwd=PROJECT_DIR, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        peak = 0
        status = Path(f"/proc/{process.pid}/status")
        while process.poll() is None:
            try:
                line = next(line for line in status.read_text().splitlines() if line.startswith("VmHWM:"))
                peak = max(peak, int(line.split()[1]) // 1024)
            except (OSError, StopIteration):
                pass
            time.sleep(0.1)
        return time.perf_counter() - started, peak


def folder_of(count, root, name="solved"):
    folder = root / f"{count}_{name}"
    folder.mkdir()
    for index in range(count):
        shutil.copy(FIXTURES / f"{name}.ipynb", folder / f"student_{index:02d}.ipynb")
    return folder


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=["times", "workers", "memory"])
    parser.add_argument("--output", type=Path, help="the results file (default: .cache/benchmarks/<name>.json)")
    arguments = parser.parse_args()
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        one, twenty = FIXTURES / "solved.ipynb", folder_of(20, root)
        if arguments.only in (None, "times"):
            for label, target in (("1 correct submission", one), ("20 correct submissions", twenty)):
                for mode, options in (("no sandbox", ["--no-sandbox"]), ("sandbox", [])):
                    seconds, _ = grade(target, "--workers", "2", *options)
                    results[f"{label}, {mode}, 2 workers"] = round(seconds, 1)
                    print(f"{label:<24} {mode:<11} 2 workers  {seconds:6.1f} s", flush=True)
        if arguments.only in (None, "workers"):
            for workers in (1, 2):
                seconds, _ = grade(twenty, "--workers", str(workers))
                results[f"20 correct submissions, sandbox, {workers} workers"] = round(seconds, 1)
                print(f"{'20 correct submissions':<24} {'sandbox':<11} {workers} workers  {seconds:6.1f} s", flush=True)
        if arguments.only in (None, "memory"):
            flood = folder_of(1, root, "floods_the_answer_channel")
            big = root / "big"
            big.mkdir()
            depth = 9_900_000  # 19.8 MB of nested brackets, just under the 20 MB limit
            (big / "nested.ipynb").write_text('{"nbformat": 4, "cells": [], "metadata": ' + "[" * depth + "]" * depth + "}")
            (big / "wide.ipynb").write_text('{"nbformat": 4, "cells": [], "metadata": {"x": [' + ",".join(["{}"] * 6_600_000) + "]}}")
            for label, target in (("one correct submission", one), ("floods the answer channel (2 GiB)", flood),
                                  ("19.8 MB notebooks (nested, wide)", big)):
                seconds, peak = grade(target, "--workers", "2")
                results[f"grader peak memory MB: {label}"] = peak
                print(f"grader peak memory, {label:<36} {peak:6d} MB ({seconds:.0f} s)", flush=True)
    write_results("grading", results, arguments.output)


if __name__ == "__main__":
    main()

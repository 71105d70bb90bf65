"""How long the notebooks and the test suite take: cold and warm, with the slowest cells.

    python benchmarks/notebook_times.py            # the instructors' notebook, cold then warm
    python benchmarks/notebook_times.py --suite    # also the whole test suite (python -m pytest)

Cold: an empty cache folder (FACENET_CACHE_DIR), so every photo is detected and encoded again;
the converted weights and the copied photos are kept (they are made once, at the first run).
Warm: the same cache, a second time. Each run starts a new kernel, as a student's does.
The notebook runs in place, from source/, like an instructor's. Needs LFW_DIR or a downloaded LFW.
Prints the times and writes .cache/notebook_times.json.
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from benchmarks.results import write_results

PROJECT_DIR = Path(__file__).resolve().parents[1]
NOTEBOOKS = [PROJECT_DIR / "source" / "Face_Recognition.ipynb"]


def run(path, cache_dir):
    """(seconds, [(cell seconds, first line of the cell)]) of one run of the notebook."""
    os.environ["FACENET_CACHE_DIR"] = str(cache_dir)  # the kernel inherits it
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(notebook, timeout=1800, kernel_name="python3", record_timing=True,
                            resources={"metadata": {"path": str(path.parent)}})
    started = time.perf_counter()
    client.execute()
    seconds = time.perf_counter() - started
    cells = []
    for cell in notebook.cells:
        timing = cell.metadata.get("execution", {})
        if "iopub.execute_input" in timing and "shell.execute_reply" in timing:
            begin = datetime.fromisoformat(timing["iopub.execute_input"].replace("Z", "+00:00"))
            end = datetime.fromisoformat(timing["shell.execute_reply"].replace("Z", "+00:00"))
            first_line = next((line for line in cell.source.splitlines() if line and not line.startswith("#")), "")
            cells.append(((end - begin).total_seconds(), first_line[:70]))
    return seconds, sorted(cells, reverse=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suite", action="store_true", help="also time python -m pytest")
    parser.add_argument("--output", type=Path, help="the results file (default: .cache/benchmarks/<name>.json)")
    arguments = parser.parse_args()
    results = {}
    for path in NOTEBOOKS + sorted((PROJECT_DIR / "source").glob("*_at_scale.ipynb")):
        with tempfile.TemporaryDirectory(prefix="notebook-cache-") as cache:
            for label in ("cold", "warm"):
                seconds, cells = run(path, Path(cache))
                results[f"{path.name} {label}"] = {"seconds": round(seconds, 1),
                                                    "slowest cells": [[round(s, 1), line] for s, line in cells[:3]]}
                print(f"{path.name:<40} {label}: {seconds:6.1f} s; slowest cells: "
                      + "; ".join(f"{s:.0f} s {line}" for s, line in cells[:3]), flush=True)
    if arguments.suite:
        started = time.perf_counter()
        completed = subprocess.run([sys.executable, "-m", "pytest", "-q"], cwd=PROJECT_DIR, capture_output=True, text=True)
        seconds = time.perf_counter() - started
        summary = completed.stdout.strip().splitlines()[-1] if completed.stdout.strip() else completed.stderr[-200:]
        results["test suite"] = {"seconds": round(seconds, 1), "summary": summary}
        print(f"{'test suite (python -m pytest)':<40} {seconds:6.1f} s: {summary}")
    write_results("notebook_times", results, arguments.output)


if __name__ == "__main__":
    main()

"""How long the README's commands take: set-up, the notebooks cold and warm, the test suite.

    python benchmarks/notebook_times.py                     # the notebooks, cold then warm, twice
    python benchmarks/notebook_times.py --only install suite --repeat 2
    python benchmarks/notebook_times.py --only notebooks --notebooks Face_Recognition.ipynb

- install: a fresh clone of this checkout, then ``bash scripts/lab.sh --headless`` in it (the
  student's one command: the virtual environment, pip, the weights' conversion, the photos, and
  the notebook top to bottom, its exercises unwritten); its time, and the size of .venv.
- notebooks: each instructors' notebook in ``source/`` run in place with nbclient (as
  instructors run it, and as ``scripts/lab.sh --headless`` runs a student's), cold (an empty
  embedding cache, so every photo is detected and embedded again; the converted weights and the
  copied photos are kept) then warm (the same cache, a second time), each in a new kernel.
- suite: ``bash scripts/test.sh`` (the README's test command), with the caches as they are.

Each measurement is repeated ``--repeat`` times and printed as a range (least - most), the way
the README gives it, with the machine it ran on. Needs LFW_DIR or a downloaded LFW. Writes
.cache/benchmarks/notebook_times.json.
"""

import argparse
import os
import shutil
import subprocess
import tempfile
import time
from datetime import datetime
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from benchmarks.results import machine, write_results

PROJECT_DIR = Path(__file__).resolve().parents[1]
SOURCE_DIR = PROJECT_DIR / "source"


def run_notebook(path, cache_dir):
    """(seconds, [(cell seconds, first line of the cell)]) of one run of the notebook."""
    os.environ["FACENET_CACHE_DIR"] = str(cache_dir)  # the kernel inherits it
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(notebook, timeout=3600, iopub_timeout=60, kernel_name="python3", record_timing=True,
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


def timed_command(command, cwd, environment=None):
    started = time.perf_counter()
    completed = subprocess.run(command, cwd=cwd, capture_output=True, text=True, env=environment)
    return time.perf_counter() - started, completed


def folder_size(path):
    return int(subprocess.run(["du", "-sb", str(path)], capture_output=True, text=True).stdout.split()[0])


def span(values, unit="s"):
    """'41-57 s' (or '41 s' for one value), the README's form of a measured time."""
    low, high = min(values), max(values)
    if unit == "s" and high >= 120:
        return f"{low / 60:.1f}-{high / 60:.1f} min" if round(low) != round(high) else f"{low / 60:.1f} min"
    return f"{low:.0f}-{high:.0f} {unit}" if round(low) != round(high) else f"{low:.0f} {unit}"


def measure_install(repeat):
    seconds, sizes = [], []
    for _ in range(repeat):
        with tempfile.TemporaryDirectory(prefix="first-hour-") as folder:
            clone = Path(folder) / "course"
            subprocess.run(["git", "clone", "-q", str(PROJECT_DIR), str(clone)], check=True)
            took, completed = timed_command(["bash", "scripts/lab.sh", "--headless"], clone)
            if completed.returncode != 0:
                raise SystemExit(f"scripts/lab.sh --headless failed:\n{completed.stdout[-2000:]}{completed.stderr[-2000:]}")
            seconds.append(took)
            sizes.append(folder_size(clone / ".venv") / 1e9)
            print(f"set-up and first headless run (scripts/lab.sh --headless in a fresh clone): {took:.0f} s, "
                  f".venv {sizes[-1]:.1f} GB", flush=True)
    return {"seconds": [round(value, 1) for value in seconds], "venv_gb": [round(value, 2) for value in sizes],
            "readme": f"{span(seconds)}, {min(sizes):.1f} GB"}


def measure_notebooks(names, repeat):
    results = {}
    for name in names:
        path = SOURCE_DIR / name
        times = {"cold": [], "warm": []}
        slowest = {}
        for _ in range(repeat):
            with tempfile.TemporaryDirectory(prefix="notebook-cache-") as cache:
                for label in ("cold", "warm"):
                    seconds, cells = run_notebook(path, Path(cache))
                    times[label].append(seconds)
                    slowest[label] = [[round(s, 1), line] for s, line in cells[:3]]
                    print(f"{name:<40} {label}: {seconds:6.1f} s; slowest cells: "
                          + "; ".join(f"{s:.0f} s {line}" for s, line in cells[:3]), flush=True)
        results[name] = {label: {"seconds": [round(value, 1) for value in values], "readme": span(values),
                                 "slowest cells": slowest[label]} for label, values in times.items()}
    return results


def measure_suite(repeat):
    seconds, summaries = [], []
    for _ in range(repeat):
        took, completed = timed_command(["bash", "scripts/test.sh", "-q"], PROJECT_DIR)
        lines = completed.stdout.strip().splitlines()
        summaries.append(lines[-1] if lines else completed.stderr[-300:])
        seconds.append(took)
        print(f"the test suite (bash scripts/test.sh): {took:.0f} s: {summaries[-1]}", flush=True)
    return {"seconds": [round(value, 1) for value in seconds], "summaries": summaries, "readme": span(seconds)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", choices=["install", "notebooks", "suite"], default=["notebooks"])
    parser.add_argument("--notebooks", nargs="+", default=sorted(path.name for path in SOURCE_DIR.glob("*.ipynb")),
                        help="which of source/'s notebooks (default: all)")
    parser.add_argument("--repeat", type=int, default=2, help="runs of each measurement (default 2)")
    parser.add_argument("--output", type=Path, help="the results file (default: .cache/benchmarks/notebook_times.json)")
    arguments = parser.parse_args()
    if not shutil.which("git"):
        raise SystemExit("git is needed to clone the project for --only install")
    info = machine()
    print(f"on {info['processor']}, {info['cores']} cores, vector instructions {', '.join(info['vector_instructions'])}")
    results = {}
    if "install" in arguments.only:
        results["install"] = measure_install(arguments.repeat)
    if "notebooks" in arguments.only:
        results["notebooks"] = measure_notebooks(arguments.notebooks, arguments.repeat)
    if "suite" in arguments.only:
        results["suite"] = measure_suite(arguments.repeat)
    write_results("notebook_times", results, arguments.output)


if __name__ == "__main__":
    main()

"""The one way every benchmark records what it measured: a JSON file with the machine it ran on.

    from benchmarks.results import markdown_table, write_results
    write_results("speed", {"pipeline_flip": 15.5, ...})      # -> .cache/benchmarks/speed.json
    print(markdown_table(rows, ["condition", "accuracy"]))

Each file holds the benchmark's name, the date, the commit, the machine (processor, the vector
instructions TensorFlow may use, cores, Python and TensorFlow versions) and the results, so
that a number quoted in the README can be traced to the run and the processor that gave it.
Files go under ``settings.CACHE_DIR / "benchmarks"`` (git-ignored).
"""

import json
import os
import platform
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import files
import settings

RESULTS_DIR = settings.CACHE_DIR / "benchmarks"


def machine():
    """The processor and software a measurement ran on, as plain data."""
    model, flags = platform.processor() or platform.machine(), []
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name":
                model = value.strip()
            elif key.strip() == "flags":
                flags = value.split()
                break
    except OSError:
        pass
    vector = [name for name in ("avx2", "avx512f", "avx512_vnni", "avx512_bf16", "amx_tile") if name in flags]
    info = {"processor": model, "vector_instructions": vector, "cores": os.cpu_count(),
            "python": platform.python_version(), "onednn_max_cpu_isa": os.environ.get("ONEDNN_MAX_CPU_ISA")}
    if "tensorflow" in sys.modules:
        info["tensorflow"] = sys.modules["tensorflow"].__version__
    return info


def _commit():
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=settings.PROJECT_DIR, capture_output=True,
                              text=True, timeout=10).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def write_results(name, data, output=None):
    """Write ``data`` (JSON-ready) as the results of benchmark ``name``; returns the file's path.

    Args:
        name: the benchmark's name, e.g. "speed".
        data: its results (dicts, lists, numbers, strings).
        output: the file to write (default: RESULTS_DIR / f"{name}.json").
    """
    path = Path(output) if output is not None else RESULTS_DIR / f"{name}.json"
    record = {"benchmark": name, "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
              "commit": _commit(), "machine": machine(), "results": data}
    files.atomic_write(path, json.dumps(record, indent=2) + "\n")
    print(f"-> {path}")
    return path


def markdown_table(rows, columns, headers=None):
    """A Markdown table of ``rows`` (dicts) with these ``columns`` (keys); values as given or
    formatted by ``str``. ``headers`` names the columns (default: the keys)."""
    headers = headers or columns
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join(" --- " for _ in headers) + "|"]
    for row in rows:
        lines.append("| " + " | ".join(str(row.get(column, "")) for column in columns) + " |")
    return "\n".join(lines)

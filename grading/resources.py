"""How much memory grading may use here, and how many sandboxes fit in it at once.

The grader holds the FaceNet model and the cases (about 1 GB); each sandbox may use up to its
memory limit. Before grading, ``plan`` compares workers x that limit plus the grader's own with
the memory available, which is the least of what the machine has free (``MemAvailable``) and what
the cgroups the grader runs in still allow (a container, a systemd slice, a batch job's limit),
and chooses fewer workers, then a smaller limit per sandbox, rather than let the kernel's
out-of-memory killer choose among the grader and the sandboxes.
"""

import math
import os
from dataclasses import dataclass
from pathlib import Path

GIB = 2**30
MIB = 2**20
# What the grader may still grow by while grading (reports, answers, threads): kept free.
GRADER_HEADROOM = 512 * MIB
# Below this a sandbox cannot import TensorFlow and run the triplet loss (it takes about 700 MB).
MIN_SANDBOX_MEMORY = 1 * GIB
CGROUP_ROOT = Path("/sys/fs/cgroup")


def _read_int(path):
    try:
        text = Path(path).read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def _inactive_file(folder, key):
    """Page cache the kernel can drop, from a cgroup's memory.stat (bytes)."""
    try:
        for line in (folder / "memory.stat").read_text().splitlines():
            name, _, value = line.partition(" ")
            if name == key:
                return int(value)
    except (OSError, ValueError):
        pass
    return 0


def cgroup_room(proc_cgroup=None, root=CGROUP_ROOT):
    """The memory the cgroups of this process still allow, in bytes (None when unlimited):
    the least, over this cgroup and its parents, of limit - (usage - droppable page cache)."""
    text = proc_cgroup if proc_cgroup is not None else Path("/proc/self/cgroup").read_text()
    rooms = []
    for line in text.splitlines():
        _, controllers, path = line.split(":", 2)
        if controllers == "" and (root / "cgroup.controllers").is_file():  # cgroup v2
            base, limit_name, usage_name, cache_key = root, "memory.max", "memory.current", "inactive_file"
        elif "memory" in controllers.split(","):  # cgroup v1
            base, limit_name, usage_name, cache_key = root / "memory", "memory.limit_in_bytes", \
                "memory.usage_in_bytes", "total_inactive_file"
        else:
            continue
        folder = base / path.lstrip("/")
        while True:
            limit, usage = _read_int(folder / limit_name), _read_int(folder / usage_name)
            if limit is not None and usage is not None and limit < 2**60:
                rooms.append(limit - max(0, usage - _inactive_file(folder, cache_key)))
            if folder == base or base not in folder.parents:
                break
            folder = folder.parent
    return min(rooms) if rooms else None


def memory_available():
    """Bytes of memory grading may take: MemAvailable, or less if a cgroup limits this process."""
    available = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                available = int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    room = None
    try:
        room = cgroup_room()
    except (OSError, ValueError):
        pass
    candidates = [value for value in (available, room) if value is not None]
    return min(candidates) if candidates else None


def own_memory():
    """This process's resident memory, in bytes."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


@dataclass(frozen=True)
class Plan:
    """What grading will run: ``workers`` sandboxes at a time, each with ``memory_bytes``."""

    workers: int
    memory_bytes: int
    line: str  # one line for the grader's terminal; "" when nothing had to change


def _gib(count):
    return f"{count / GIB:.2f} GiB"


def plan(workers, memory_bytes, available=None, own=None):
    """Workers and per-sandbox memory that fit in the memory available.

    Args:
        workers: how many sandboxes the user asked to run at once.
        memory_bytes: each sandbox's memory limit asked for.
        available: bytes available (default: ``memory_available()``); None when unknown.
        own: the grader's own resident memory (default: ``own_memory()``).

    Returns:
        A Plan. Raises MemoryError with a one-line message saying what to change when not even
        one sandbox of MIN_SANDBOX_MEMORY fits.
    """
    available = memory_available() if available is None else available
    own = own_memory() if own is None else own
    if available is None:
        return Plan(workers, memory_bytes, "")
    room = available - GRADER_HEADROOM
    if workers * memory_bytes <= room:
        return Plan(workers, memory_bytes, "")
    fitting = max(0, math.floor(room / memory_bytes))
    if fitting >= 1:
        return Plan(fitting, memory_bytes, (
            f"memory: {_gib(available)} available with the grader's {_gib(own)} in use, so {fitting} sandbox"
            f"{'es' if fitting > 1 else ''} at a time instead of {workers} (each up to {_gib(memory_bytes)})"))
    if room >= MIN_SANDBOX_MEMORY:
        return Plan(1, int(room), (
            f"memory: {_gib(available)} available with the grader's {_gib(own)} in use, so 1 sandbox at a time, "
            f"limited to {_gib(room)} instead of {_gib(memory_bytes)}"))
    raise MemoryError(
        f"Not enough memory to grade: {_gib(available)} available (the grader itself uses {_gib(own)}), and a "
        f"sandbox needs at least {_gib(MIN_SANDBOX_MEMORY)} plus {_gib(GRADER_HEADROOM)} kept free. Close other "
        f"programs or grade on a machine with more memory.")


def protect_self():
    """Make this process the out-of-memory killer's last choice, where it may (it needs the
    CAP_SYS_RESOURCE capability); returns True if it did."""
    try:
        Path("/proc/self/oom_score_adj").write_text("-1000")
        return Path("/proc/self/oom_score_adj").read_text().strip() == "-1000"
    except OSError:
        return False


def available_cpus():
    """CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1

"""A cgroup for each sandbox run: its CPU share, all its memory and its processes, bounded together.

Per-process limits (``prlimit``) cannot bound what a sandbox takes in all: many processes, memory
that belongs to no process (a memfd, a tmpfs file), or CPU time spread over many processes that
slows the submission graded beside it. A cgroup can. When the grader may make cgroups (as root,
on cgroup v1 with the cpu, memory and pids controllers, or on cgroup v2 with those controllers
at the root), each run gets its own, under one folder per grader process:

    at most ``cpus`` CPUs (the rest of the machine stays with the grader and the other runs),
    at most ``memory_bytes`` of memory, counting shared memory and tmpfs (the kernel's OOM
    killer then acts inside the cgroup only), at most ``processes`` processes and threads.

``Cgroups.available()`` is False elsewhere (a normal user, a read-only cgroup file system); the
sandbox then keeps its per-process limits only, and the grader says so.
"""

import itertools
import os
import time
from pathlib import Path

CONTROLLERS = ("cpu", "memory", "pids")
_INSTANCES = itertools.count(1)  # one grader process may make several (the test suite does)
CPU_PERIOD_MICROSECONDS = 100_000


def _own_paths(proc_cgroup):
    """{controller: this process's cgroup path} for v1 lines, and {"": path} for the v2 line."""
    paths = {}
    for line in proc_cgroup.splitlines():
        number, controllers, path = line.split(":", 2)
        for controller in controllers.split(",") if controllers else [""]:
            paths[controller] = path
    return paths


class Cgroups:
    """Makes, limits and removes one cgroup per sandbox run.

    Args:
        cpus, memory_bytes, processes: the limits of each run.
        root: where the cgroup file systems are mounted.
        proc_cgroup: the text of /proc/self/cgroup (for tests).
    """

    def __init__(self, cpus, memory_bytes, processes, root=Path("/sys/fs/cgroup"), proc_cgroup=None):
        self.cpus, self.memory_bytes, self.processes = cpus, memory_bytes, processes
        self.root = Path(root)
        self.name = f"facenet-grading-{os.getpid()}-{next(_INSTANCES)}"
        self.version, self.bases, self.problem = None, {}, None
        self._runs = itertools.count(1)  # next() on it is atomic: workers create cgroups at once
        try:
            own = _own_paths(proc_cgroup if proc_cgroup is not None else Path("/proc/self/cgroup").read_text())
            if (self.root / "cgroup.controllers").is_file():
                self._set_up_v2()
            else:
                self._set_up_v1(own)
        except (OSError, ValueError, KeyError) as error:
            self.problem = f"{type(error).__name__}: {error}"
            self.bases = {}

    def available(self):
        return bool(self.bases)

    def remove_stale(self):
        """Remove the cgroup folders a grader that was killed left behind (``facenet-grading-<pid>-<n>``
        whose process is gone), killing what still runs in them; returns how many were removed."""
        removed = 0
        for base in self.bases.values():
            for folder in base.parent.glob("facenet-grading-*"):
                pid = folder.name.split("-")[2]
                if folder == base or not pid.isdigit() or Path(f"/proc/{pid}").exists():
                    continue
                runs = [run for run in folder.iterdir() if run.is_dir()]
                self.remove(runs, wait_seconds=0)
                try:
                    folder.rmdir()
                    removed += 1
                except OSError:
                    pass
        return removed

    def _set_up_v1(self, own):
        for controller in CONTROLLERS:
            mount = self.root / controller
            if not (mount / "cgroup.procs").is_file():
                raise OSError(f"no cgroup v1 hierarchy for {controller} at {mount}")
            base = mount / own[controller].lstrip("/") / self.name
            base.mkdir()
            self.bases[controller] = base
        self.version = 1

    def _set_up_v2(self):
        available = (self.root / "cgroup.controllers").read_text().split()
        missing = [controller for controller in CONTROLLERS if controller not in available]
        if missing:
            raise OSError(f"cgroup v2 without the {', '.join(missing)} controller(s)")
        enable = " ".join(f"+{controller}" for controller in CONTROLLERS)
        (self.root / "cgroup.subtree_control").write_text(enable)
        base = self.root / self.name
        base.mkdir()
        self.bases[""] = base
        (base / "cgroup.subtree_control").write_text(enable)
        self.version = 2

    def create(self):
        """A new cgroup with the limits set; returns its folders (one per hierarchy)."""
        run = next(self._runs)
        folders = []
        for controller, base in self.bases.items():
            folder = base / f"run-{run}"
            folder.mkdir()
            folders.append(folder)
            if self.version == 2:
                (folder / "cpu.max").write_text(f"{int(self.cpus * CPU_PERIOD_MICROSECONDS)} {CPU_PERIOD_MICROSECONDS}")
                (folder / "memory.max").write_text(str(self.memory_bytes))
                if (folder / "memory.swap.max").exists():
                    (folder / "memory.swap.max").write_text("0")
                (folder / "pids.max").write_text(str(self.processes))
            elif controller == "cpu":
                (folder / "cpu.cfs_period_us").write_text(str(CPU_PERIOD_MICROSECONDS))
                (folder / "cpu.cfs_quota_us").write_text(str(int(self.cpus * CPU_PERIOD_MICROSECONDS)))
            elif controller == "memory":
                (folder / "memory.limit_in_bytes").write_text(str(self.memory_bytes))
            elif controller == "pids":
                (folder / "pids.max").write_text(str(self.processes))
        return folders

    @staticmethod
    def procs_files(folders):
        """The files a process writes its PID into to join the cgroup."""
        return [str(folder / "cgroup.procs") for folder in folders]

    def out_of_memory(self, folders):
        """True when the kernel killed a process of this cgroup for exceeding its memory."""
        for folder in folders:
            for name in ("memory.events", "memory.oom_control"):
                path = folder / name
                if path.is_file():
                    for line in path.read_text().splitlines():
                        key, _, value = line.partition(" ")
                        if key == "oom_kill" and int(value or 0) > 0:
                            return True
        return False

    @staticmethod
    def members(folders):
        """PIDs still in the cgroup."""
        pids = set()
        for folder in folders:
            try:
                pids |= {int(pid) for pid in (folder / "cgroup.procs").read_text().split()}
            except OSError:
                pass
        return pids

    def remove(self, folders, wait_seconds=5.0):
        """Remove a run's cgroup once its processes are gone (the kernel reaps them shortly after
        the sandbox's PID namespace dies); processes still there after ``wait_seconds`` are killed."""
        deadline = time.monotonic() + wait_seconds
        while self.members(folders) and time.monotonic() < deadline:
            time.sleep(0.02)
        for pid in self.members(folders):
            try:
                os.kill(pid, 9)
            except ProcessLookupError:
                pass
        for folder in folders:
            for _ in range(100):
                try:
                    folder.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.02)

    def close(self):
        for base in self.bases.values():
            try:
                base.rmdir()
            except OSError:
                pass
        self.bases = {}

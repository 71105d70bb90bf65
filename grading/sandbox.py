"""The OS sandbox each graded exercise runs in: bubblewrap, kernel limits, a wall clock outside.

``Sandbox.run(job)`` runs ``child.py`` on one job inside ``bwrap`` (the Debian package
``bubblewrap``) and returns what it printed, read through a bounded reader. Inside:

- its own PID namespace (it sees and can signal only its own processes), network namespace
  (loopback only), IPC and UTS namespaces, and a new session (no terminal);
- a read-only view of just what it needs: /usr (with the /bin, /lib links), the Python
  environment running the grader (with this project's ``exercises`` and ``grading`` packages
  hidden, should they be installed there), ``child.py``, ``cells.py``, ``landlock.py``,
  ``answers.py`` and the project's modules the notebook imports (code only), the job, the
  loader's files in /etc and a one-line /etc/passwd; nothing else of the machine (no project
  checkout, no solutions, no other submissions, no $HOME, no report folder);
- /proc with the machine-wide counters replaced by constant files (load, process counts, CPU
  and memory statistics, pressure, /proc/sys), so that two submissions graded at the same time
  cannot signal to each other through them;
- private, size-limited tmpfs folders for /tmp (also its home and working directory) and
  /dev/shm;
- an unprivileged user with no capabilities (when the grader is root: a user id of its own for
  each grader process and worker slot, which no account uses; otherwise the grader's user in a
  user namespace) and no way to regain privileges;
- a seccomp filter (built with libseccomp, through pyseccomp) that refuses the system calls a
  graded cell has no use for and that reach beyond the sandbox: kernel keyrings (shared by all
  processes of a user, and kept after they end), new namespaces and mounts, io_uring, bpf,
  perf_event_open, userfaultfd, ptrace, memory that belongs to no process (memfd_create, System V
  shared memory) and the machine-wide counters of sysinfo;
- Landlock (``landlock.py``, applied by ``child.py`` before any submitted code runs): files may
  be written only under /tmp and /dev, so not /proc/self/oom_score_adj;
- its memory bounded: with cgroups (``cgroups.py``: as root; or, for other users, a systemd
  user scope where the machine offers one) one CPU, ``Limits.memory_bytes`` in all (shared memory
  and tmpfs included) and 256 processes; without them, the grader watches the sandbox's
  processes' memory ten times a second and stops it past the same limit;
- kernel limits set before Python starts (``prlimit``): address space, CPU seconds, processes,
  open files, file size, no core files; ``choom`` makes it the OOM killer's first choice;
- ``--die-with-parent``; past the wall-clock limit the grader kills the sandbox, and since
  the sandbox's init process holds the PID namespace, every process the child started dies
  with it. The same happens when the child exits normally.

Without bubblewrap (macOS, Windows, a Linux without it) ``Sandbox`` refuses to start unless it
is made with ``enabled=False`` (the grader's ``--no-sandbox``): then the child runs as a plain
process with the same kernel limits, seccomp aside, in a scratch folder, and is NOT kept from
reading or writing files, the network or other processes.
"""

import errno
import importlib.util
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass, replace
from pathlib import Path

import exercises
import settings
from grading.cgroups import Cgroups

GRADING_DIR = Path(__file__).resolve().parent
EXERCISES_DIR = Path(exercises.__file__).resolve().parent
INSIDE_DIR = "/grading"  # where the child's files are seen inside the sandbox
COURSE_DIR = "/tmp/course"  # the sandbox's working folder: the notebook's photos in images/, read-only
# The project's modules a graded cell may use through the notebook's names (fr_utils and what it
# imports, and the modules the notebook's first cell imports): code only.
NOTEBOOK_MODULES = ("settings", "files", "faces", "embeddings", "distances", "quiet_tensorflow", "fr_utils",
                    "facenet_weights", "inception_blocks", "face_database", "lfw", "plots", "triplet_training",
                    "open_set")
# Packages that must never be seen from inside, wherever they are installed: they hold the
# reference solutions and the grader.
HIDDEN_PACKAGES = ("exercises", "grading")
INSTALL_HINT = (
    "The grader runs each submission in a bubblewrap sandbox, and bwrap was not found or does not "
    "work here. Install it (Debian/Ubuntu: apt-get install -y bubblewrap, with sudo unless you are root; "
    "Fedora: dnf install bubblewrap; it needs Linux), or grade with --no-sandbox, which does NOT protect "
    "the grader, the machine or other submissions from a hostile notebook."
)
# When the grader runs as root, the sandboxed child runs as a user id of its own (see sandbox_uid):
# far above the ids given to accounts, different for each grader process and worker slot, so
# that per-user limits and kernel state are never shared with anyone else.
SANDBOX_UID_BASE = 2_000_000_000
SLOTS_PER_GRADER = 128
# System calls a graded cell has no use for and that reach beyond its sandbox (see the docstring).
REFUSED_SYSCALLS = (
    "add_key", "request_key", "keyctl", "unshare", "setns", "mount", "umount2", "pivot_root",
    "fsopen", "fsmount", "open_tree", "move_mount", "mount_setattr", "io_uring_setup", "bpf",
    "perf_event_open", "userfaultfd", "ptrace", "shmget",
    # Sockets: a sandbox has no network but loopback, and their buffers are memory no process owns.
    "socket", "socketpair",
)
# Refused as "not implemented", so that libraries fall back to something else.
UNIMPLEMENTED_SYSCALLS = ("clone3", "memfd_create", "sysinfo")
CLONE_NEWUSER = 0x10000000
LOADER_FILES = ("/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/localtime")
# /proc's machine-wide files: each replaced by a constant file (see _proc_files), or, for the
# folders, by an empty one.
PROC_FILES = ("loadavg", "stat", "meminfo", "uptime", "vmstat", "diskstats", "interrupts", "softirqs", "schedstat",
              "zoneinfo", "buddyinfo", "pagetypeinfo", "slabinfo", "locks", "swaps", "key-users", "timer_list",
              "sched_debug", "cgroups", "partitions", "vmallocinfo", "kallsyms", "modules")
PROC_FOLDERS = ("pressure", "sys", "sysvipc", "irq", "driver", "tty", "fs", "bus", "scsi", "acpi")
WATCH_SECONDS = 0.1  # how often the grader measures a sandbox's memory when there is no cgroup


def sandbox_uid(slot):
    """The user id a sandbox of this grader process runs as, in worker slot ``slot``."""
    return SANDBOX_UID_BASE + (os.getpid() % 1_000_000) * SLOTS_PER_GRADER + slot % SLOTS_PER_GRADER


def write_seccomp_filter(path):
    """Write the sandbox's seccomp filter, as the BPF program bwrap --seccomp reads, to ``path``."""
    try:
        import pyseccomp as seccomp

        refuse = seccomp.SyscallFilter(seccomp.ALLOW)
    except (ImportError, OSError, RuntimeError) as error:  # pyseccomp, or libseccomp.so.2, missing
        raise SandboxUnavailable(f"{INSTALL_HINT} (the seccomp filter needs libseccomp: {error})") from error
    for name in REFUSED_SYSCALLS:
        try:
            refuse.add_rule(seccomp.ERRNO(errno.EPERM), name)
        except (ValueError, OSError, RuntimeError):
            if name in ("add_key", "request_key", "keyctl", "unshare"):
                raise
    for name in UNIMPLEMENTED_SYSCALLS:
        try:
            refuse.add_rule(seccomp.ERRNO(errno.ENOSYS), name)
        except (ValueError, OSError, RuntimeError):
            if name != "clone3":
                raise
    # A thread is a clone without CLONE_NEWUSER: allowed. clone3 hides its flags from seccomp, so
    # it says "not implemented", and the C library falls back to clone.
    refuse.add_rule(seccomp.ERRNO(errno.EPERM), "clone", seccomp.Arg(0, seccomp.MASKED_EQ, CLONE_NEWUSER, CLONE_NEWUSER))
    with open(path, "wb") as handle:
        refuse.export_bpf(handle)


class SandboxUnavailable(RuntimeError):
    """bubblewrap is missing or cannot make a sandbox on this machine."""


@dataclass(frozen=True)
class Limits:
    """What one exercise of one submission may use."""

    seconds: float = 90  # wall clock, enforced from outside
    cpus: float = 1.0  # CPU share of the whole sandbox (with cgroups)
    memory_bytes: int = 3 * 2**30  # all its memory together (cgroup or watch); may be lowered to fit the machine
    address_space_bytes: int = 3 * 2**30  # each process's address space (TensorFlow maps about 2 GB)
    processes: int = 256  # processes and threads (TensorFlow starts a few dozen threads)
    open_files: int = 256
    file_bytes: int = 64 * 2**20  # largest file it may write (in its private /tmp)
    tmp_bytes: int = 64 * 2**20  # size of its private /tmp, and of its /dev/shm
    output_characters: int = 50_000_000  # what the cell may print, all thrown away (checked by child.py)
    answer_bytes: int = 4 * 2**20  # what the grader reads of the answer; the rest is discarded


@dataclass
class Outcome:
    """What came back from one run: the answer's bytes (at most Limits.answer_bytes)."""

    output: bytes
    overflowed: bool  # more than Limits.answer_bytes were sent; the rest was discarded
    timed_out: bool
    exit_code: int
    out_of_memory: bool = False  # stopped for using more than Limits.memory_bytes in all


def _read_bounded(stream, limit, outcome_parts):
    """Read ``stream`` to its end; keep the first ``limit`` bytes, discard the rest."""
    kept, overflowed = bytearray(), False
    while True:
        chunk = stream.read(65536)
        if not chunk:
            break
        room = limit - len(kept)
        if len(chunk) > room:
            overflowed = True
            chunk = chunk[: max(room, 0)]
        kept += chunk
    outcome_parts["output"], outcome_parts["overflowed"] = bytes(kept), overflowed


def _write_passwd(folder, uid):
    """The sandbox's /etc/passwd: its one user, so that libraries asking who they are get an answer."""
    (folder / "passwd").write_text(f"grading:x:{uid}:{uid}::/tmp:/usr/sbin/nologin\n")
    os.chmod(folder / "passwd", 0o644)


def python_roots():
    """The folders of the Python environment running the grader (venv and base installation)."""
    roots = {Path(os.path.realpath(path)) for path in (sys.prefix, sys.exec_prefix, sys.base_prefix, sys.base_exec_prefix)}
    roots.add(Path(os.path.realpath(sys.executable)).parent.parent)
    # Nested roots are covered by their parent; /usr is bound anyway.
    return sorted(root for root in roots
                  if not any(other != root and root.is_relative_to(other) for other in roots | {Path("/usr")}))


def child_files():
    """{name inside the sandbox: file here}: the child, its helpers and the notebook's modules."""
    found = {"child.py": GRADING_DIR / "child.py", "cells.py": GRADING_DIR / "cells.py",
             "landlock.py": GRADING_DIR / "landlock.py", "answers.py": EXERCISES_DIR / "answers.py"}
    for name in NOTEBOOK_MODULES:
        spec = importlib.util.find_spec(name)
        if spec is None or not spec.origin:
            raise SandboxUnavailable(f"the project's module {name} is not installed: run python -m pip install -r "
                                     "requirements.txt in the project's folder")
        found[f"{name}.py"] = Path(spec.origin)
    return found


def _hidden_package_paths():
    """Where this project's own packages are installed inside the bound Python roots (none with
    an editable install, whose packages stay in the clone, which is never bound)."""
    roots = python_roots()
    paths = []
    for name in HIDDEN_PACKAGES:
        spec = importlib.util.find_spec(name)
        for location in (spec.submodule_search_locations or []) if spec else []:
            path = Path(os.path.realpath(location))
            if any(path.is_relative_to(root) for root in roots):
                paths.append(path)
    return paths


def _proc_files(limits):
    """{name: content}: the constant files shown instead of /proc's machine-wide ones."""
    kilobytes = limits.memory_bytes // 1024
    return {
        "loadavg": "0.00 0.00 0.00 1/1 1\n",
        "stat": ("cpu  0 0 0 0 0 0 0 0 0 0\ncpu0 0 0 0 0 0 0 0 0 0 0\nintr 0\nctxt 0\nbtime 0\nprocesses 1\n"
                 "procs_running 1\nprocs_blocked 0\nsoftirq 0 0 0 0 0 0 0 0 0 0 0\n"),
        "meminfo": "".join(f"{key}:{value:>16} kB\n" for key, value in (
            ("MemTotal", kilobytes), ("MemFree", kilobytes), ("MemAvailable", kilobytes), ("Buffers", 0),
            ("Cached", 0), ("SwapCached", 0), ("SwapTotal", 0), ("SwapFree", 0), ("Shmem", 0))),
        "uptime": "0.00 0.00\n",
    }


def _process_tree(root_pid):
    """PIDs of ``root_pid`` and its descendants, from /proc."""
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
                parents.setdefault(int(fields[1]), []).append(int(entry))
            except (OSError, IndexError, ValueError):
                continue
    tree, stack = [], [root_pid]
    while stack:
        pid = stack.pop()
        tree.append(pid)
        stack.extend(parents.get(pid, []))
    return tree


def _tree_memory(pids):
    """Bytes of memory that belong to these processes: their anonymous and shared memory, each
    page counted once however many forked processes share it (proportional set size)."""
    total = 0
    for pid in pids:
        try:
            fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:])
            total += sum(int(fields[key].split()[0]) * 1024 for key in ("Pss_Anon", "Pss_Shmem") if key in fields)
        except (OSError, ValueError):
            continue
    return total


def systemd_scope_command(limits):
    """The prefix that runs a command in a systemd user scope with the sandbox's limits, or None
    when this machine offers no such delegation (no systemd user session, or cgroup v1)."""
    if shutil.which("systemd-run") is None or not Path("/sys/fs/cgroup/cgroup.controllers").is_file():
        return None
    command = ["systemd-run", "--user", "--scope", "--quiet", "--collect",
               f"--property=MemoryMax={limits.memory_bytes}", "--property=MemorySwapMax=0",
               f"--property=TasksMax={limits.processes}", f"--property=CPUQuota={int(limits.cpus * 100)}%", "--"]
    try:
        works = subprocess.run(command + ["true"], capture_output=True, timeout=20).returncode == 0
    except (OSError, subprocess.SubprocessError):
        works = False
    return command if works else None


class Sandbox:
    """Runs child.py on jobs, in bubblewrap (``enabled``) or as a plain limited process."""

    def __init__(self, limits=Limits(), enabled=True):
        self.limits = limits
        self.enabled = enabled
        self.as_root = os.geteuid() == 0
        self.bwrap = shutil.which("bwrap") if enabled else None
        self._private = Path(tempfile.mkdtemp(prefix="grading-sandbox-"))
        os.chmod(self._private, 0o755)
        for name, path in child_files().items():
            shutil.copyfile(path, self._private / name)  # a snapshot: the checkout is never bound
        (self._private / "empty").mkdir(mode=0o755)
        self.cgroups, self.scope, self.notes = None, None, []
        self.memory_watched = False
        if enabled:
            if sys.platform != "linux" or self.bwrap is None:
                raise SandboxUnavailable(INSTALL_HINT)
            write_seccomp_filter(self._private / "seccomp.bpf")
            self._check_works()
            if self.as_root:
                self.cgroups = Cgroups(limits.cpus, limits.memory_bytes, limits.processes)
                self.cgroups.remove_stale()
                if not self.cgroups.available():
                    self.cgroups.close()
                    self.cgroups = None
            else:
                self.scope = systemd_scope_command(limits)
        self.memory_watched = self.cgroups is None and self.scope is None
        if self.memory_watched:
            self.notes.append(
                "no cgroup for the sandboxes here (grade as root, or where systemd offers user scopes, for one): "
                f"their memory is watched instead and a sandbox is stopped past {limits.memory_bytes / 2**30:.1f} GiB; "
                "their CPU share is not bounded, only each process's CPU time")

    def set_memory(self, memory_bytes):
        """Lower (or raise) each sandbox's memory limit, e.g. to fit the machine (resources.plan)."""
        self.limits = replace(self.limits, memory_bytes=memory_bytes)
        if self.enabled:
            self._write_proc_files()
        if self.cgroups is not None:
            self.cgroups.memory_bytes = memory_bytes
        if self.scope is not None:
            self.scope = [f"--property=MemoryMax={memory_bytes}" if part.startswith("--property=MemoryMax=") else part
                          for part in self.scope]

    def close(self):
        if self.cgroups is not None:
            self.cgroups.close()
        shutil.rmtree(self._private, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exception):
        self.close()

    # -- the command -------------------------------------------------------------------------

    def _limits_command(self):
        limits = self.limits
        return [
            "choom", "-n", "1000", "--",
            "prlimit", f"--as={limits.address_space_bytes}", f"--cpu={int(limits.seconds) + 5}",
            f"--nproc={limits.processes}", f"--nofile={limits.open_files}",
            f"--fsize={limits.file_bytes}", "--core=0", "--",
        ]

    def _bwrap_command(self, job_path, slot, seccomp_fd):
        uid = sandbox_uid(slot)
        command = [
            self.bwrap, "--seccomp", str(seccomp_fd), "--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts",
            "--unshare-cgroup-try", "--die-with-parent", "--new-session", "--hostname", "grading",
            # The private /tmp first: a Python environment that lives under /tmp is bound over it.
            "--proc", "/proc", "--dev", "/dev",
            "--perms", "1777", "--size", str(self.limits.tmp_bytes), "--tmpfs", "/tmp",
            "--perms", "1777", "--size", str(self.limits.tmp_bytes), "--tmpfs", "/dev/shm",
            "--ro-bind", "/usr", "/usr",
        ]
        for name in PROC_FILES:
            if os.path.exists(f"/proc/{name}"):
                source = self._private / f"proc-{name}"
                command += ["--ro-bind", str(source if source.exists() else self._private / "proc-empty"), f"/proc/{name}"]
        for name in PROC_FOLDERS:
            if os.path.isdir(f"/proc/{name}"):
                command += ["--ro-bind", str(self._private / "empty"), f"/proc/{name}"]
        for name in ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
            if os.path.islink(name):
                command += ["--symlink", os.readlink(name), name]
            elif os.path.isdir(name):
                command += ["--ro-bind", name, name]
        made = {Path("/")}

        def parents(path):
            for parent in reversed(Path(path).parents):
                if parent not in made:
                    made.add(parent)
                    command.extend(["--perms", "0755", "--dir", str(parent)])

        parents("/etc/passwd")
        for path in LOADER_FILES:
            if os.path.exists(path):
                command += ["--ro-bind", path, path]
        for root in python_roots():
            if not root.is_relative_to("/usr"):
                parents(root)
                command += ["--ro-bind", str(root), str(root)]
        for path in _hidden_package_paths():
            command += ["--ro-bind", str(self._private / "empty"), str(path)]
        parents(f"{INSIDE_DIR}/job.json")
        for name in child_files():
            command += ["--ro-bind", str(self._private / name), f"{INSIDE_DIR}/{name}"]
        command += ["--ro-bind", str(job_path.parent / "passwd"), "/etc/passwd",
                    "--ro-bind", str(job_path), f"{INSIDE_DIR}/job.json",
                    "--perms", "1777", "--dir", COURSE_DIR]
        if settings.IMAGES_DIR.is_dir():
            command += ["--ro-bind", str(settings.IMAGES_DIR), f"{COURSE_DIR}/images"]
        command += ["--chdir", COURSE_DIR, "--clearenv"]
        for key, value in self._environment().items():
            command += ["--setenv", key, value]
        if self.as_root:
            command += ["--"] + self._limits_command() + [
                "setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups",
                "--bounding-set=-all", "--inh-caps=-all", "--no-new-privs"]
        else:
            command += ["--unshare-user", "--cap-drop", "ALL", "--"] + self._limits_command()
        return command + [sys.executable, "-E", "-s", "-B", f"{INSIDE_DIR}/child.py", f"{INSIDE_DIR}/job.json"]

    def _environment(self):
        return {
            "PATH": "/usr/bin:/bin", "HOME": "/tmp", "TMPDIR": "/tmp", "MPLCONFIGDIR": "/tmp/matplotlib", "MPLBACKEND": "Agg",
            "LANG": "C.UTF-8", "PYTHONDONTWRITEBYTECODE": "1", "TF_CPP_MIN_LOG_LEVEL": "3",
            # A few threads are enough for the cases; fewer threads, fewer processes counted.
            "TF_NUM_INTRAOP_THREADS": "2", "TF_NUM_INTEROP_THREADS": "1", "OMP_NUM_THREADS": "1",
            "OPENBLAS_NUM_THREADS": "1",
        }

    def _plain_command(self, job_path):
        return self._limits_command() + [sys.executable, "-E", "-s", "-B", str(self._private / "child.py"), str(job_path)]

    def _write_proc_files(self):
        """The constant files shown in /proc (made once, and again when the limits change)."""
        for name, content in [("empty", ""), *_proc_files(self.limits).items()]:
            path = self._private / f"proc-{name}"
            path.unlink(missing_ok=True)  # read-only once written: replaced, not rewritten
            path.write_text(content)
            os.chmod(path, 0o444)

    # -- running -----------------------------------------------------------------------------

    def run(self, job, slot=0, seconds=None):
        """Run child.py on ``job`` (a dict, see child.py); returns an Outcome.

        Args:
            job: the job, plain data.
            slot: the worker slot (it picks the sandbox's user id).
            seconds: the wall-clock limit of this run (default ``Limits.seconds``).
        """
        seconds = self.limits.seconds if seconds is None else seconds
        with tempfile.TemporaryDirectory(prefix="grading-job-") as folder:
            os.chmod(folder, 0o755)
            job_path = Path(folder) / "job.json"
            job_path.write_text(json.dumps(dict(job, output_limit=self.limits.output_characters)))
            os.chmod(job_path, 0o644)
            if not self.enabled:
                if settings.IMAGES_DIR.is_dir():
                    os.symlink(settings.IMAGES_DIR, Path(folder) / "images")  # the notebook's photos
                environment = dict(self._environment(), PATH=os.environ.get("PATH", "/usr/bin:/bin"), HOME=folder,
                                   TMPDIR=folder, MPLCONFIGDIR=folder)
                return self._execute(self._plain_command(job_path), folder, environment, seconds)
            _write_passwd(Path(folder), sandbox_uid(slot))
            groups = self.cgroups.create() if self.cgroups is not None else []
            try:
                with open(self._private / "seccomp.bpf", "rb") as seccomp:
                    command = self._bwrap_command(job_path, slot, seccomp.fileno())
                    if groups:
                        # The shell joins the cgroup, then becomes bwrap: everything it starts is in it.
                        joins = "; ".join(f"echo $$ > {shlex.quote(path)}" for path in Cgroups.procs_files(groups))
                        command = ["/bin/sh", "-c", f'{joins} && exec "$@"', "sh", *command]
                    elif self.scope is not None:
                        command = self.scope + command
                    outcome = self._execute(command, "/", {"PATH": os.environ.get("PATH", ""),
                                                           **{key: value for key, value in os.environ.items()
                                                              if key in ("XDG_RUNTIME_DIR", "DBUS_SESSION_BUS_ADDRESS")}},
                                            seconds, keep_fds=(seccomp.fileno(),))
                if groups and self.cgroups.out_of_memory(groups):
                    outcome.out_of_memory = True
                return outcome
            finally:
                if groups:
                    self.cgroups.remove(groups)

    def _watch_memory(self, process, stop, flags):
        """Without a cgroup: stop the sandbox once its processes together hold more memory than
        the limit (measured ten times a second)."""
        while not stop.wait(WATCH_SECONDS):
            if _tree_memory(_process_tree(process.pid)) > self.limits.memory_bytes:
                flags["out_of_memory"] = True
                try:
                    os.killpg(process.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                return

    def _execute(self, command, cwd, environment, seconds, keep_fds=()):
        process = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            cwd=cwd, env=environment, start_new_session=True, close_fds=True, pass_fds=keep_fds,
        )
        parts, flags, stop = {}, {}, threading.Event()
        reader = threading.Thread(target=_read_bounded, args=(process.stdout, self.limits.answer_bytes, parts))
        reader.start()
        watcher = None
        if self.memory_watched:
            watcher = threading.Thread(target=self._watch_memory, args=(process, stop, flags), daemon=True)
            watcher.start()
        timed_out = False
        try:
            process.wait(timeout=max(0.1, seconds))
        except subprocess.TimeoutExpired:
            timed_out = True
        finally:
            stop.set()
            # The whole process group goes: bwrap, and with it the sandbox's PID namespace.
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            process.wait()
            reader.join()
            process.stdout.close()
            if watcher is not None:
                watcher.join()
        return Outcome(parts.get("output", b""), parts.get("overflowed", False), timed_out, process.returncode,
                       out_of_memory=flags.get("out_of_memory", False))

    def _check_works(self):
        """Run a trivial command in the sandbox; raise SandboxUnavailable if bwrap fails here."""
        self._write_proc_files()
        with tempfile.TemporaryDirectory(prefix="grading-check-") as folder:
            os.chmod(folder, 0o755)
            job_path = Path(folder) / "job.json"
            job_path.write_text("{}")
            _write_passwd(Path(folder), sandbox_uid(0))
            with open(self._private / "seccomp.bpf", "rb") as seccomp:
                command = self._bwrap_command(job_path, 0, seccomp.fileno())
                command = command[: command.index(sys.executable)] + [sys.executable, "-E", "-s", "-c", "print('ok')"]
                try:
                    completed = subprocess.run(command, capture_output=True, timeout=60, pass_fds=(seccomp.fileno(),))
                except (OSError, subprocess.TimeoutExpired) as error:
                    raise SandboxUnavailable(f"{INSTALL_HINT} ({error})") from error
        if completed.stdout.strip() != b"ok":
            detail = completed.stderr.decode(errors="replace").strip().splitlines()[-1:] or [""]
            raise SandboxUnavailable(f"{INSTALL_HINT} (bwrap said: {detail[0][:200]})")

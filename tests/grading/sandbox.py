"""The OS sandbox each graded exercise runs in: bubblewrap, kernel limits, a wall clock outside.

``Sandbox.run(job)`` runs ``child.py`` on one job inside ``bwrap`` (the Debian package
``bubblewrap``) and returns what it printed, read through a bounded reader. Inside:

- its own PID namespace (it sees and can signal only its own processes), network namespace
  (loopback only), IPC and UTS namespaces, and a new session (no terminal);
- a read-only view of just what it needs: /usr (with the /bin, /lib links), the Python
  environment running the grader, ``child.py``, ``answers.py`` and the job, the loader's
  files in /etc and a one-line /etc/passwd; nothing else of the machine (no project checkout,
  no other submissions, no $HOME, no report folder);
- a private, size-limited tmpfs for /tmp, which is also its home and working directory;
- an unprivileged user with no capabilities (when the grader is root: a user id of its own for
  each grader process and worker slot, which no account uses; otherwise the grader's user in a
  user namespace) and no way to regain privileges;
- a seccomp filter (built with libseccomp, through pyseccomp) that refuses the system calls a
  graded cell has no use for and that reach beyond the sandbox: kernel keyrings (shared by all
  processes of a user, and kept after they end), new namespaces and mounts, io_uring, bpf,
  perf_event_open, userfaultfd, ptrace;
- its own cgroup where the machine allows it (``cgroups.py``): one CPU, 3 GiB of memory in all
  (shared memory and tmpfs included) and 256 processes, so that it cannot slow down or starve the
  submission graded beside it;
- kernel limits set before Python starts (``prlimit``): address space, CPU seconds, processes,
  open files, file size, no core files; ``choom`` makes it the OOM killer's first choice;
- ``--die-with-parent``; past the wall-clock limit the grader kills the sandbox, and since
  the sandbox's init process holds the PID namespace, every process the child started dies
  with it. The same happens when the child exits normally.

Without bubblewrap (macOS, Windows, a Linux without it) ``Sandbox`` refuses to start unless it
is made with ``enabled=False`` (the grader's ``--no-sandbox``): then the child runs as a plain
process with the same kernel limits, in a scratch folder, and is NOT kept from reading or
writing files, the network or other processes.
"""

import errno
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

from tests.grading.cgroups import Cgroups

GRADING_DIR = Path(__file__).resolve().parent
CHILD_FILES = {"child.py": GRADING_DIR / "child.py", "answers.py": GRADING_DIR.parent / "answers.py"}
INSIDE_DIR = "/grading"  # where the child's files are seen inside the sandbox
INSTALL_HINT = (
    "The grader runs each submission in a bubblewrap sandbox, and bwrap was not found or does not "
    "work here. Install it (Debian/Ubuntu: sudo apt-get install -y bubblewrap; Fedora: sudo dnf "
    "install bubblewrap; it needs Linux), or grade with --no-sandbox, which does NOT protect the "
    "grader, the machine or other submissions from a hostile notebook."
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
    "perf_event_open", "userfaultfd", "ptrace",
)
CLONE_NEWUSER = 0x10000000
LOADER_FILES = ("/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/localtime")


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
    # A thread is a clone without CLONE_NEWUSER: allowed. clone3 hides its flags from seccomp, so
    # it says "not implemented", and the C library falls back to clone.
    refuse.add_rule(seccomp.ERRNO(errno.EPERM), "clone", seccomp.Arg(0, seccomp.MASKED_EQ, CLONE_NEWUSER, CLONE_NEWUSER))
    refuse.add_rule(seccomp.ERRNO(errno.ENOSYS), "clone3")
    with open(path, "wb") as handle:
        refuse.export_bpf(handle)


class SandboxUnavailable(RuntimeError):
    """bubblewrap is missing or cannot make a sandbox on this machine."""


@dataclass(frozen=True)
class Limits:
    """What one exercise of one submission may use."""

    seconds: float = 90  # wall clock, enforced from outside
    cpus: float = 1.0  # CPU share of the whole sandbox (with cgroups)
    memory_bytes: int = 3 * 2**30  # address space of each process, and (with cgroups) all memory
    processes: int = 256  # processes and threads (TensorFlow starts a few dozen threads)
    open_files: int = 256
    file_bytes: int = 64 * 2**20  # largest file it may write (in its private /tmp)
    tmp_bytes: int = 64 * 2**20  # size of its private /tmp
    output_characters: int = 50_000_000  # what the cell may print, all thrown away (checked by child.py)
    answer_bytes: int = 4 * 2**20  # what the grader reads of the answer; the rest is discarded


@dataclass
class Outcome:
    """What came back from one run: the answer's bytes (at most Limits.answer_bytes)."""

    output: bytes
    overflowed: bool  # more than Limits.answer_bytes were sent; the rest was discarded
    timed_out: bool
    exit_code: int
    out_of_memory: bool = False  # the kernel killed one of its processes for the cgroup's memory


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


class Sandbox:
    """Runs child.py on jobs, in bubblewrap (``enabled``) or as a plain limited process."""

    def __init__(self, limits=Limits(), enabled=True):
        self.limits = limits
        self.enabled = enabled
        self.as_root = os.geteuid() == 0
        self.bwrap = shutil.which("bwrap") if enabled else None
        self._private = Path(tempfile.mkdtemp(prefix="grading-sandbox-"))
        os.chmod(self._private, 0o755)
        for name, path in CHILD_FILES.items():
            shutil.copyfile(path, self._private / name)  # a snapshot: the checkout is never bound
        self.cgroups, self.notes = None, []
        if enabled:
            if sys.platform != "linux" or self.bwrap is None:
                raise SandboxUnavailable(INSTALL_HINT)
            write_seccomp_filter(self._private / "seccomp.bpf")
            self._check_works()
            self.cgroups = Cgroups(limits.cpus, limits.memory_bytes, limits.processes)
            if not self.cgroups.available():
                self.notes.append(
                    f"no cgroups here ({self.cgroups.problem}): each sandbox's CPU share and total memory are not "
                    "bounded, only each process's memory and CPU time; grade as root on Linux for the full limits")

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
            "prlimit", f"--as={limits.memory_bytes}", f"--cpu={int(limits.seconds) + 5}",
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
            "--ro-bind", "/usr", "/usr",
        ]
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
        parents(f"{INSIDE_DIR}/job.json")
        for name in CHILD_FILES:
            command += ["--ro-bind", str(self._private / name), f"{INSIDE_DIR}/{name}"]
        command += ["--ro-bind", str(job_path.parent / "passwd"), "/etc/passwd",
                    "--ro-bind", str(job_path), f"{INSIDE_DIR}/job.json",
                    "--chdir", "/tmp", "--clearenv"]
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
            "PATH": "/usr/bin:/bin", "HOME": "/tmp", "TMPDIR": "/tmp", "MPLCONFIGDIR": "/tmp",
            "LANG": "C.UTF-8", "PYTHONDONTWRITEBYTECODE": "1", "TF_CPP_MIN_LOG_LEVEL": "3",
            # A few threads are enough for the cases; fewer threads, fewer processes counted.
            "TF_NUM_INTRAOP_THREADS": "2", "TF_NUM_INTEROP_THREADS": "1", "OMP_NUM_THREADS": "1",
            "OPENBLAS_NUM_THREADS": "1",
        }

    def _plain_command(self, job_path):
        return self._limits_command() + [sys.executable, "-E", "-s", "-B", str(self._private / "child.py"), str(job_path)]

    # -- running -----------------------------------------------------------------------------

    def run(self, job, slot=0):
        """Run child.py on ``job`` (a dict, see child.py); returns an Outcome."""
        with tempfile.TemporaryDirectory(prefix="grading-job-") as folder:
            os.chmod(folder, 0o755)
            job_path = Path(folder) / "job.json"
            job_path.write_text(json.dumps(dict(job, output_limit=self.limits.output_characters)))
            os.chmod(job_path, 0o644)
            if not self.enabled:
                environment = dict(self._environment(), PATH=os.environ.get("PATH", "/usr/bin:/bin"), HOME=folder,
                                   TMPDIR=folder, MPLCONFIGDIR=folder)
                return self._execute(self._plain_command(job_path), folder, environment)
            _write_passwd(Path(folder), sandbox_uid(slot))
            groups = self.cgroups.create() if self.cgroups.available() else []
            try:
                with open(self._private / "seccomp.bpf", "rb") as seccomp:
                    command = self._bwrap_command(job_path, slot, seccomp.fileno())
                    if groups:
                        # The shell joins the cgroup, then becomes bwrap: everything it starts is in it.
                        joins = "; ".join(f"echo $$ > {shlex.quote(path)}" for path in Cgroups.procs_files(groups))
                        command = ["/bin/sh", "-c", f'{joins} && exec "$@"', "sh", *command]
                    outcome = self._execute(command, "/", {"PATH": os.environ.get("PATH", "")},
                                            keep_fds=(seccomp.fileno(),))
                outcome.out_of_memory = bool(groups) and self.cgroups.out_of_memory(groups)
                return outcome
            finally:
                if groups:
                    self.cgroups.remove(groups)

    def _execute(self, command, cwd, environment, keep_fds=()):
        process = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            cwd=cwd, env=environment, start_new_session=True, close_fds=True, pass_fds=keep_fds,
        )
        parts = {}
        reader = threading.Thread(target=_read_bounded, args=(process.stdout, self.limits.answer_bytes, parts))
        reader.start()
        timed_out = False
        try:
            process.wait(timeout=self.limits.seconds)
        except subprocess.TimeoutExpired:
            timed_out = True
        finally:
            # The whole process group goes: bwrap, and with it the sandbox's PID namespace.
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            process.wait()
            reader.join()
            process.stdout.close()
        return Outcome(parts.get("output", b""), parts.get("overflowed", False), timed_out, process.returncode)

    def _check_works(self):
        """Run a trivial command in the sandbox; raise SandboxUnavailable if bwrap fails here."""
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

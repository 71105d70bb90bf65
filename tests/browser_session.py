"""A real Jupyter server and a headless Chromium for tests/test_browser.py.

``jupyter_server(app, root_dir)`` starts JupyterLab (``app="lab"``) or Notebook 7
(``app="notebook"``) on 127.0.0.1 with a free port and a random token, its config, data, runtime
and IPython folders in a temporary folder (nothing under $HOME), and shuts it and its kernels
down afterwards. ``chromium_context()`` opens Debian's Chromium through Playwright. Both always
clean up, also when a test fails.
"""

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

CHROMIUM_CANDIDATES = ("chromium", "chromium-browser")
INSTALL_HINT = (
    "needs Debian's Chromium and Playwright: apt-get install -y chromium chromium-driver; "
    "python -m pip install -r requirements-test.txt"
)
CHROMIUM_FLAGS = [
    "--no-sandbox",  # Chromium refuses to start as root without it (CI runs as root)
    "--disable-gpu",
    "--disable-dev-shm-usage",
    # No connections of its own: this machine reaches no network but package registries.
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
# The page a student sees: nbgrader, installed for the tests (requirements-test.txt) but not for
# students (requirements.txt), is switched off. JupyterLab's question about Jupyter news is
# answered, as for students, by the setting scripts/setup.sh writes into the environment.
DISABLED_EXTENSIONS = {"@jupyter/nbgrader": True}
STUDENT_SERVER_CONFIG = {"ServerApp": {"jpserver_extensions": {"nbgrader": False}}}


def chromium_executable():
    """Path of the Chromium to drive: $CHROMIUM, else Debian's chromium on PATH, else None."""
    if os.environ.get("CHROMIUM"):
        return os.environ["CHROMIUM"] if os.access(os.environ["CHROMIUM"], os.X_OK) else None
    for name in CHROMIUM_CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    return None


def missing_browser():
    """None when the browser test can run, else the one line saying what to install."""
    if chromium_executable() is None:
        return f"Chromium not found; the browser test {INSTALL_HINT}"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return f"Playwright not installed; the browser test {INSTALL_HINT}"
    return None


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class JupyterServer:
    """A running server: ``url(path)`` gives an address with the token; ``log()`` its output."""

    def __init__(self, app, root_dir, home):
        self.app, self.root_dir, self.home = app, Path(root_dir), Path(home)
        self.port, self.token = free_port(), secrets.token_hex(24)
        self.base = f"http://127.0.0.1:{self.port}"
        self.log_path = self.home / "server.log"
        self.runtime_dir = self.home / "runtime"
        self.process = None

    def url(self, path):
        return f"{self.base}/{path.lstrip('/')}?token={self.token}"

    def log(self):
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def api(self, method, path, timeout=10):
        request = urllib.request.Request(
            f"{self.base}/api/{path}", method=method, headers={"Authorization": f"token {self.token}"}
        )
        with urllib.request.urlopen(request, timeout=timeout) as response:
            body = response.read()
        return json.loads(body) if body else None

    def environment(self):
        environment = dict(os.environ)
        for variable, folder in (
            ("JUPYTER_CONFIG_DIR", "config"), ("JUPYTER_DATA_DIR", "data"),
            ("JUPYTER_RUNTIME_DIR", "runtime"), ("IPYTHONDIR", "ipython"),
        ):
            environment[variable] = str(self.home / folder)
            (self.home / folder).mkdir(parents=True, exist_ok=True)
        environment.pop("JUPYTER_PATH", None)
        environment.pop("JUPYTER_TOKEN", None)
        labconfig = self.home / "config" / "labconfig"
        labconfig.mkdir(parents=True, exist_ok=True)
        (labconfig / "page_config.json").write_text(json.dumps({"disabledExtensions": DISABLED_EXTENSIONS}))
        (self.home / "config" / "jupyter_server_config.json").write_text(json.dumps(STUDENT_SERVER_CONFIG))
        return environment

    def start(self, timeout=90):
        module = {"lab": "jupyterlab", "notebook": "notebook"}[self.app]
        command = [
            sys.executable, "-m", module, "--no-browser",
            "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={self.port}", "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={self.token}", f"--ServerApp.root_dir={self.root_dir}",
        ]
        if os.geteuid() == 0:
            command.append("--allow-root")  # CI runs as root
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                command, cwd=self.root_dir, env=self.environment(), stdout=log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"jupyter {self.app} exited with {self.process.returncode}:\n{self.log()[-3000:]}")
            try:
                self.api("GET", "status", timeout=2)
                return self
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.3)
        raise RuntimeError(f"jupyter {self.app} did not answer within {timeout} s:\n{self.log()[-3000:]}")

    def stop(self):
        """Shut the kernels and the server down; kill whatever is left of them."""
        if self.process is None:
            return
        if self.process.poll() is None:
            with contextlib.suppress(Exception):
                for kernel in self.api("GET", "kernels"):
                    self.api("DELETE", f"kernels/{kernel['id']}", timeout=20)
            with contextlib.suppress(Exception):
                self.api("POST", "shutdown")
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        # Kernels run in sessions of their own; any left over names this server's runtime folder.
        for pid in _processes_mentioning(str(self.runtime_dir)):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.process = None


def _processes_mentioning(text):
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            with contextlib.suppress(OSError):
                if text.encode() in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
    return found


@contextlib.contextmanager
def jupyter_server(app, root_dir):
    """Start ``jupyter lab`` or ``jupyter notebook`` serving ``root_dir``; always stop it."""
    home = Path(tempfile.mkdtemp(prefix=f"jupyter-{app}-"))
    server = JupyterServer(app, root_dir, home)
    try:
        yield server.start()
    finally:
        server.stop()
        shutil.rmtree(home, ignore_errors=True)


@contextlib.contextmanager
def chromium_context(width=1400, height=1000):
    """A Playwright browser context in headless Chromium with a fresh profile; closed afterwards."""
    from playwright.sync_api import sync_playwright

    profile = tempfile.mkdtemp(prefix="chromium-profile-")
    try:
        with sync_playwright() as playwright:
            context = playwright.chromium.launch_persistent_context(
                profile, executable_path=chromium_executable(), headless=True, args=CHROMIUM_FLAGS,
                viewport={"width": width, "height": height},
            )
            try:
                yield context
            finally:
                context.close()
    finally:
        shutil.rmtree(profile, ignore_errors=True)

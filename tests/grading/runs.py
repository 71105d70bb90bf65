"""Running the grader as a grader would, for the grading tests: its command, its environment, and
what its reports must say."""

import os
import subprocess
import sys
from pathlib import Path

from tests.grading.fixtures import make_fixtures

PROJECT_DIR = Path(__file__).resolve().parents[2]
FIXTURES = make_fixtures.NOTEBOOKS_DIR
RESULTS = make_fixtures.RESULTS_DIR


def grade(targets, report, *options, env=None, pids=None):
    """Run the README's grading command; returns (exit code, output). ``pids``, a list, gets the
    grader's process id (its sandboxes' user ids are made from it: sandbox.sandbox_uid)."""
    command = [sys.executable, "-m", "grading", *map(str, targets), "--report", str(report), *options]
    with subprocess.Popen(command, cwd=PROJECT_DIR, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          env=env) as process:
        if pids is not None:
            pids.append(process.pid)
        output, _ = process.communicate(timeout=1800)
    return process.returncode, output


def grading_environment(tmp, cache):
    """The grader's environment for these tests: its own $HOME and caches, so that a change
    in the project's or the real $HOME can only come from a submission."""
    home = tmp / "home"
    home.mkdir(exist_ok=True)
    return dict(os.environ, HOME=str(home), FACENET_CACHE_DIR=str(cache), KERAS_HOME=str(tmp / "keras"),
                MPLCONFIGDIR=str(tmp / "matplotlib"), PYTHONDONTWRITEBYTECODE="1")


def check_report(name, report, expected):
    """Differences between a report and its expected report, as lines."""
    problems = []
    for exercise, want in expected["exercises"].items():
        got = report["exercises"][exercise]
        if (got["points"] == got["max_points"]) != want["passes"]:
            problems.append(f"{name}/{exercise}: {got['points']}/{got['max_points']} points, message {got['message']!r}")
        if "message" in want and got["message"] != want["message"]:
            problems.append(f"{name}/{exercise}: message {got['message']!r}, expected {want['message']!r}")
        if "message_contains" in want and want["message_contains"] not in (got["message"] or ""):
            problems.append(f"{name}/{exercise}: message {got['message']!r} lacks {want['message_contains']!r}")
        if want["passes"] and got["message"] is not None:
            problems.append(f"{name}/{exercise}: passes but says {got['message']!r}")
    if "note_contains" in expected and not any(expected["note_contains"] in note for note in report["notes"]):
        problems.append(f"{name}: notes {report['notes']!r} lack {expected['note_contains']!r}")
    return problems

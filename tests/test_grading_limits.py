"""The grader's limits, through its real command: time budgets and instructors' hidden tests, a CPU
hog beside a classmate, no bubblewrap; and, in this process, shards and their merge, the memory
plan, and a sandbox's memory watched where there is no cgroup."""

import json
import os
import shutil
import sys
from pathlib import Path

import nbformat
import pytest

from exercises import checks, contract
from grading import cli, grader, resources, sandbox
from tests.grading.fixtures import make_fixtures
from tests.grading.runs import (
    FIXTURES,
    RESULTS,
    check_report,
    grade,
    grading_environment,
)


@pytest.fixture(scope="module")
def shared_cache():
    """The project's embedding cache: the grader's encodings of the notebook's photos are the
    notebook's own (written atomically, so tests running at once share it safely)."""
    import settings

    return settings.CACHE_DIR


def instructors_notebook_with_a_hidden_assert(folder):
    """A copy of the instructors' notebook whose verify test cell has a hidden assert of its own."""
    notebook = make_fixtures.read_source()
    cell = next(cell for cell in notebook.cells if contract.nbgrader_metadata(cell).get("grade_id") == "test_verify")
    cell.source = cell.source.replace(
        "### END HIDDEN TESTS",
        'dist, door_open = verify("images/camera/camera_01.jpg", "arnold", database, model)\n'
        'assert dist > 5, "an instructor\'s check: dist must be above 5"\n### END HIDDEN TESTS')
    path = folder / "instructors.ipynb"
    nbformat.write(notebook, path)
    return path


def test_time_limits_compose_within_each_submissions_budget_and_hidden_asserts_count(tmp_path, lfw_dir, shared_cache):
    folder = tmp_path / "slow"
    folder.mkdir()
    for name in make_fixtures.slow_fixture_names() | {"lost_the_cell_metadata", "right_but_prints_every_encoding",
                                                      "skips_the_hidden_test"}:
        shutil.copy(FIXTURES / f"{name}.ipynb", folder)
    source = instructors_notebook_with_a_hidden_assert(tmp_path)
    code, output = grade([folder], tmp_path / "slow.json", "--time-limit", "3", "--workers", "1",
                         "--instructors-notebook", str(source), env=grading_environment(tmp_path, shared_cache))
    reports = {Path(report["submission"]).stem: report for report in json.loads((tmp_path / "slow.json").read_text())}
    problems = []
    for name in make_fixtures.slow_fixture_names() | {"lost_the_cell_metadata"}:
        problems += check_report(name, reports[name], json.loads((RESULTS / f"{name}.json").read_text()))
    assert not problems, "\n".join(problems) + output[-2000:]
    assert code == cli.EXIT_GRADED
    # The instructor's hidden assert: a right verify loses its points, with the assert's message,
    # and so does one whose cell tries to skip hidden tests (by rewriting exec).
    for name in ("right_but_prints_every_encoding", "skips_the_hidden_test"):
        verify = reports[name]["exercises"]["verify"]
        assert verify["points"] == 0 and verify["message"] == (
            "an instructor's hidden test failed (its line 2): AssertionError: an instructor's check: dist must be above 5")


def test_a_cpu_hog_does_not_starve_the_classmate_graded_beside_it(tmp_path, lfw_dir, shared_cache):
    folder = tmp_path / "two"
    folder.mkdir()
    shutil.copy(FIXTURES / "hogs_the_cpu.ipynb", folder)
    shutil.copy(FIXTURES / "solved.ipynb", folder)
    # The hog keeps 48 processes busy for half of its 30 s, while the classmate's three
    # exercises are graded by the other worker, with the same 30 s each: room enough while other
    # tests load the machine too. (Without cgroups the classmate's triplet_loss runs out of time:
    # it needs about 4 s of CPU, and gets a 49th of it.)
    code, output = grade([folder], tmp_path / "two.json", "--time-limit", "30", "--workers", "2",
                         env=grading_environment(tmp_path, shared_cache))
    reports = {Path(report["submission"]).stem: report for report in json.loads((tmp_path / "two.json").read_text())}
    assert reports["solved"]["total"] == reports["solved"]["max_total"], reports["solved"]
    assert not check_report("hogs_the_cpu", reports["hogs_the_cpu"], json.loads((RESULTS / "hogs_the_cpu.json").read_text()))


def test_without_bubblewrap_the_grader_refuses_and_says_how_to_install_it(tmp_path, lfw_dir, shared_cache):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("choom", "prlimit", "setpriv"):
        os.symlink(shutil.which(tool), bin_dir / tool)
    environment = dict(grading_environment(tmp_path, shared_cache), PATH=f"{Path(sys.executable).parent}:{bin_dir}")
    code, output = grade([FIXTURES / "solved.ipynb"], tmp_path / "none.json", env=environment)
    assert code == cli.EXIT_NO_SANDBOX and "apt-get install -y bubblewrap" in output and "--no-sandbox" in output, output[-2000:]
    assert not (tmp_path / "none.json").exists()
    code, output = grade([FIXTURES / "lost_the_cell_metadata.ipynb"], tmp_path / "unsafe.json", "--no-sandbox", env=environment)
    [report] = json.loads((tmp_path / "unsafe.json").read_text())
    assert report["exercises"]["who_is_it"]["points"] > 0, output[-2000:]
    assert "WARNING" in output and "--no-sandbox" in output and code == cli.EXIT_GRADED


# ---------------------------------------------------------------------------------------------
# Shards, memory, and the sandbox's memory without a cgroup


def test_shards_split_a_class_and_merging_joins_them(tmp_path):
    items = [f"n{index}.ipynb" for index in range(7)]
    parts = [cli.shard(items, f"{number}/3") for number in (1, 2, 3)]
    assert sorted(sum(parts, [])) == sorted(items) and all(parts)
    with pytest.raises(ValueError, match="K must be between 1 and N"):
        cli.shard(items, "4/3")
    reports = [{"submission": name, "total": 1, "max_total": 10, "notes": [], "seed": 1,
                "exercises": {"verify": {"points": 1, "max_points": 3, "message": "x"}}} for name in items]
    for number, part in enumerate(parts, start=1):
        grader.write_reports([report for report in reports if report["submission"] in part], tmp_path / f"shard{number}.json", ["verify"])
    assert cli.main(["merge", *(str(tmp_path / f"shard{number}.json") for number in (1, 2, 3)),
                     "--report", str(tmp_path / "grades.json")]) == cli.EXIT_GRADED
    assert json.loads((tmp_path / "grades.json").read_text()) == reports
    assert (tmp_path / "grades.csv").read_text().count("\n") == len(items) + 1
    assert cli.main(["merge", str(tmp_path / "shard1.json"), str(tmp_path / "shard1.json"),
                     "--report", str(tmp_path / "twice.json")]) == cli.EXIT_USAGE


def test_workers_and_memory_fit_the_memory_available():
    gib = resources.GIB
    assert resources.plan(2, 3 * gib, available=16 * gib, own=gib) == resources.Plan(2, 3 * gib, "")
    fewer = resources.plan(4, 3 * gib, available=8 * gib, own=gib)
    assert fewer.workers == 2 and fewer.memory_bytes == 3 * gib and "instead of 4" in fewer.line
    smaller = resources.plan(2, 3 * gib, available=3 * gib, own=gib)
    assert smaller.workers == 1 and gib <= smaller.memory_bytes < 3 * gib and "limited to" in smaller.line
    with pytest.raises(MemoryError, match="Not enough memory to grade"):
        resources.plan(1, 3 * gib, available=gib, own=gib)


def test_the_memory_a_cgroup_still_allows_counts_the_limits_of_its_parents(tmp_path):
    memory = tmp_path / "memory"
    (memory / "job" / "grader").mkdir(parents=True)
    (memory / "memory.limit_in_bytes").write_text(str(2**63 - 4096))
    (memory / "memory.usage_in_bytes").write_text("0")
    (memory / "job" / "memory.limit_in_bytes").write_text(str(5 * 2**30))
    (memory / "job" / "memory.usage_in_bytes").write_text(str(2**30 + 2**29))
    (memory / "job" / "memory.stat").write_text(f"cache 1\ntotal_inactive_file {2**29}\n")
    (memory / "job" / "grader" / "memory.limit_in_bytes").write_text(str(2**63 - 4096))
    (memory / "job" / "grader" / "memory.usage_in_bytes").write_text(str(2**30))
    assert resources.cgroup_room("4:memory:/job/grader\n1:cpu:/\n", root=tmp_path) == 4 * 2**30


HOGS_IN_MANY_PROCESSES = '''\
import os, time
for _ in range(6):
    if os.fork() == 0:
        kept = b"\\1" * (200 * 2**20)  # 6 x 200 MB, touched: more than the 512 MB allowed in all
        time.sleep(60)
        os._exit(0)
time.sleep(60)

def who_is_it(image_path, database, model):
    return float("inf"), None
'''


def test_without_a_cgroup_the_sandboxes_memory_is_watched_and_bounded(monkeypatch, tmp_path):
    monkeypatch.setattr(sandbox.Cgroups, "available", lambda self: False)
    with sandbox.Sandbox(sandbox.Limits(seconds=40, memory_bytes=512 * 2**20)) as box:
        assert box.memory_watched and box.cgroups is None and "watched" in box.notes[0]
        job = {"exercise": "who_is_it", "cells": [{"kind": "exercise", "exercise": "who_is_it", "source": HOGS_IN_MANY_PROCESSES}],
               "hidden_test": "", "cases": [], "databases": {}, "encodings": {},
               "notebook": {"database": {}, "threshold": 1.11, "photos": {}}}
        outcome = box.run(job)
    assert outcome.out_of_memory and not outcome.timed_out
    kind, message, _ = grader.read_answer(outcome, checks.CaseSet("who_is_it", [], {}, {}), box.limits, 40)
    assert kind == "problem" and message.startswith("it ran out of memory"), message

"""The sandbox's cgroups: the limits written where each cgroup version reads them, and a real one
made, joined and removed where this machine allows it."""

import os
import subprocess
import time
from pathlib import Path

import pytest

from grading.cgroups import Cgroups

V1_SELF = "12:pids:/\n5:memory:/service/abc\n2:cpu,cpuacct:/\n0::/\n"


def fake_v1(root):
    for controller in ("cpu", "memory", "pids"):
        (root / controller).mkdir()
        (root / controller / "cgroup.procs").write_text("")
    (root / "memory" / "service" / "abc").mkdir(parents=True)


def test_v1_limits_go_in_each_controllers_hierarchy_under_this_process_own_cgroup(tmp_path):
    fake_v1(tmp_path)
    groups = Cgroups(cpus=1.0, memory_bytes=3 * 2**30, processes=256, root=tmp_path, proc_cgroup=V1_SELF)
    assert groups.available(), groups.problem
    folders = groups.create()
    by_controller = {folder.parts[len(tmp_path.parts)]: folder for folder in folders}
    assert by_controller["memory"].parent.parent == tmp_path / "memory" / "service" / "abc"
    assert (by_controller["cpu"] / "cpu.cfs_quota_us").read_text() == "100000"
    assert (by_controller["cpu"] / "cpu.cfs_period_us").read_text() == "100000"
    assert (by_controller["memory"] / "memory.limit_in_bytes").read_text() == str(3 * 2**30)
    assert (by_controller["pids"] / "pids.max").read_text() == "256"
    assert Cgroups.procs_files(folders) == [str(folder / "cgroup.procs") for folder in folders]


def test_v2_limits_and_controllers_at_the_root(tmp_path):
    (tmp_path / "cgroup.controllers").write_text("cpuset cpu io memory pids\n")
    groups = Cgroups(cpus=0.5, memory_bytes=2**30, processes=64, root=tmp_path, proc_cgroup="0::/user.slice\n")
    assert groups.available(), groups.problem
    assert (tmp_path / "cgroup.subtree_control").read_text() == "+cpu +memory +pids"
    [folder] = groups.create()
    assert (folder.parent / "cgroup.subtree_control").read_text() == "+cpu +memory +pids"
    assert (folder / "cpu.max").read_text() == "50000 100000"
    assert (folder / "memory.max").read_text() == str(2**30)
    assert (folder / "pids.max").read_text() == "64"
    (folder / "memory.events").write_text("low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n")
    assert groups.out_of_memory([folder])


def test_without_the_controllers_cgroups_are_unavailable_and_say_why(tmp_path):
    (tmp_path / "cgroup.controllers").write_text("cpu io\n")
    groups = Cgroups(cpus=1, memory_bytes=2**30, processes=64, root=tmp_path, proc_cgroup="0::/\n")
    assert not groups.available() and "memory" in groups.problem and "pids" in groups.problem


@pytest.mark.skipif(os.geteuid() != 0, reason="making cgroups needs root")
def test_a_real_cgroup_is_joined_limited_and_removed_with_its_processes():
    groups = Cgroups(cpus=1, memory_bytes=2**30, processes=64)
    if not groups.available():
        pytest.skip(f"no writable cgroups here: {groups.problem}")
    bases = list(groups.bases.values())
    try:
        folders = groups.create()
        joins = "; ".join(f"echo $$ > {path}" for path in Cgroups.procs_files(folders))
        sleeper = subprocess.Popen(["/bin/sh", "-c", f"{joins} && exec sleep 60"])
        for _ in range(100):
            if groups.members(folders):
                break
            time.sleep(0.02)
        assert groups.members(folders) == {sleeper.pid}
        groups.remove(folders, wait_seconds=0.2)  # still there: killed, then the cgroup goes
        sleeper.wait(timeout=10)
        assert not any(Path(folder).exists() for folder in folders)
    finally:
        groups.close()
    assert bases and not any(base.exists() for base in bases)


@pytest.mark.skipif(os.geteuid() != 0, reason="making cgroups needs root")
def test_the_cgroups_a_killed_grader_left_are_removed_at_the_next_start():
    probe = Cgroups(cpus=1, memory_bytes=2**30, processes=64)
    if not probe.available():
        pytest.skip(f"no writable cgroups here: {probe.problem}")
    dead = subprocess.run(["true"]).returncode or 4_000_000  # a PID no process has (above pid_max's default)
    left = [base.parent / f"facenet-grading-{dead}-1" / "run-7" for base in probe.bases.values()]
    probe.close()
    for folder in left:
        folder.mkdir(parents=True)
    try:
        again = Cgroups(cpus=1, memory_bytes=2**30, processes=64)
        assert again.remove_stale() == len(left)
        assert not any(folder.parent.exists() for folder in left)
        again.close()
    finally:
        for folder in left:
            for path in (folder, folder.parent):
                if path.exists():
                    path.rmdir()

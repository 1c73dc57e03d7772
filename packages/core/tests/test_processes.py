"""Stopping a server stops its whole tree, even children that lead process groups of their own."""

from __future__ import annotations

import subprocess
import time

from mlstack_core.processes import group_alive, is_alive, process_tree, stop_group, survivors


def test_stop_group_reaches_a_child_in_its_own_session() -> None:
    parent = subprocess.Popen(
        ["bash", "-c", "sleep 60 & setsid sleep 60 & wait"], start_new_session=True
    )
    deadline = time.monotonic() + 5
    while len(process_tree(parent.pid)) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    tree = process_tree(parent.pid)
    assert len(tree) == 3
    stop_group(parent.pid, timeout=5)
    assert not any(is_alive(pid) for pid in tree)
    assert not group_alive(parent.pid)


def test_an_unknown_pid_has_no_tree() -> None:
    assert process_tree(2**22 + 7) == []


def test_survivors_waits_for_a_killed_process_and_names_a_running_one() -> None:
    killed = subprocess.Popen(["sleep", "60"])
    running = subprocess.Popen(["sleep", "60"])
    try:
        killed.kill()
        assert survivors([killed.pid, running.pid], within=1.0) == [running.pid]
    finally:
        running.kill()
        killed.wait()
        running.wait()

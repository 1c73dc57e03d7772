"""Process groups and process trees, with the standard library only.

Every server of the stack runs in a session of its own, but BentoML's workers lead process
groups of their own too, so stopping a server means signalling its group and every descendant.
The supervisor, the tests and the benchmarks all stop servers through these functions.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

POLL_SECONDS = 0.25
PROC = Path("/proc")


def console_script(name: str) -> str:
    """A console script of this environment (the venv's bin), whatever PATH says."""
    return str(Path(sys.executable).parent / name)


def _parents() -> dict[int, tuple[int, str]]:
    """Every process's parent PID and state letter (`Z` for a zombie), from /proc or `ps`."""
    table: dict[int, tuple[int, str]] = {}
    if PROC.is_dir():
        for entry in PROC.iterdir():
            if not entry.name.isdigit():
                continue
            with contextlib.suppress(OSError, ValueError, IndexError):
                # comm may hold spaces and parentheses: the fields after its last ')' are fixed.
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                table[int(entry.name)] = (int(fields[1]), fields[0])
        return table
    listing = subprocess.run(
        ["ps", "-A", "-o", "pid=,ppid=,stat="], capture_output=True, text=True, check=False
    )
    for line in listing.stdout.splitlines():
        with contextlib.suppress(ValueError):
            pid, ppid, state = line.split(None, 2)
            table[int(pid)] = (int(ppid), state[:1])
    return table


def process_tree(pid: int) -> list[int]:
    """`pid` and all its descendants that are running (not zombies), parents first."""
    table = _parents()
    if pid not in table:
        return []
    tree, frontier = [pid], [pid]
    while frontier:
        parent = frontier.pop()
        children = [child for child, (ppid, _) in table.items() if ppid == parent]
        tree.extend(children)
        frontier.extend(children)
    return [p for p in tree if table[p][1] != "Z"]


def is_alive(pid: int) -> bool:
    """Running and not a zombie waiting to be reaped."""
    return pid in process_tree(pid)


def survivors(pids: list[int], within: float = 10.0) -> list[int]:
    """Those of `pids` still running after `within` seconds.

    A signal is delivered at once, but a killed process with a large heap takes a moment to
    exit, so a check right after `kill -9` would see it alive.
    """
    deadline = time.monotonic() + within
    running = [p for p in pids if is_alive(p)]
    while running and time.monotonic() < deadline:
        time.sleep(POLL_SECONDS)
        running = [p for p in running if is_alive(p)]
    return running


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def signal_tree(pid: int, sig: signal.Signals, processes: list[int] | None = None) -> list[int]:
    """Send `sig` to the process group of `pid` and to every process of its tree."""
    tree = process_tree(pid) if processes is None else processes
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)
    for process in tree:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(process, sig)
    return tree


def _reap(pid: int, flags: int) -> None:
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, flags)


def stop_group(pid: int, timeout: float = 10.0) -> None:
    """SIGTERM the process group and every descendant; SIGKILL what is left after `timeout`."""
    stop_groups([pid], timeout)


def stop_groups(pids: list[int], timeout: float = 10.0) -> None:
    """`stop_group` for several servers at once: all are asked to stop, then all are waited
    for, so stopping a stack takes as long as its slowest server, not the sum of them."""
    trees = {pid: signal_tree(pid, signal.SIGTERM) for pid in pids}
    deadline = time.monotonic() + timeout
    while trees and time.monotonic() < deadline:
        for pid, processes in list(trees.items()):
            _reap(pid, os.WNOHANG)
            if not group_alive(pid) and not any(is_alive(p) for p in processes):
                del trees[pid]
        time.sleep(POLL_SECONDS)
    for pid, processes in trees.items():
        signal_tree(pid, signal.SIGKILL, [p for p in processes if is_alive(p)])
        _reap(pid, 0)

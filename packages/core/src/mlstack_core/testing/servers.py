"""Servers in tests and benchmarks: a free port, a process group of its own, a health wait.

Every package's tests and the benchmarks start real servers (`bentoml serve`, streamlit,
MLflow, PostgreSQL) the same way: bound to 127.0.0.1 on a free port, in a session of their
own, waited on until a health URL answers, and stopped with their whole process tree.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

import httpx

from mlstack_core.processes import stop_group

VENV_BIN = Path(sys.executable).parent
POLL_SECONDS = 0.3
LOG_TAIL = 3000


def clean_up_on_sigterm() -> None:
    """Make SIGTERM (what `stop_group` sends) end this process as Ctrl-C does: by an exception,
    so the `running` blocks stop their servers and temporary folders are removed. Python's
    default for SIGTERM is to die at once, leaving both behind (a stopped benchmark left its
    `mlflow models serve` running and its 650 MB store in /tmp)."""

    def leave(signum: int, _frame: object) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, leave)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def port_answers(port: int) -> bool:
    """Whether something accepts connections on 127.0.0.1:`port`."""
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def venv_path() -> str:
    """This process's PATH with this venv's bin first.

    The console scripts of the workspace, `uv` (for `bentoml build`) and `uvicorn` (for
    `mlflow models serve`) are found there, whatever shell started the tests.
    """
    return f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}"


def venv_env(**extra: str) -> dict[str, str]:
    """This process's environment with `venv_path()` as PATH, and `extra` on top."""
    return {**os.environ, "PATH": venv_path(), **extra}


def spawn(
    command: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    log: Path | None = None,
) -> subprocess.Popen[bytes]:
    """Start `command` in a process group of its own; output goes to `log` (or nowhere).

    A first word without a slash names a console script of this venv when one exists.
    """
    program = command[0]
    if os.sep not in program and (VENV_BIN / program).exists():
        program = str(VENV_BIN / program)
    env = dict(env) if env is not None else venv_env()
    with (log or Path(os.devnull)).open("wb") as out:
        return subprocess.Popen(
            [program, *command[1:]],
            cwd=cwd,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def _tail(log: Path | None) -> str:
    if log is None or not log.exists():
        return ""
    return "\n" + log.read_text(errors="replace")[-LOG_TAIL:]


def wait_healthy(
    url: str,
    process: subprocess.Popen[bytes] | None = None,
    *,
    seconds: float = 120,
    log: Path | None = None,
) -> None:
    """Poll `url` until it answers 200; fail if `process` exits or time runs out.

    The AssertionError names the URL and ends with the tail of `log`, so a failed start
    explains itself in the test report.
    """
    deadline = time.monotonic() + seconds
    while True:
        if process is not None and process.poll() is not None:
            raise AssertionError(
                f"the server behind {url} exited with {process.returncode}{_tail(log)}"
            )
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"{url} did not answer within {seconds:.0f} s{_tail(log)}")
        time.sleep(POLL_SECONDS)


def stop(process: subprocess.Popen[bytes], timeout: float = 20) -> None:
    """Stop the process's group and every descendant (BentoML workers lead groups of their
    own), then reap it."""
    stop_group(process.pid, timeout=timeout)
    process.wait(timeout=timeout)


@contextmanager
def running(
    command: Sequence[str],
    health_url: str,
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    log: Path | None = None,
    seconds: float = 120,
) -> Iterator[subprocess.Popen[bytes]]:
    """A server spawned, healthy at `health_url` while the block runs, and stopped after."""
    process = spawn(command, env=env, cwd=cwd, log=log)
    try:
        wait_healthy(health_url, process, seconds=seconds, log=log)
        yield process
    finally:
        stop(process)

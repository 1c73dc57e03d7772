"""What every tutorial shares: run a command as you would in a shell, and start and stop a server.

The tutorials call the same `invoke` tasks a person types, from the project root, so what they
show is what you get. A command that fails stops the notebook (a tutorial that silently prints
an error would rot unnoticed); a server is started in its own process group and stopped by its
PID in the notebook that started it, or when the notebook's kernel exits (a tutorial that
fails half-way leaves no server behind). The tutorial's state folder goes with the kernel too:
CI runs every tutorial on each push, and each left 5-15 MB in the temporary folder.
"""

from __future__ import annotations

import atexit
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import httpx
import pandas as pd

from mlstack_core.processes import stop_group
from mlstack_core.registry import ModelRegistry

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
_RUNNING: set[int] = set()
_HOMES: list[Path] = []


def fresh_state(name: str) -> Path:
    """A new, empty state folder for this tutorial, like `export MLSTACK_HOME=$(mktemp -d)`,
    removed when the kernel exits.

    Also puts this environment's tools (`invoke`, `mlstack-train`, ...) first on PATH and runs
    from the project root, where `tasks.py` is.
    """
    home = Path(tempfile.mkdtemp(prefix=f"mlstack-{name}-"))
    _HOMES.append(home)
    os.environ["MLSTACK_HOME"] = str(home)
    os.environ["PATH"] = f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"
    os.environ["COLUMNS"] = "100"
    # The kernel forces colours for its children; commands here print to a pipe, as in CI,
    # so their progress spinners stay out of the page.
    for forced in ("FORCE_COLOR", "CLICOLOR_FORCE"):
        os.environ.pop(forced, None)
    os.environ["TERM"] = "dumb"
    warnings.filterwarnings("ignore", message="IProgress not found")
    os.chdir(ROOT)
    return home


def sh(command: str, expect: int = 0) -> None:
    """Run `command` in bash from the project root, print what it prints, check its exit code."""
    done = subprocess.run(
        ["bash", "-c", command],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    output = done.stdout + done.stderr
    print(f"$ {command}\n{output}".rstrip())
    if done.returncode != expect:
        raise RuntimeError(f"`{command}` exited {done.returncode}, expected {expect}")


def free_port() -> int:
    """A TCP port nothing listens on, so a tutorial never collides with a running stack."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start(command: str, ready_url: str, log: Path, seconds: float = 90) -> int:
    """Start a long-running command in its own process group; return its PID once `ready_url`
    answers 200 (the server is stopped and an error raised if it does not)."""
    process = subprocess.Popen(
        ["bash", "-c", f"exec {command}"],
        cwd=ROOT,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    _RUNNING.add(process.pid)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if httpx.get(ready_url, timeout=1.0).status_code == 200:
                print(f"{command!r} is ready at {ready_url} (PID {process.pid})")
                return process.pid
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    stop(process.pid)
    raise RuntimeError(f"{command!r} was not ready in {seconds:.0f} s:\n{log.read_text()}")


def stop(pid: int) -> None:
    """Stop the process group started by `start` (the server and every worker it forked)."""
    stop_group(pid)
    _RUNNING.discard(pid)
    print(f"stopped PID {pid}")


@atexit.register
def _stop_leftovers() -> None:
    """Servers a failed tutorial did not reach the `stop` of, then the state folders they used."""
    for pid in list(_RUNNING):
        stop_group(pid)
    for home in _HOMES:
        shutil.rmtree(home, ignore_errors=True)


def versions_table(registry: ModelRegistry) -> pd.DataFrame:
    """Each registered version with its aliases and the promotion gate's verdict and reason."""
    rows = []
    for found in registry.versions():
        version = registry.version(found.version)  # with its aliases
        rows.append(
            {
                "version": version.version,
                "aliases": ", ".join(version.aliases) or "-",
                "gate": version.tags.get("mlstack.gate.decision", "-"),
                "reason": version.tags.get("mlstack.gate.reason", "-"),
            }
        )
    return pd.DataFrame(rows).set_index("version")

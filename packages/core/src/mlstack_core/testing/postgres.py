"""A pytest fixture: a real PostgreSQL server for tests of the production database path.

Import `postgres_url` into a conftest to use it. It needs Debian's
`postgresql` package (`uv run invoke system-deps` installs it); the server runs as the
`postgres` user when the tests run as root, on a free 127.0.0.1 port, and is stopped after
the session.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from mlstack_core.testing.servers import free_port, port_answers


def _postgres_bin(name: str) -> str:
    versions = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"))
    found = [str(p) for p in versions] or [shutil.which(name) or ""]
    if not found[-1]:
        pytest.fail(f"PostgreSQL's {name} is not installed: run `uv run invoke system-deps`")
    return found[-1]


def _as_postgres(command: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: drop to its own user when we are root."""
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A real PostgreSQL server on a free 127.0.0.1 port, in its own process group.

    Its folder is made outside pytest's root-only temp tree so the postgres user can use it.
    """
    base = Path(tempfile.mkdtemp(prefix="mlstack-pg-"))
    data, sockets = base / "data", base / "sockets"
    sockets.mkdir()
    if os.geteuid() == 0:
        shutil.chown(base, "postgres")
        shutil.chown(sockets, "postgres")
    subprocess.run(
        _as_postgres([_postgres_bin("initdb"), "-D", str(data), "-A", "trust", "-U", "mlstack"]),
        check=True,
        capture_output=True,
    )
    port = free_port()
    server = subprocess.Popen(
        _as_postgres(
            [
                _postgres_bin("postgres"),
                "-D",
                str(data),
                "-h",
                "127.0.0.1",
                "-p",
                str(port),
                "-k",
                str(sockets),
            ]
        ),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"postgresql+psycopg://mlstack@127.0.0.1:{port}/postgres"
    try:
        deadline = time.monotonic() + 30
        while True:
            if port_answers(port):
                break
            if time.monotonic() > deadline or server.poll() is not None:
                pytest.fail("PostgreSQL did not start")
            time.sleep(0.1)
        yield url
    finally:
        os.killpg(server.pid, signal.SIGINT)
        server.wait(timeout=30)
        shutil.rmtree(base, ignore_errors=True)

"""A pytest fixture: a real PostgreSQL server for tests of the production database path.

Import `postgres_url` into a conftest to use it. It needs Debian's
`postgresql` package (`uv run invoke system-deps` installs it); the server runs as the
`postgres` user when the tests run as root, on a free 127.0.0.1 port, and is stopped after
the session. `postgres_server` starts one that also listens on other addresses of this machine
(test hosts on a private network reach it there).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from mlstack_core.testing.servers import free_port


def _postgres_bin(name: str) -> str:
    versions = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"))
    found = [str(p) for p in versions] or [shutil.which(name) or ""]
    if not found[-1]:
        pytest.fail(f"PostgreSQL's {name} is not installed: run `uv run invoke system-deps`")
    return found[-1]


def _as_postgres(command: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: drop to its own user when we are root."""
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


@contextlib.contextmanager
def postgres_server(
    addresses: tuple[str, ...] = ("127.0.0.1",), trusted_network: str | None = None
) -> Iterator[int]:
    """A real PostgreSQL server on a free port of `addresses`, in its own process group.

    Clients from 127.0.0.1 (and `trusted_network`, a CIDR, when given) log in without a
    password. Its folder is made outside pytest's root-only temp tree so the postgres user can
    use it. Yields the port.
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
    if trusted_network:
        with (data / "pg_hba.conf").open("a") as hba:
            hba.write(f"host all all {trusted_network} trust\n")
    port = free_port()
    server = subprocess.Popen(
        _as_postgres(
            [
                _postgres_bin("postgres"),
                "-D",
                str(data),
                "-h",
                ",".join(addresses),
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
    try:
        deadline = time.monotonic() + 30
        while True:
            with socket.socket() as probe:
                if probe.connect_ex((addresses[0], port)) == 0:
                    break
            if time.monotonic() > deadline or server.poll() is not None:
                pytest.fail("PostgreSQL did not start")
            time.sleep(0.1)
        yield port
    finally:
        os.killpg(server.pid, signal.SIGINT)
        server.wait(timeout=30)
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A real PostgreSQL server on a free 127.0.0.1 port, stopped after the session."""
    with postgres_server() as port:
        yield f"postgresql+psycopg://mlstack@127.0.0.1:{port}/postgres"

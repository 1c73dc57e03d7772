"""The server helpers every package's tests use: a real server started, waited on, stopped."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import httpx
import pytest

from mlstack_core.processes import is_alive
from mlstack_core.testing.servers import free_port, port_answers, running, spawn, wait_healthy


def test_running_serves_while_the_block_runs_and_stops_the_group_after() -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    command = ["python", "-m", "http.server", str(port), "--bind", "127.0.0.1"]
    with running(command, url, seconds=30) as server:
        assert httpx.get(url, timeout=5).status_code == 200
        assert port_answers(port)
    assert server.returncode is not None
    assert not is_alive(server.pid)
    assert not port_answers(port)


def test_a_server_that_exits_fails_the_wait_with_its_log(tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    process = spawn(["python", "-c", "print('bad config'); raise SystemExit(3)"], log=log)
    with pytest.raises(AssertionError, match=r"exited with 3\n(.|\n)*bad config"):
        wait_healthy(f"http://127.0.0.1:{free_port()}/", process, seconds=30, log=log)


def test_a_url_that_never_answers_fails_the_wait_in_time() -> None:
    with pytest.raises(AssertionError, match="did not answer within 1 s"):
        wait_healthy(f"http://127.0.0.1:{free_port()}/", seconds=1)


def test_sigterm_stops_the_servers_and_removes_the_temporary_folders() -> None:
    port = free_port()
    script = textwrap.dedent(
        f"""
        import sys, tempfile, time
        from mlstack_core.testing.servers import clean_up_on_sigterm, running
        clean_up_on_sigterm()
        with tempfile.TemporaryDirectory() as folder:
            command = [sys.executable, "-m", "http.server", "{port}", "--bind", "127.0.0.1"]
            with running(command, "http://127.0.0.1:{port}/") as server:
                print(server.pid, folder, flush=True)
                time.sleep(120)
        """
    )
    bench = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, start_new_session=True
    )
    assert bench.stdout is not None
    pid, folder = bench.stdout.readline().split()
    assert port_answers(port)
    assert Path(folder).is_dir()
    bench.send_signal(signal.SIGTERM)
    assert bench.wait(timeout=60) == 128 + signal.SIGTERM
    assert not is_alive(int(pid))
    assert not port_answers(port)
    assert not Path(folder).exists()

"""A prediction store that refuses writes: 503 with the cause, not ready, and back without a
restart. The fault is real: the store lives on a small tmpfs that is filled, then grown."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from conftest import MAX_RECORDS, RECORD, Server, start_server, state_env

from mlstack_core.store import PredictionStore
from mlstack_core.testing.servers import VENV_BIN

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="mounting a tmpfs needs root")


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "small-disk"
    mount.mkdir()
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=8m", "mlstack-test-tmpfs", str(mount)], check=True
    )
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(folder: Path) -> None:
    """Write zeros until the file system says it is full."""
    with (folder / "filler").open("wb") as out, contextlib.suppress(OSError):
        while True:
            out.write(b"\0" * 65536)
            out.flush()
            os.fsync(out.fileno())


def grow(folder: Path) -> None:
    subprocess.run(["mount", "-o", "remount,size=64m", str(folder)], check=True)


def predict(server: Server) -> httpx.Response:
    body = {"records": [RECORD] * MAX_RECORDS}
    return httpx.post(f"{server.base_url}/predict", json=body, timeout=30)


def test_a_full_disk_answers_503_with_the_cause_and_recovers(
    built_home: Path, small_disk: Path
) -> None:
    store_url = f"sqlite:///{small_disk / 'predictions.db'}"
    server = start_server(built_home, state_env(built_home, MLSTACK_PREDICTION_STORE_URL=store_url))
    answered: list[str] = []
    try:
        first = predict(server)
        assert first.status_code == 200
        answered += [p["prediction_id"] for p in first.json()]
        fill(small_disk)
        refused = None
        for _ in range(200):  # SQLite may still fit a few batches into its WAL file
            response = predict(server)
            if response.status_code != 200:
                refused = response
                break
            answered += [p["prediction_id"] for p in response.json()]
        assert refused is not None, "the API kept answering 200 on a full disk"
        assert refused.status_code == 503
        assert "full" in refused.json()["error"]
        assert refused.json()["error"].startswith("prediction store unavailable")
        assert int(refused.headers["retry-after"]) > 0
        ready = httpx.get(f"{server.base_url}/readyz", timeout=10)
        assert ready.status_code == 503
        assert "full" in ready.json()["error"]
        feedback = [
            httpx.post(
                f"{server.base_url}/feedback",
                json={"prediction_id": prediction_id, "actual": "yes"},
                timeout=10,
            )
            for prediction_id in answered[:100]
        ]
        codes = {r.status_code for r in feedback}
        assert codes <= {200, 503}, "feedback on a full disk is either committed or a 503"
        assert 503 in codes, "tiny feedback rows still fit; the disk was not full"
        assert "full" in next(r for r in feedback if r.status_code == 503).json()["error"]

        grow(small_disk)
        deadline = time.monotonic() + 20
        while httpx.get(f"{server.base_url}/readyz", timeout=10).status_code != 200:
            assert time.monotonic() < deadline, "still not ready after space was freed"
            time.sleep(0.5)
        again = predict(server)
        assert again.status_code == 200
        answered += [p["prediction_id"] for p in again.json()]
    finally:
        server.kill(signal.SIGTERM)
    stored = PredictionStore(store_url).ids()
    assert set(answered) <= stored, "a prediction answered 200 is missing from the store"


def test_serve_refuses_a_store_it_cannot_open(built_home: Path, tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a folder")
    bad = f"sqlite:///{tmp_path / 'file' / 'predictions.db'}"
    done = subprocess.run(
        [str(VENV_BIN / "mlstack-serve"), "serve"],
        env=state_env(built_home, MLSTACK_PREDICTION_STORE_URL=bad),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert "error: the prediction store" in done.stderr
    assert "hint:" in done.stderr
    assert "Traceback" not in done.stderr

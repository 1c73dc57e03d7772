"""A prediction store that refuses writes: 503 with the cause, not ready, and back without a
restart. The fault is real: the store lives on a small tmpfs that is filled, then grown."""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import MAX_RECORDS, RECORD, Api, Server, start_server, state_env
from sqlalchemy import create_engine

from mlstack_core.store import PredictionStore
from mlstack_core.testing.servers import VENV_BIN
from mlstack_serving.readiness import PROBE_EVERY_SECONDS

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
    """Write zeros until the file system has not one byte left."""
    with (folder / "filler").open("wb", buffering=0) as out:
        for chunk in (65536, 4096, 1):
            with contextlib.suppress(OSError):
                while True:
                    out.write(b"\0" * chunk)


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
        # Fold the write-ahead log into the database and truncate it, so that any later write
        # needs new blocks, then take every free block.
        with sqlite3.connect(small_disk / "predictions.db") as db:
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        fill(small_disk)

        refused = predict(server)
        assert refused.status_code == 503
        assert refused.json()["error"].startswith("prediction store unavailable")
        assert "full" in refused.json()["error"]
        assert int(refused.headers["retry-after"]) > 0
        ready = httpx.get(f"{server.base_url}/readyz", timeout=10)
        assert ready.status_code == 503
        assert "full" in ready.json()["error"]

        grow(small_disk)
        deadline = time.monotonic() + 20
        while httpx.get(f"{server.base_url}/readyz", timeout=10).status_code != 200:
            assert time.monotonic() < deadline, "still not ready after space was freed"
            time.sleep(0.5)
        again = predict(server)
        assert again.status_code == 200
        answered += [p["prediction_id"] for p in again.json()]
        recorded = httpx.post(
            f"{server.base_url}/feedback",
            json={"prediction_id": answered[0], "actual": "yes"},
            timeout=10,
        )
        assert recorded.status_code == 200
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


def test_a_read_only_store_refuses_predictions_and_feedback_with_503(
    api: Api, service_module: Any
) -> None:
    """SQLite itself refuses every write (`attempt to write a readonly database`); the API says
    so with 503, logs nothing half-way, and takes writes again once the store does."""
    store = service_module.STORE
    answered = api.client.post("/predict", json={"records": [RECORD]})
    assert answered.status_code == 200
    prediction_id = answered.json()[0]["prediction_id"]
    writable = store.engine
    database = writable.url.database
    store.engine = create_engine(f"sqlite:///file:{database}?mode=ro&uri=true")
    before = api.count()
    try:
        feedback = api.client.post(
            "/feedback", json={"prediction_id": prediction_id, "actual": "yes"}
        )
        assert feedback.status_code == 503, (feedback.text, str(store.engine.url))
        assert "readonly" in feedback.json()["error"]
        assert feedback.headers["retry-after"]
        refused = api.client.post("/predict", json={"records": [RECORD]})
        assert refused.status_code == 503
        assert refused.json()["error"].startswith("prediction store unavailable")
        time.sleep(PROBE_EVERY_SECONDS)
        assert api.client.get("/readyz").status_code == 503
    finally:
        store.engine.dispose()
        store.engine = writable
    assert api.count() == before
    time.sleep(PROBE_EVERY_SECONDS)
    assert api.client.get("/readyz").status_code == 200
    assert api.client.post("/predict", json={"records": [RECORD]}).status_code == 200

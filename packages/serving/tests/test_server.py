"""Real servers: `mlstack-serve build` + `serve` of the Bento on a free port, in its own group."""

from __future__ import annotations

import signal
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from conftest import RECORD, Server, build, start_server, state_env

from mlstack_core.bento_code import bento_is_current, built_from, sources_digest
from mlstack_core.processes import process_tree, survivors
from mlstack_core.settings import Settings
from mlstack_core.store import PredictionStore

pytestmark = [pytest.mark.slow, pytest.mark.e2e]
TOKEN = "s3cret-token-for-tests"


def test_build_reuses_the_model_and_the_bento(built_home: Path) -> None:
    assert "mlstack:v1 (reused), Bento mlstack:v1 (reused)" in build(built_home)
    assert (built_home / "bentoml" / "bentos" / "mlstack" / "v1" / "bento.yaml").is_file()


def test_a_bento_holding_other_code_is_rebuilt(built_home: Path) -> None:
    """As after a `git pull` that changed the serving code: same model version, other code."""
    settings = Settings(home=built_home)
    manifest = built_home / "bentoml" / "bentos" / "mlstack" / "v1" / "bento.yaml"
    current = built_from(settings, "mlstack:v1")
    assert current == sources_digest()
    manifest.write_text(manifest.read_text().replace(current, "0123456789abcdef"))
    assert not bento_is_current(settings, "mlstack:v1")

    said = build(built_home)
    assert "rebuilding mlstack:v1: it holds other mlstack code (sources 0123456789abcdef" in said
    assert "Bento mlstack:v1 (built)" in said
    assert bento_is_current(settings, "mlstack:v1")


def test_the_bento_serves_predictions_feedback_metadata_and_metrics(server: Server) -> None:
    with httpx.Client(base_url=server.base_url, timeout=10) as client:
        response = client.post("/predict", json={"records": [RECORD]})
        assert response.status_code == 200, response.text
        [answer] = response.json()
        assert answer["model_version"] == "1"
        assert answer["prediction_id"] in PredictionStore(server.store_url).ids()
        feedback = {"prediction_id": answer["prediction_id"], "actual": "yes"}
        assert client.post("/feedback", json=feedback).status_code == 200
        metadata = client.get("/metadata").json()
        assert (metadata["version"], metadata["inference"]) == ("1", "numpy+sklearn")
        bad = client.post("/predict", json={"records": [{**RECORD, "color": "purple"}]})
        assert bad.status_code == 400
        assert "color" in bad.text
        metrics = client.get("/metrics").text
    assert 'mlstack_predictions_total{model_version="1"} 1.0' in metrics
    assert "mlstack_store_write_latency_seconds_count" in metrics
    assert "mlstack_prediction_latency_seconds_count" in metrics


def test_parallel_requests_give_exactly_one_row_each(server: Server) -> None:
    requests = 300

    def one(i: int) -> str:
        with httpx.Client(base_url=server.base_url, timeout=30) as client:
            response = client.post("/predict", json={"records": [{**RECORD, "x1": i / 100}]})
        assert response.status_code == 200, response.text
        return str(response.json()[0]["prediction_id"])

    with ThreadPoolExecutor(max_workers=32) as pool:
        ids = list(pool.map(one, range(requests)))
    store = PredictionStore(server.store_url)
    assert len(set(ids)) == requests
    assert store.count() == requests
    assert store.ids() == set(ids)


def test_every_answered_prediction_survives_a_kill_9(server: Server) -> None:
    """Load from 16 clients, SIGKILL the whole server group mid-load: every 200 is in the store."""
    answered: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()

    def client_loop() -> None:
        with httpx.Client(base_url=server.base_url, timeout=5) as client:
            while not stop.is_set():
                try:
                    response = client.post("/predict", json={"records": [RECORD, RECORD]})
                except httpx.HTTPError:
                    continue
                if response.status_code == 200:
                    with lock:
                        answered.extend(a["prediction_id"] for a in response.json())

    threads = [threading.Thread(target=client_loop) for _ in range(16)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 20
    while len(answered) < 200 and time.monotonic() < deadline:
        time.sleep(0.05)
    workers = process_tree(server.process.pid)[1:]
    assert workers, "the server has no worker processes to kill"
    server.kill(signal.SIGKILL)
    stop.set()
    for thread in threads:
        thread.join(timeout=30)
    assert len(answered) >= 200
    assert not survivors(workers), "a worker survived the kill"
    missing = set(answered) - PredictionStore(server.store_url).ids()
    assert not missing, f"{len(missing)} acknowledged predictions are not in the store"


@pytest.fixture
def production_server(built_home: Path) -> Server:
    env = state_env(
        built_home,
        MLSTACK_ENV="production",
        MLSTACK_TRACKING_URI=f"sqlite:///{built_home / 'mlflow.db'}",
        MLSTACK_PREDICTION_STORE_URL=f"sqlite:///{built_home / 'predictions.db'}",
        MLSTACK_API_TOKEN=TOKEN,
    )
    running = start_server(built_home, env)
    yield running  # type: ignore[misc]
    running.kill(signal.SIGTERM)


def test_production_requires_the_bearer_token_and_never_logs_it(production_server: Server) -> None:
    feedback = {"prediction_id": str(uuid.uuid4()), "actual": "no"}
    with httpx.Client(base_url=production_server.base_url, timeout=10) as client:
        for path, body in (("/predict", {"records": [RECORD]}), ("/feedback", feedback)):
            for header in (None, "Bearer wrong", f"Basic {TOKEN}", TOKEN, f"Bearer {TOKEN}x"):
                headers = {"Authorization": header} if header else {}
                response = client.post(path, json=body, headers=headers)
                assert response.status_code == 401, (path, header)
                assert response.headers["www-authenticate"] == "Bearer"
        assert PredictionStore(production_server.store_url).count() == 0
        good = {"Authorization": f"Bearer {TOKEN}"}
        answer = client.post("/predict", json={"records": [RECORD]}, headers=good)
        assert answer.status_code == 200, answer.text
        feedback["prediction_id"] = answer.json()[0]["prediction_id"]
        assert client.post("/feedback", json=feedback, headers=good).status_code == 200
        assert client.post("/predict", json={"records": []}, headers=good).status_code == 400
        assert client.get("/metadata").status_code == 200
    production_server.kill(signal.SIGTERM)
    assert TOKEN not in production_server.log.read_text()

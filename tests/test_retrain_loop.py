"""The loop closed on a running stack: traffic and feedback through the real API, `invoke
monitor --retrain`, a promoted challenger built and served, no answered request lost.

One stack for the module (`invoke up` bootstraps v1 on the seed sample). The unchanged world
comes first: its retrain must keep v1 served. Then the world changes (ground truth follows a
new rule on shifted features): the alert triggers a retrain whose challenger is promoted,
built and moved to while a client keeps sending requests.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
import pytest

from mlstack_core.registry import ModelRegistry
from mlstack_core.settings import Settings
from mlstack_core.store import PredictionStore
from tests.conftest import Stack, new_stack

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
LOOP_ENV = {"MLSTACK_RETRAIN_MIN_ROWS": "100", "MLSTACK_MONITOR_MIN_FEEDBACK": "30"}
# Training, building and serving on two shared cores: generous, these are not speed checks.
STEP_TIMEOUT = 1800
DEGRADED = 3


@dataclass
class SteadyClient:
    """Sends one prediction every `period` seconds and records what was answered and when
    requests failed, to measure the refusal window of a move from the client's side."""

    url: str
    body: dict[str, object]
    period: float = 0.1
    answered: list[str] = field(default_factory=list)
    versions: set[str] = field(default_factory=set)
    failures: list[float] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        with httpx.Client(timeout=30) as client:
            while not self.stop.is_set():
                at = time.monotonic()
                try:
                    response = client.post(self.url, json=self.body)
                    if response.status_code == httpx.codes.OK:
                        for answer in response.json():
                            self.answered.append(answer["prediction_id"])
                            self.versions.add(answer["model_version"])
                    else:
                        self.failures.append(at)
                except httpx.HTTPError:
                    self.failures.append(at)
                self.stop.wait(self.period)

    @property
    def refused_seconds(self) -> float:
        return (self.failures[-1] - self.failures[0] + self.period) if self.failures else 0.0


@pytest.fixture(scope="module")
def loop_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    stack = new_stack(tmp_path_factory.mktemp("loop"))
    try:
        started = stack.invoke("up", "--detach", extra_env=LOOP_ENV, timeout=STEP_TIMEOUT)
        assert started.returncode in (0, DEGRADED), started.stdout + started.stderr
        # On a loaded machine the API may need longer than `up` waits; it keeps starting.
        wait_for(stack.url(stack.api_port, "/readyz"), STEP_TIMEOUT)
        yield stack
    finally:
        stack.invoke("down", timeout=120)


def wait_for(url: str, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2).status_code == httpx.codes.OK:
                return
        except httpx.HTTPError:
            pass
        time.sleep(1.0)
    pytest.fail(f"{url} did not answer in {seconds:.0f} s")


def _settings(stack: Stack) -> Settings:
    return Settings(home=stack.home, api_port=stack.api_port)


def _served(stack: Stack) -> str:
    return str(httpx.get(stack.url(stack.api_port, "/metadata"), timeout=10).json()["version"])


def test_unchanged_traffic_keeps_the_champion_served(loop_stack: Stack) -> None:
    sent = loop_stack.invoke("simulate-traffic", "-n", "120", extra_env=LOOP_ENV)
    assert sent.returncode == 0, sent.stdout + sent.stderr
    retrained = loop_stack.invoke("retrain", "--json", extra_env=LOOP_ENV, timeout=STEP_TIMEOUT)
    assert retrained.returncode == 0, retrained.stdout + retrained.stderr
    outcome = json.loads(retrained.stdout)
    assert outcome["promoted"] is False, outcome["reason"]
    assert outcome["rows"]["new"] + outcome["rows"]["recent_held_out"] >= 100
    assert "api" not in outcome
    assert ModelRegistry(_settings(loop_stack)).require_champion().version == 1
    assert _served(loop_stack) == "1"


def test_changed_world_retrains_promotes_and_serves_without_losing_answers(
    loop_stack: Stack,
) -> None:
    sent = loop_stack.invoke("simulate-traffic", "-n", "200", "--truth-changes", extra_env=LOOP_ENV)
    assert sent.returncode == 0, sent.stdout + sent.stderr
    body = json.loads((loop_stack.home / "example-request.json").read_text())
    client = SteadyClient(loop_stack.url(loop_stack.api_port, "/predict"), body)
    sender = threading.Thread(target=client.run, daemon=True)
    sender.start()
    try:
        began = time.monotonic()
        checked = loop_stack.invoke(
            "monitor", "--retrain", "--json", extra_env=LOOP_ENV, timeout=STEP_TIMEOUT
        )
        loop_seconds = time.monotonic() - began
        time.sleep(1.0)
    finally:
        client.stop.set()
        sender.join(timeout=30)
    assert checked.returncode == 1, checked.stdout + checked.stderr
    report = json.loads(checked.stdout)
    assert {a["rule"] for a in report["alerts"]} & {"drift", "quality"}
    retrain = report["retrain"]
    assert retrain["status"] == "promoted", retrain
    assert retrain["api"]["status"] == "moved", retrain["api"]
    new = retrain["challenger"]
    assert _served(loop_stack) == str(new)
    assert client.versions == {"1", str(new)}, "the client saw both versions, old then new"

    registry = ModelRegistry(_settings(loop_stack))
    last = registry.history()[-1]
    assert (last.action, last.version, last.previous) == ("promote", new, 1)
    assert "recent labelled traffic" in last.reason

    store = PredictionStore(_settings(loop_stack).store_url)
    missing = set(client.answered) - store.ids()
    store.dispose()
    assert client.answered
    assert not missing, f"{len(missing)} answered predictions are not in the store"
    print(
        json.dumps(
            {
                "retrain_seconds": retrain["seconds"],
                "monitor_retrain_wall_seconds": round(loop_seconds, 1),
                "refused_seconds_server": retrain["api"]["refused_seconds"],
                "refused_seconds_client": round(client.refused_seconds, 2),
                "failed_requests": len(client.failures),
                "answered_predictions": len(client.answered),
            }
        )
    )

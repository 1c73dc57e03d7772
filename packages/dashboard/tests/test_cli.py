"""`mlstack-monitor` as a user runs it: exit codes, JSON, the webhook and clean errors."""

from __future__ import annotations

import json
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any, ClassVar

import pytest
from conftest import SPEC, Champion, churn_frame

from mlstack_core.profile import ReferenceProfile
from mlstack_core.settings import Settings
from mlstack_core.testing.servers import VENV_BIN, free_port
from mlstack_dashboard.simulate import shift_record, shifted_features

CLI = str(VENV_BIN / "mlstack-monitor")


def monitor(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CLI, *args], capture_output=True, text=True, timeout=timeout, check=False
    )


class Receiver(BaseHTTPRequestHandler):
    """A webhook endpoint on 127.0.0.1 that keeps what it was sent."""

    received: ClassVar[list[dict[str, Any]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append(json.loads(body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *_: Any) -> None:
        return


@pytest.fixture
def webhook() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    received: ClassVar[list[dict[str, Any]]] = []
    handler = type("Handler", (Receiver,), {"received": received})
    server = HTTPServer(("127.0.0.1", free_port()), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/hook", received
    server.shutdown()
    server.server_close()


def test_check_exits_0_when_healthy(champion: Champion) -> None:
    champion.write(churn_frame(300, seed=6), feedback_share=0.5)
    result = monitor("check")
    assert result.returncode == 0, result.stderr
    assert "champion v1" in result.stdout
    assert "healthy: no alert fired" in result.stdout


def test_check_exits_1_on_drift_and_posts_the_webhook(
    champion: Champion, webhook: tuple[str, list[dict[str, Any]]], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, received = webhook
    monkeypatch.setenv("MLSTACK_ALERT_WEBHOOK_URL", url)
    champion.write(churn_frame(400, seed=8, shift=1.5))
    result = monitor("check", "--window", "30", "--json")
    assert result.returncode == 1, result.stderr
    report = json.loads(result.stdout)
    assert report["status"] == "alert"
    assert report["window_minutes"] == 30
    assert set(report["drift"]["drifted"]) >= {"age", "charges", "calls", "plan"}
    (posted,) = received
    assert posted["alerts"][0]["rule"] == "drift"
    assert posted["champion_version"] == 1


def test_check_retrain_is_not_needed_without_an_alert(champion: Champion) -> None:
    champion.write(churn_frame(300, seed=6), feedback_share=0.5)
    result = monitor("check", "--retrain", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["retrain"] == {
        "status": "not needed",
        "detail": "no drift or quality alert fired",
    }


def test_check_retrain_on_drift_reports_its_outcome_in_the_webhook(
    champion: Champion, webhook: tuple[str, list[dict[str, Any]]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """No labelled rows here: the retrain is triggered by the drift alert, refuses (or, where
    the training package is not installed, cannot start), and the payload says which and why."""
    url, received = webhook
    monkeypatch.setenv("MLSTACK_ALERT_WEBHOOK_URL", url)
    champion.write(churn_frame(400, seed=8, shift=1.5))
    result = monitor("check", "--retrain", "--json", timeout=600)  # runs mlstack-train too
    assert result.returncode == 1, result.stderr
    (posted,) = received
    retrain = posted["retrain"]
    assert retrain == json.loads(result.stdout)["retrain"]
    assert retrain["triggered_by"] == ["drift"]
    assert retrain["status"] in ("skipped", "failed")
    assert retrain["detail"].startswith("error:")


def test_check_reports_a_broken_webhook_cleanly(
    champion: Champion, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLSTACK_ALERT_WEBHOOK_URL", f"http://127.0.0.1:{free_port()}/hook")
    champion.write(churn_frame(400, seed=8, shift=1.5))
    result = monitor("check")
    assert result.returncode == 4
    assert "error: alert webhook http://127.0.0.1:" in result.stderr
    assert "hint: check MLSTACK_ALERT_WEBHOOK_URL" in result.stderr
    assert "Traceback" not in result.stderr


def test_check_on_an_empty_state_says_there_is_no_champion(settings: Settings) -> None:
    result = monitor("check", "--json")
    assert result.returncode == 0
    report = json.loads(result.stdout)
    assert report["champion_version"] is None
    assert report["predictions"] == 0
    assert "no champion model 'mlstack'" in report["champion_problem"]


def test_simulate_without_a_champion_or_api_explains_what_to_run(settings: Settings) -> None:
    result = monitor("simulate", "-n", "5")
    assert result.returncode == 3
    assert "run `invoke train --seed-sample`" in result.stderr


def test_simulate_with_the_api_down_explains_how_to_start_it(champion: Champion) -> None:
    result = monitor("simulate", "-n", "5")
    assert result.returncode == 4
    assert f"the API at {champion.settings.api_base_url} is not reachable" in result.stderr
    assert "start it with `uv run invoke up`" in result.stderr


def test_drift_shift_moves_numbers_and_picks_the_rarest_category() -> None:
    frame = churn_frame(1000, seed=1)
    profile = ReferenceProfile.from_frame(frame, SPEC)
    moved = shifted_features(SPEC)
    assert moved == ("age", "charges", "calls", "plan")
    row = {"age": 40.0, "charges": 70.0, "calls": 2, "plan": "basic", "region": "east"}
    out = shift_record(row, profile, moved)
    assert out["age"] == pytest.approx(40.0 + 2 * profile.numeric["age"].std)
    assert isinstance(out["calls"], int)
    assert out["calls"] > 2
    assert out["plan"] == "pro"
    assert out["region"] == "east"
    assert row["age"] == 40.0

"""`invoke up` from an empty state folder, its degraded path, and `invoke down`."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time

import httpx
import pytest

from mlstack_core.endpoints import DASHBOARD_HEALTH_PATH, MLFLOW_HEALTH_PATH
from mlstack_core.processes import group_alive, is_alive, process_tree
from mlstack_core.registry import ModelRegistry
from mlstack_core.settings import Settings
from mlstack_core.testing.servers import VENV_BIN, port_answers, spawn, stop, wait_healthy
from mlstack_deploy.report import DEGRADED
from tests.conftest import ROOT, Stack

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def assert_ui_healthy(stack: Stack) -> None:
    """The MLflow UI and the dashboard answer their health paths."""
    mlflow = httpx.get(stack.url(stack.mlflow_port, MLFLOW_HEALTH_PATH), timeout=10)
    assert mlflow.status_code == 200
    dashboard = httpx.get(stack.url(stack.dashboard_port, DASHBOARD_HEALTH_PATH), timeout=10)
    assert dashboard.text == "ok"


def assert_plots_follow(stack: Stack, within_s: float = 120) -> None:
    """The bootstrap's plots (left until the API was starting) reach the champion's run."""
    registry = ModelRegistry(Settings(home=stack.home))
    client, run_id = registry.client, registry.require_champion().run_id
    deadline = time.monotonic() + within_s
    while len(client.list_artifacts(run_id, "plots")) < 3 and time.monotonic() < deadline:
        time.sleep(1)
    assert {a.path for a in client.list_artifacts(run_id, "plots")} == {
        "plots/performance.png",
        "plots/feature_importance.png",
        "plots/feature_importance.json",
    }


def test_up_bootstraps_serves_and_down_frees_the_ports(stack: Stack) -> None:
    started = stack.invoke("up", "--detach")
    assert started.returncode == 0, started.stdout + started.stderr
    assert "No champion yet: training one on the seed sample" in started.stdout
    for port in (stack.api_port, stack.dashboard_port, stack.mlflow_port):
        assert f"http://127.0.0.1:{port}" in started.stdout
    assert started.stdout.count("healthy") == 3

    body = json.loads((stack.home / "example-request.json").read_text())
    answer = httpx.post(stack.url(stack.api_port, "/predict"), json=body, timeout=30)
    assert answer.status_code == 200, answer.text
    assert answer.json()[0]["model_version"] == "1"
    assert_ui_healthy(stack)
    assert_plots_follow(stack)

    assert stack.invoke("status").returncode == 0
    again = stack.invoke("up", "--detach")
    assert again.returncode == 0
    assert "No champion yet" not in again.stdout

    tree = process_tree(json.loads((stack.home / "run" / "api.json").read_text())["pid"])
    assert len(tree) > 1, "the API should have a BentoML worker below it"
    stopped = stack.invoke("down")
    assert stopped.returncode == 0
    survivors = [pid for pid in tree if is_alive(pid)]
    assert not survivors, f"processes left behind by down: {survivors}"
    for port in (stack.api_port, stack.dashboard_port, stack.mlflow_port):
        assert not port_answers(port), f"port {port} still answers after down"
    assert stack.invoke("status").returncode == DEGRADED


def test_taken_api_port_degrades_but_the_rest_runs(stack: Stack) -> None:
    squatter = spawn(["python", "-m", "http.server", str(stack.api_port), "--bind", "127.0.0.1"])
    try:
        for _ in range(100):
            if port_answers(stack.api_port):
                break
            time.sleep(0.1)
        started = stack.invoke("up", "--detach")
        output = " ".join(started.stdout.split())
        assert started.returncode == DEGRADED, started.stdout + started.stderr
        assert f"port {stack.api_port} is in use by PID {squatter.pid}" in output
        assert "set MLSTACK_API_PORT" in output
        assert_ui_healthy(stack)
    finally:
        stop(squatter)


def test_the_api_keeps_serving_when_mlflow_is_down(stack: Stack) -> None:
    assert stack.invoke("up", "--detach").returncode == 0
    state = json.loads((stack.home / "run" / "mlflow.json").read_text())
    os.killpg(state["pid"], signal.SIGTERM)
    # `mlflow server`'s own process takes 15-20 s to exit after its uvicorn child (measured).
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and group_alive(state["pid"]):
        time.sleep(0.2)
    assert not group_alive(state["pid"]), "MLflow did not stop on SIGTERM"
    body = json.loads((stack.home / "example-request.json").read_text())
    for _ in range(5):
        answer = httpx.post(stack.url(stack.api_port, "/predict"), json=body, timeout=30)
        assert answer.status_code == 200
    status = stack.invoke("status")
    assert status.returncode == DEGRADED
    assert "✗ MLflow UI: stopped" in status.stdout
    assert "✗ Prediction API" not in status.stdout


def test_bad_settings_fail_fast_with_a_hint(stack: Stack) -> None:
    result = stack.invoke("up", "--detach", extra_env={"MLSTACK_ENV": "production"})
    assert result.returncode == 2
    assert "MLSTACK_ENV=production needs MLSTACK_TRACKING_URI" in result.stderr
    assert "hint:" in result.stderr
    assert "Traceback" not in result.stderr


def test_ctrl_c_stops_everything(stack: Stack) -> None:
    """Foreground `invoke up`: Ctrl-C (SIGINT to the terminal's process group) stops all."""
    transcript = stack.home / "foreground.out"
    with transcript.open("w") as sink:
        foreground = subprocess.Popen(
            [str(VENV_BIN / "invoke"), "up"],
            cwd=ROOT,
            env=stack.env,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    ports = (stack.api_port, stack.dashboard_port, stack.mlflow_port)
    try:
        deadline = time.monotonic() + 300
        while "Ctrl-C stops everything" not in transcript.read_text():
            assert time.monotonic() < deadline, transcript.read_text()
            assert foreground.poll() is None, transcript.read_text()
            time.sleep(0.5)
        assert all(port_answers(p) for p in ports)
        os.killpg(foreground.pid, signal.SIGINT)
        foreground.wait(timeout=60)
    finally:
        if foreground.poll() is None:
            os.killpg(foreground.pid, signal.SIGKILL)
    assert "stopping" in transcript.read_text()
    for port in ports:
        assert not port_answers(port), f"port {port} still answers after Ctrl-C"


def test_simulated_drift_reaches_monitor_and_the_drift_page(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The loop a newcomer sees: traffic with shifted features, `invoke monitor` and the
    Drift page both name the drifted features."""
    from streamlit.testing.v1 import AppTest

    from mlstack_dashboard.app import VIEWS

    assert stack.invoke("up", "--detach").returncode == 0
    simulated = stack.invoke("simulate-traffic", "-n", "150", "--drift")
    assert simulated.returncode == 0, simulated.stdout + simulated.stderr
    shifted_line = next(ln for ln in simulated.stdout.splitlines() if "shifted features:" in ln)
    shifted = {name.strip() for name in shifted_line.split(":", 1)[1].split(",")}
    assert shifted

    monitored = stack.invoke("monitor", "--json")
    assert monitored.returncode == 1, monitored.stdout + monitored.stderr
    report = json.loads(monitored.stdout)
    drifted = {f["name"] for f in report["drift"]["features"] if f["drifted"]}
    assert shifted <= drifted
    assert any(alert["rule"] == "drift" for alert in report["alerts"])

    for key, value in stack.env.items():
        if key.startswith("MLSTACK_"):
            monkeypatch.setenv(key, value)
    page = AppTest.from_file(str(VIEWS / "drift.py"), default_timeout=120)
    page.run()
    assert not page.exception, page.exception
    shown = "\n".join(str(e.value) for e in [*page.error, *page.warning, *page.markdown])
    assert "ALERT" in shown
    for name in shifted:
        assert name in shown


def test_promote_and_rollback_change_what_up_serves(stack: Stack) -> None:
    """The registry decides what is served: promote v2 and `up` serves it; roll back and
    `up` serves v1's Bento again."""
    assert stack.invoke("up", "--detach").returncode == 0
    retrained = stack.invoke("train", "--seed-sample")
    assert retrained.returncode == 0, retrained.stdout + retrained.stderr
    assert "not promoted" in retrained.stdout
    version = retrained.stdout.split("mlstack v", 1)[1].split()[0]
    assert stack.invoke("promote", version, "--reason", "e2e").returncode == 0

    def served_after_restart() -> str:
        assert stack.invoke("down").returncode == 0
        restarted = stack.invoke("up", "--detach")
        assert restarted.returncode == 0, restarted.stdout + restarted.stderr
        metadata = httpx.get(stack.url(stack.api_port, "/metadata"), timeout=10).json()
        return str(metadata["version"])

    assert served_after_restart() == version
    assert stack.invoke("rollback").returncode == 0
    assert served_after_restart() != version


def test_invoke_mlflow_serves_the_ui_alone(stack: Stack) -> None:
    ui = stack.spawn("invoke", "mlflow")
    try:
        wait_healthy(stack.url(stack.mlflow_port, MLFLOW_HEALTH_PATH), ui, seconds=90)
        models = httpx.get(
            stack.url(stack.mlflow_port, "/api/2.0/mlflow/registered-models/search"), timeout=10
        )
        assert [m["name"] for m in models.json()["registered_models"]] == ["mlstack"]
    finally:
        os.killpg(ui.pid, signal.SIGINT)
        ui.wait(timeout=30)
    assert not port_answers(stack.mlflow_port)

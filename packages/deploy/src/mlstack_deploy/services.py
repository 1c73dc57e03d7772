"""What `invoke up` runs: each service's command, port, health endpoint and first thing to try.

Commands are the packages' own CLIs from the same environment, so a service started here is
exactly what `invoke serve`, `invoke dashboard` or `invoke mlflow` would start by hand.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from mlstack_core.endpoints import (
    API_READY_PATH,
    DASHBOARD_HEALTH_PATH,
    MLFLOW_HEALTH_PATH,
    mlflow_remote_url,
)
from mlstack_core.processes import console_script
from mlstack_core.settings import Settings


@dataclass(frozen=True)
class Service:
    """One long-running process of the stack and how to tell that it is up."""

    name: str
    title: str
    command: list[str]
    host: str
    port: int
    health_path: str
    port_setting: str
    try_first: str
    env: dict[str, str] = field(default_factory=dict)
    remote_url: str | None = None

    @property
    def url(self) -> str:
        return self.remote_url or f"http://{self.host}:{self.port}"

    @property
    def health_url(self) -> str:
        return f"{self.url.rstrip('/')}{self.health_path}"

    @property
    def local(self) -> bool:
        return self.remote_url is None


def example_request(settings: Settings) -> Path:
    """Where `up` writes a real request body (a held-out row of the champion) for the curl."""
    return settings.state_dir / "example-request.json"


def predict_curl(settings: Settings) -> str:
    auth = ' -H "Authorization: Bearer $MLSTACK_API_TOKEN"' if settings.token_required else ""
    return (
        f"curl -s {settings.api_base_url}/predict -H 'Content-Type: application/json'{auth} "
        f"-d @{example_request(settings)}"
    )


def mlflow_service(settings: Settings) -> Service:
    """The MLflow UI: a local server over the SQLite store, or the remote tracking server."""
    uri = settings.mlflow_tracking_uri
    command = [
        console_script("mlflow"),
        "server",
        "--backend-store-uri",
        uri,
        "--default-artifact-root",
        settings.artifact_root.as_uri(),
        "--host",
        "127.0.0.1",
        "--port",
        str(settings.mlflow_port),
        "--workers",
        "1",
    ]
    return Service(
        name="mlflow",
        title="MLflow UI",
        command=command,
        host="127.0.0.1",
        port=settings.mlflow_port,
        health_path=MLFLOW_HEALTH_PATH,
        port_setting="MLSTACK_MLFLOW_PORT",
        try_first="open it: runs, metrics, plots, the model registry",
        env={"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"},
        remote_url=mlflow_remote_url(settings),
    )


def api_service(settings: Settings, bento: str | None = None) -> Service:
    """The API; on `bento` when the caller knows the champion's (the server then needs no
    registry lookup), else on the champion the server looks up itself."""
    return Service(
        name="api",
        title="Prediction API",
        command=[console_script("mlstack-serve"), "serve", *(["--bento", bento] if bento else [])],
        host=settings.api_host,
        port=settings.api_port,
        health_path=API_READY_PATH,
        port_setting="MLSTACK_API_PORT",
        try_first="POST a record to /predict (the curl below); /docs has the schema",
    )


def dashboard_service(settings: Settings) -> Service:
    return Service(
        name="dashboard",
        title="Dashboard",
        command=[console_script("mlstack-monitor"), "dashboard"],
        host="127.0.0.1",
        port=settings.dashboard_port,
        health_path=DASHBOARD_HEALTH_PATH,
        port_setting="MLSTACK_DASHBOARD_PORT",
        try_first="uv run invoke simulate-traffic --drift, then watch Traffic and Drift",
    )


def all_services(settings: Settings) -> list[Service]:
    return [mlflow_service(settings), api_service(settings), dashboard_service(settings)]

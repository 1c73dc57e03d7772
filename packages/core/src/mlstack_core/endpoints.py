"""Where each service of the stack answers and which path says it is up.

The supervisor waits on these, the dashboard probes them, the traffic simulator and the tests
call them: one definition, so they cannot disagree.
"""

from __future__ import annotations

import urllib.error
import urllib.request

from mlstack_core.settings import Settings

API_LIVE_PATH = "/livez"
API_READY_PATH = "/readyz"
API_METRICS_PATH = "/metrics"
PREDICT_PATH = "/predict"
FEEDBACK_PATH = "/feedback"
METADATA_PATH = "/metadata"
MLFLOW_HEALTH_PATH = "/health"
DASHBOARD_HEALTH_PATH = "/_stcore/health"
# Printed by an API server started to replace another once it is ready to take the port.
WAITING_FOR_PORT = "ready; waiting for the port to be free"


def api_url(settings: Settings) -> str:
    return settings.api_base_url


def api_ready_url(settings: Settings) -> str:
    return f"{api_url(settings)}{API_READY_PATH}"


def mlflow_remote_url(settings: Settings) -> str | None:
    """The tracking server's URL when the registry is remote; None for a local file store."""
    uri = settings.mlflow_tracking_uri
    return uri.rstrip("/") if uri.startswith(("http://", "https://")) else None


def mlflow_url(settings: Settings) -> str:
    return mlflow_remote_url(settings) or f"http://127.0.0.1:{settings.mlflow_port}"


def mlflow_health_url(settings: Settings) -> str:
    return f"{mlflow_url(settings)}{MLFLOW_HEALTH_PATH}"


def dashboard_url(settings: Settings) -> str:
    return f"http://127.0.0.1:{settings.dashboard_port}"


def is_healthy(url: str, timeout: float = 2.0) -> bool:
    """Whether `url` answers 2xx within `timeout` seconds."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 (http only)
            return bool(200 <= response.status < 300)
    except (urllib.error.URLError, OSError, ValueError):
        return False

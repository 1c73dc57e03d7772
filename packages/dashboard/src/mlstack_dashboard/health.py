"""Is the API up, is MLflow reachable: quick probes with short timeouts for the Overview.

The endpoints are those `invoke up` waits for (`mlstack_core.endpoints`).
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from mlstack_core.endpoints import api_ready_url, mlflow_health_url, mlflow_remote_url
from mlstack_core.settings import Settings

TIMEOUT_S = 2.0


@dataclass(frozen=True)
class ServiceHealth:
    """One service's probe: where, whether it answered, and what to do if not."""

    name: str
    url: str
    ok: bool
    detail: str


def probe(name: str, url: str, fix: str, timeout: float = TIMEOUT_S) -> ServiceHealth:
    try:
        response = httpx.get(url, timeout=timeout)
    except httpx.HTTPError as exc:
        return ServiceHealth(name, url, False, f"unreachable ({type(exc).__name__}): {fix}")
    if response.status_code >= 400:
        return ServiceHealth(name, url, False, f"HTTP {response.status_code}: {fix}")
    return ServiceHealth(name, url, True, "healthy")


def api_health(settings: Settings) -> ServiceHealth:
    return probe(
        "API",
        api_ready_url(settings),
        "start it with `uv run invoke up` (or `uv run invoke serve`)",
    )


def mlflow_health(settings: Settings) -> ServiceHealth:
    return probe(
        "MLflow",
        mlflow_health_url(settings),
        "start it with `uv run invoke up` (or `uv run invoke mlflow`)",
    )


def registry_is_remote(settings: Settings) -> bool:
    return mlflow_remote_url(settings) is not None

"""Move the running API to the champion's Bento: the supervisor's half of a retrain.

The old server is stopped gracefully (it finishes the requests it accepted, each of which is
committed to the store before its answer), then the new one starts on the same port. The time
between the two is the refusal window; it is measured and reported.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Literal

from mlstack_core.endpoints import METADATA_PATH
from mlstack_core.settings import Settings
from mlstack_deploy.services import api_service
from mlstack_deploy.supervisor import Outcome, Supervisor

HEALTH_TIMEOUT = 120.0


@dataclass(frozen=True)
class SwapResult:
    """What the move did: whether it happened, the versions before and after, its timings."""

    status: Literal["moved", "not running", "failed"]
    detail: str
    before: str | None = None
    after: str | None = None
    refused_seconds: float | None = None
    seconds: float = 0.0

    def to_dict(self) -> dict[str, object]:
        return {
            "status": self.status,
            "detail": self.detail,
            "before": self.before,
            "after": self.after,
            "refused_seconds": self.refused_seconds,
            "seconds": self.seconds,
        }


def served_version(settings: Settings) -> str | None:
    """The model version the API at the settings' address serves, or None if it does not answer."""
    url = f"{settings.api_base_url}{METADATA_PATH}"
    try:
        with urllib.request.urlopen(url, timeout=5.0) as response:  # noqa: S310 (http only)
            version = json.loads(response.read()).get("version")
    except (urllib.error.URLError, OSError, ValueError):
        return None
    return str(version) if version is not None else None


def swap_api(settings: Settings) -> SwapResult:
    """Restart the API that `mlstack up` runs on the current champion; no-op when it is not up."""
    began = time.monotonic()
    supervisor = Supervisor(settings)
    service = api_service(settings)
    if supervisor.running(service) is None:
        return SwapResult(
            "not running", "the API is not running under `mlstack up`: nothing to move"
        )
    before = served_version(settings)
    stopping = time.monotonic()
    supervisor.stop(service)
    launched = supervisor.launch(service)
    if isinstance(launched, Outcome):
        return SwapResult("failed", f"the new API could not start: {launched.detail}", before)
    outcome = supervisor.wait_healthy(service, launched, HEALTH_TIMEOUT)
    ready = time.monotonic()
    if outcome.status != "healthy":
        return SwapResult(
            "failed", f"the new API is {outcome.status}: {outcome.detail}; {outcome.fix}", before
        )
    after = served_version(settings)
    return SwapResult(
        "moved",
        f"API moved from v{before} to v{after}",
        before,
        after,
        refused_seconds=ready - stopping,
        seconds=time.monotonic() - began,
    )

"""Move the running API to the champion's Bento: the supervisor's half of a retrain.

The refusal window is kept short by overlapping the two servers' start-up: the new server is
started first and does everything it can (settings, registry lookup, imports) while the old one
still answers; it then waits for the port. Only then is the old server stopped, gracefully (it
finishes the requests it accepted, each committed to the store before its answer), and the new
one takes the port as soon as it is free. The window between the two is measured and reported.
"""

from __future__ import annotations

import json
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

from mlstack_core.endpoints import METADATA_PATH, WAITING_FOR_PORT
from mlstack_core.processes import POLL_SECONDS, stop_group
from mlstack_core.settings import Settings
from mlstack_deploy.services import Service, api_service
from mlstack_deploy.supervisor import Outcome, Supervisor

HEALTH_TIMEOUT = 300.0


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


def replacement(settings: Settings) -> Service:
    """The API service, started so that it gets ready first and then waits for the port."""
    service = api_service(settings)
    return replace(service, command=[*service.command, "--wait-for-port", str(HEALTH_TIMEOUT)])


def _wait_until_waiting(log: Path, offset: int, process: subprocess.Popen[bytes]) -> bool:
    """Whether the new server said it is ready for the port (False if it died or timed out)."""
    deadline = time.monotonic() + HEALTH_TIMEOUT
    while time.monotonic() < deadline and process.poll() is None:
        with log.open("rb") as handle:
            handle.seek(offset)
            if WAITING_FOR_PORT.encode() in handle.read():
                return True
        time.sleep(POLL_SECONDS / 5)
    return False


def swap_api(settings: Settings) -> SwapResult:
    """Move the API that `mlstack up` runs to the current champion; no-op when it is not up."""
    began = time.monotonic()
    supervisor = Supervisor(settings)
    service = replacement(settings)
    old = supervisor.running(service)
    if old is None:
        return SwapResult(
            "not running", "the API is not running under `mlstack up`: nothing to move"
        )
    before = served_version(settings)
    log = supervisor.log_path(service.name)
    offset = log.stat().st_size if log.exists() else 0
    launched = supervisor.launch(service, port_may_be_busy=True)
    if isinstance(launched, Outcome):
        return SwapResult("failed", f"the new API could not start: {launched.detail}", before)
    if not _wait_until_waiting(log, offset, launched):
        stop_group(launched.pid, timeout=5)
        supervisor.record(old)
        return SwapResult(
            "failed",
            f"the new API did not get ready; the old one (v{before}) keeps serving: "
            f"see `uv run invoke logs api`",
            before,
        )
    stopping = time.monotonic()
    stop_group(old.pid)
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
        refused_seconds=round(ready - stopping, 2),
        seconds=round(time.monotonic() - began, 2),
    )

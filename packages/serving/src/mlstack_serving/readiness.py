"""The prediction store's health as the API shows it: 503 with the cause, and `/readyz`.

Every 200 means the predictions are committed, so when the store refuses writes (a full disk,
a database that is down or locked past its timeout) the API answers 503 with `Retry-After` and
the database's own reason, and `/readyz` says not ready with that reason, so a load balancer
stops sending traffic. Nothing restarts: the next write or probe that succeeds makes it ready.
"""

from __future__ import annotations

import time
from typing import Any

import anyio.to_thread
from starlette.responses import JSONResponse

from mlstack_core.endpoints import API_READY_PATH
from mlstack_core.errors import StoreUnavailableError
from mlstack_core.store import PredictionStore
from mlstack_serving.guard import ASGIApp, Receive, Scope, Send

RETRY_AFTER_SECONDS = 5
PROBE_EVERY_SECONDS = 1.0


def unavailable_response(exc: StoreUnavailableError) -> JSONResponse:
    """The 503 a client gets instead of a prediction that could not be logged."""
    return JSONResponse(
        {"error": exc.cause, "hint": "retry later; nothing was predicted or logged"},
        status_code=503,
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


class StoreHealth:
    """Whether the store takes writes: learnt from the last real write while traffic flows,
    and from a probe write (at most once a second) when `/readyz` asks during a lull."""

    def __init__(self, store: PredictionStore) -> None:
        self.store = store
        self.cause: str | None = None
        self._known_at = float("-inf")

    def record(self, error: StoreUnavailableError | None) -> None:
        self.cause = error.cause if error else None
        self._known_at = time.monotonic()

    def check(self) -> str | None:
        """The reason the store refuses writes now, or None when it takes them."""
        if time.monotonic() - self._known_at >= PROBE_EVERY_SECONDS:
            try:
                self.store.probe()
            except StoreUnavailableError as exc:
                self.record(exc)
            else:
                self.record(None)
        return self.cause


class ReadinessGate:
    """`/readyz` answers 503 with the store's cause before BentoML's own check runs."""

    def __init__(self, app: ASGIApp, health: StoreHealth) -> None:
        self.app = app
        self.health = health

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == API_READY_PATH:
            cause = await anyio.to_thread.run_sync(self.health.check)
            if cause is not None:
                response: Any = JSONResponse(
                    {"ready": False, "error": cause},
                    status_code=503,
                    headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)

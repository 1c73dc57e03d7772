"""BentoML's request timeout keeps its 504 but leaves no timer behind each request."""

from __future__ import annotations

import asyncio
from typing import Any

from bentoml._internal.server.http.traffic import TimeoutMiddleware

from mlstack_serving.timer_fix import cancel_request_timers


async def answer(scope: Any, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"{}"})


async def stall(scope: Any, receive: Any, send: Any) -> None:
    await asyncio.sleep(10)


async def call(app: Any) -> list[dict[str, Any]]:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app({"type": "http", "method": "POST", "path": "/predict", "headers": []}, receive, send)
    return sent


def pending_timers_after(requests: int) -> int:
    async def run() -> int:
        middleware = TimeoutMiddleware(answer, timeout=30)
        for _ in range(requests):
            await call(middleware)
        loop = asyncio.get_running_loop()
        return sum(not h.cancelled() for h in loop._scheduled)  # type: ignore[attr-defined]

    return asyncio.run(run())


def test_requests_leave_no_pending_timer() -> None:
    assert cancel_request_timers()
    assert pending_timers_after(200) == 0


def test_a_request_out_of_time_still_gets_504() -> None:
    assert cancel_request_timers()

    async def run() -> list[dict[str, Any]]:
        return await call(TimeoutMiddleware(stall, timeout=0.05))

    sent = asyncio.run(run())
    assert sent[0]["status"] == 504
    assert b"Not able to process the request in 0.05 seconds" in sent[1]["body"]

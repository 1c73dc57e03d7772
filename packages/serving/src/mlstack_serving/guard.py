"""ASGI middleware in front of the API: bearer token and JSON-only bodies on the write routes.

BentoML would parse any body as JSON whatever its Content-Type; a client sending form data or
text gets a 415 here instead. The token is compared in constant time and never logged.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from mlstack_core.endpoints import FEEDBACK_PATH, PREDICT_PATH
from mlstack_core.settings import load_settings

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

PROTECTED = frozenset({PREDICT_PATH, FEEDBACK_PATH})
JSON_TYPES = frozenset({"application/json"})


async def _reply(send: Send, status: int, body: dict[str, Any], headers: list[Any]) -> None:
    payload = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})


def _error(loc: list[str], msg: str, kind: str) -> dict[str, Any]:
    return {"error": msg, "detail": [{"type": kind, "loc": loc, "msg": msg}]}


class RequestGuard:
    """Refuses unauthenticated or non-JSON requests to /predict and /feedback."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        token = load_settings().api_token
        self._expected = f"Bearer {token.get_secret_value()}".encode() if token else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] not in PROTECTED:
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        if self._expected is not None and not hmac.compare_digest(
            headers.get(b"authorization", b""), self._expected
        ):
            await _reply(
                send,
                401,
                _error(["header", "Authorization"], "missing or wrong bearer token", "auth"),
                [(b"www-authenticate", b"Bearer")],
            )
            return
        media = headers.get(b"content-type", b"").decode("latin-1").split(";")[0].strip()
        if scope["method"] == "POST" and media.lower() not in JSON_TYPES:
            await _reply(
                send,
                415,
                _error(
                    ["header", "Content-Type"],
                    f"Content-Type must be application/json, got {media or 'none'!r}",
                    "content_type",
                ),
                [],
            )
            return
        await self.app(scope, receive, send)

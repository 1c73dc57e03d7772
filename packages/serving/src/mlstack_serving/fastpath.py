"""POST /predict answered by a thin ASGI layer in front of BentoML's per-request machinery.

Measured with py-spy under wrk on two cores: once the model is lowered to numpy, BentoML's
request stack (OpenTelemetry spans, traffic and metrics middleware, the context and IO
wrappers) takes most of the event loop per request, about 25 times a bare Starlette endpoint.
This layer keeps what the contract is made of and drops the rest: the body is validated by
the very input model BentoML generated for the `predict` API, the records go to the service's
batcher (predict, commit to the store, answer: every 200 is still logged), and the answer is
serialised by the API's own output model. Anything this layer does not answer itself (a body
the input model refuses, other routes and methods) goes to BentoML unchanged, so error
responses are BentoML's own; errors of the batcher are answered the way BentoML answers them.
BentoML's request counters and traces do not see these requests; mlstack's own metrics do.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from bentoml.exceptions import BentoMLException
from pydantic import BaseModel, ValidationError

from mlstack_core.endpoints import PREDICT_PATH
from mlstack_core.errors import StoreUnavailableError
from mlstack_serving.guard import ASGIApp, Message, Receive, Scope, Send, send_json
from mlstack_serving.readiness import RETRY_AFTER_SECONDS, unavailable_body

log = logging.getLogger(__name__)

UNEXPECTED = {"error": "An unexpected error has occurred, please check the server log."}


@dataclass(frozen=True)
class PredictRoute:
    """What answering /predict needs: the API's input and output models and the batcher."""

    input_model: type[BaseModel]
    output_model: Callable[[Any], BaseModel]
    submit: Callable[[Sequence[BaseModel]], Awaitable[list[Any]]]
    server_header: bytes


class RouteSlot:
    """Filled by the service instance in its worker; until then BentoML answers everything."""

    route: PredictRoute | None = None


async def _read_body(receive: Receive) -> tuple[bytes, list[Message]]:
    """The whole body, and the messages it came in (to replay them to BentoML)."""
    messages: list[Message] = []
    chunks: list[bytes] = []
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks), messages


def _replay(messages: list[Message], receive: Receive) -> Receive:
    pending = list(messages)

    async def replayed() -> Message:
        return pending.pop(0) if pending else await receive()

    return replayed


def _failure(exc: Exception) -> tuple[int, dict[str, Any]]:
    """The status and body BentoML gives an exception raised by an API method."""
    if isinstance(exc, BentoMLException):
        status = int(exc.error_code.value)
        if status in (401, 403):
            return status, {"error": "Authorization error"}
        return status, UNEXPECTED if status >= 500 else {"error": str(exc)}
    return 500, UNEXPECTED


class FastPredict:
    """ASGI middleware: POST /predict with a valid body is answered here, all else passes."""

    def __init__(self, app: ASGIApp, slot: RouteSlot) -> None:
        self.app = app
        self.slot = slot

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        route = self.slot.route
        if (
            route is None
            or scope["type"] != "http"
            or scope["path"] != PREDICT_PATH
            or scope["method"] != "POST"
        ):
            await self.app(scope, receive, send)
            return
        body, messages = await _read_body(receive)
        try:
            request = route.input_model.model_validate_json(body or b"{}")
        except (ValidationError, ValueError):
            await self.app(scope, _replay(messages, receive), send)  # BentoML's own 400
            return
        try:
            answers = await route.submit(request.records)  # type: ignore[attr-defined]
        except StoreUnavailableError as exc:
            log.warning("POST /predict refused: %s", exc.cause)
            payload = json.dumps(unavailable_body(exc)).encode()
            retry = (b"retry-after", str(RETRY_AFTER_SECONDS).encode())
            await send_json(send, 503, payload, [retry, (b"server", route.server_header)])
            return
        except Exception as exc:
            log.exception("POST /predict failed")
            status, error = _failure(exc)
            payload = json.dumps(error).encode()
            await send_json(send, status, payload, [(b"server", route.server_header)])
            return
        payload = route.output_model(answers).model_dump_json().encode()
        await send_json(send, 200, payload, [(b"server", route.server_header)])

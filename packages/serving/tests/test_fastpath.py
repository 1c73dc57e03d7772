"""The /predict layer in front of BentoML: it answers valid bodies itself, hands everything
else to the app behind it with the body intact, and answers batch failures as BentoML does."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
from bentoml.exceptions import BentoMLException, InvalidArgument
from pydantic import BaseModel, RootModel
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from mlstack_serving.fastpath import UNEXPECTED, FastPredict, PredictRoute, RouteSlot


class Item(BaseModel):
    x: float


class Input(BaseModel):
    records: list[Item]


class Output(RootModel[list[dict[str, Any]]]):
    pass


async def behind(request: Request) -> JSONResponse:
    """What BentoML would see: the route and the exact body."""
    return JSONResponse({"behind": request.url.path, "body": (await request.body()).decode()})


def client(submit: Any) -> TestClient:
    slot = RouteSlot()
    slot.route = PredictRoute(Input, Output, submit, b"BentoML Service/test")
    app = Starlette(routes=[Route("/{path:path}", behind, methods=["GET", "POST"])])
    return TestClient(FastPredict(app, slot))


async def doubled(records: Sequence[BaseModel]) -> list[dict[str, Any]]:
    return [{"y": 2 * r.x} for r in records]  # type: ignore[attr-defined]


def test_a_valid_body_is_answered_by_the_batcher_with_the_output_model() -> None:
    response = client(doubled).post("/predict", json={"records": [{"x": 1}, {"x": 2.5}]})
    assert response.status_code == 200
    assert response.json() == [{"y": 2.0}, {"y": 5.0}]
    assert response.headers["server"] == "BentoML Service/test"


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/predict", b'{"records": [{"x": "text"}]}'),
        ("POST", "/predict", b'{"records": ['),
        ("POST", "/feedback", b'{"records": [{"x": 1}]}'),
        ("GET", "/predict", b""),
    ],
)
def test_everything_else_reaches_the_app_behind_with_its_body(
    method: str, path: str, body: bytes
) -> None:
    response = client(doubled).request(method, path, content=body)
    assert response.json() == {"behind": path, "body": body.decode()}


async def broken(_: Sequence[BaseModel]) -> list[dict[str, Any]]:
    raise RuntimeError("the store is down")


async def refused(_: Sequence[BaseModel]) -> list[dict[str, Any]]:
    raise InvalidArgument("too late")


async def unavailable(_: Sequence[BaseModel]) -> list[dict[str, Any]]:
    raise BentoMLException("overloaded")


@pytest.mark.parametrize(
    ("submit", "status", "body"),
    [
        (broken, 500, UNEXPECTED),
        (refused, 400, {"error": "too late"}),
        (unavailable, 500, UNEXPECTED),
    ],
)
def test_a_failing_batch_is_answered_as_bentoml_answers_it(
    submit: Any, status: int, body: dict[str, str]
) -> None:
    response = client(submit).post("/predict", json={"records": [{"x": 1}]})
    assert (response.status_code, response.json()) == (status, body)

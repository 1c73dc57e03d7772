"""Property-based fuzzing of the API from its own OpenAPI document: no input gives a 5xx."""

from __future__ import annotations

import json
from typing import Any

import schemathesis
from conftest import RECORD, Api
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

FUZZ = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)


def _send(api: Api, kwargs: dict[str, Any]) -> Any:
    body = kwargs.get("json")
    content = None if body is None else json.dumps(body)
    return api.client.request(
        kwargs["method"],
        kwargs["url"],
        headers={"Content-Type": "application/json", **(kwargs.get("headers") or {})},
        params=kwargs.get("params"),
        content=kwargs.get("data") if content is None else content,
    )


def test_schema_generated_requests_never_get_a_5xx(api: Api) -> None:
    schema = schemathesis.openapi.from_dict(api.client.get("/docs.json").json())
    for path in ("/predict", "/feedback"):
        strategy = schema[path]["POST"].as_strategy()

        @FUZZ
        @given(case=strategy)
        def check(case: Any) -> None:
            response = _send(api, case.as_transport_kwargs(base_url="http://testserver"))
            assert response.status_code < 500, (case.body, response.text)

        check()


@FUZZ
@given(record=st.dictionaries(st.sampled_from([*RECORD, "extra"]), JSON_VALUES, max_size=6))
def test_arbitrary_records_are_answered_or_refused_never_a_5xx(
    api: Api, record: dict[str, Any]
) -> None:
    response = api.client.post(
        "/predict",
        content=json.dumps({"records": [{**RECORD, **record}]}),
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code in (200, 400), response.text


@FUZZ
@given(body=JSON_VALUES)
def test_arbitrary_json_bodies_never_get_a_5xx(api: Api, body: Any) -> None:
    for path in ("/predict", "/feedback"):
        response = api.client.post(
            path, content=json.dumps(body), headers={"Content-Type": "application/json"}
        )
        assert 400 <= response.status_code < 500, response.text

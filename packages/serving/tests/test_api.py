"""The API in process: predictions, logging, feedback, metadata and every bad input."""

from __future__ import annotations

import json
import math
import uuid
from typing import Any

import pytest
from conftest import HOLDOUT_ROWS, MAX_RECORDS, RECORD, Api


def predict(api: Api, *records: dict[str, Any]) -> Any:
    return api.client.post("/predict", json={"records": list(records)})


def test_prediction_is_answered_with_id_version_probabilities_and_logged(api: Api) -> None:
    response = predict(api, RECORD)
    assert response.status_code == 200, response.text
    [answer] = response.json()
    assert answer["model_version"] == "1"
    assert answer["prediction"] in ("no", "yes")
    assert set(answer["probabilities"]) == {"no", "yes"}
    assert math.isclose(sum(answer["probabilities"].values()), 1.0, abs_tol=1e-5)
    assert answer["prediction_id"] in api.store.ids()


def test_several_records_give_one_answer_and_one_row_each(api: Api) -> None:
    records = [{**RECORD, "x1": float(i)} for i in range(7)]
    before = api.count()
    answers = predict(api, *records).json()
    assert len(answers) == 7
    assert {a["prediction_id"] for a in answers} <= api.store.ids()
    assert api.count() == before + 7


def test_nulls_are_missing_values_and_categories_use_the_contract_spelling(api: Api) -> None:
    """`size` was trained as text "2"; a client sending 2 or 2.0 means the same category."""
    response = predict(
        api, {**RECORD, "x2": None, "color": None}, {**RECORD, "size": 2.0}, {**RECORD, "size": "2"}
    )
    assert response.status_code == 200, response.text
    second, third = response.json()[1:]
    assert second["probabilities"] == third["probabilities"]


BAD_INPUTS: list[tuple[str, bytes, str, str]] = [
    ("missing field", json.dumps({"records": [{"x1": 1, "color": "red", "size": 1}]}).encode(),
     "application/json", "x2"),
    ("wrong type", json.dumps({"records": [{**RECORD, "x1": "abc"}]}).encode(),
     "application/json", "x1"),
    ("boolean for a number", json.dumps({"records": [{**RECORD, "x1": True}]}).encode(),
     "application/json", "x1"),
    ("unknown category", json.dumps({"records": [{**RECORD, "color": "purple"}]}).encode(),
     "application/json", "color"),
    ("NaN", b'{"records": [{"x1": NaN, "x2": 1, "color": "red", "size": 1}]}',
     "application/json", "x1"),
    ("infinity", b'{"records": [{"x1": 1, "x2": -Infinity, "color": "red", "size": 1}]}',
     "application/json", "x2"),
    ("overflow to infinity", b'{"records": [{"x1": 1e999, "x2": 1, "color": "red", "size": 1}]}',
     "application/json", "x1"),
    ("empty list", b'{"records": []}', "application/json", "records"),
    ("too many records", json.dumps({"records": [RECORD] * (MAX_RECORDS + 1)}).encode(),
     "application/json", "records"),
    ("no records key", b"{}", "application/json", "records"),
    ("records not a list", b'{"records": {"x1": 1}}', "application/json", "records"),
    ("malformed JSON", b'{"records": [', "application/json", "JSON"),
    ("wrong content type", json.dumps({"records": [RECORD]}).encode(), "text/plain",
     "Content-Type"),
    ("form data", b"x1=1", "application/x-www-form-urlencoded", "Content-Type"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("body", "content_type", "names"),
    [pytest.param(b, c, n, id=i) for i, b, c, n in BAD_INPUTS],
)
def test_bad_input_is_a_4xx_naming_the_field_and_nothing_is_logged(
    api: Api, body: bytes, content_type: str, names: str
) -> None:
    before = api.count()
    response = api.client.post("/predict", content=body, headers={"Content-Type": content_type})
    assert 400 <= response.status_code < 500, response.text
    payload = response.json()
    assert payload["error"]
    assert names in json.dumps(payload)
    assert api.count() == before


def test_any_column_name_works_on_the_wire() -> None:
    """Names that are not identifiers or that clash with pydantic's own are fields as well."""
    from mlstack_core.spec import DatasetSpec
    from mlstack_serving.schema import record_type

    awkward = ("floor area (m2)", "json", "_id", "model_config", "has/garden")
    spec = DatasetSpec(target="y", numeric=awkward[:3], categorical=awkward[3:])
    record = record_type(spec).model_validate(dict.fromkeys(awkward, 1))
    assert record.model_dump() == {"floor area (m2)": 1.0, "json": 1.0, "_id": 1.0,
                                   "model_config": "1", "has/garden": "1"}  # fmt: skip
    assert set(record_type(spec).model_json_schema()["properties"]) == set(awkward)


def test_unknown_category_error_lists_the_known_ones(api: Api) -> None:
    detail = predict(api, {**RECORD, "color": "purple"}).json()["detail"][0]
    assert detail["loc"] == ["records", 0, "color"]
    assert "'purple'" in detail["msg"]
    assert "'blue', 'green', 'red'" in detail["msg"]


def test_feedback_is_recorded_for_a_known_prediction(api: Api) -> None:
    [answer] = predict(api, RECORD).json()
    response = api.client.post(
        "/feedback", json={"prediction_id": answer["prediction_id"], "actual": "yes"}
    )
    assert response.status_code == 200, response.text
    assert response.json()["recorded"] is True


def test_feedback_for_an_unknown_prediction_is_a_404(api: Api) -> None:
    unknown = str(uuid.uuid4())
    response = api.client.post("/feedback", json={"prediction_id": unknown, "actual": "no"})
    assert response.status_code == 404
    assert response.json()["recorded"] is False
    assert unknown in response.json()["error"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"prediction_id": "not-a-uuid", "actual": "no"}, "prediction_id"),
        ({"prediction_id": str(uuid.uuid4()), "actual": "maybe"}, "actual"),
        ({"prediction_id": str(uuid.uuid4())}, "actual"),
    ],
)
def test_bad_feedback_is_a_400_naming_the_field(api: Api, body: dict[str, Any], field: str) -> None:
    response = api.client.post("/feedback", json=body)
    assert response.status_code == 400
    assert field in json.dumps(response.json()["detail"])


def test_metadata_describes_the_served_model_and_its_input(api: Api) -> None:
    response = api.client.get("/metadata")
    assert response.status_code == 200
    meta = response.json()
    assert (meta["name"], meta["version"], meta["task"]) == ("mlstack", "1", "binary")
    assert meta["run_id"]
    assert meta["trained_at"]
    assert "accuracy" in meta["metrics"]
    assert meta["max_records"] == MAX_RECORDS
    assert meta["inference"] == "numpy+sklearn", meta["inference_reason"]
    assert f"agrees with the pipeline on {HOLDOUT_ROWS} held-out rows" in meta["inference_reason"]
    properties = meta["input_schema"]["properties"]
    assert set(properties) == {"x1", "x2", "color", "size"}
    assert properties["color"]["enum"] == ["blue", "green", "red", None]


def test_local_profile_needs_no_token(api: Api) -> None:
    assert predict(api, RECORD).status_code == 200

"""Bring your own data, end to end: an unseen table with awkward columns, trained, built,
served and answered, with no code change."""

from __future__ import annotations

import json

import httpx
import numpy as np
import pandas as pd
import pytest

from mlstack_core.endpoints import API_READY_PATH
from mlstack_core.testing.servers import stop, wait_healthy
from tests.conftest import Stack, new_stack

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def awkward_table(rows: int = 600) -> pd.DataFrame:
    """Regression data with spaces, slashes and reserved-looking names, booleans, codes, gaps."""
    rng = np.random.default_rng(7)
    size = rng.normal(120, 30, rows)
    rooms = rng.integers(1, 7, rows)
    frame = pd.DataFrame(
        {
            "listing id": [f"L-{i}" for i in range(rows)],
            "floor area (m2)": size.round(1),
            "rooms": rooms,
            "model_year": rng.integers(1950, 2025, rows),
            "json": rng.choice(["a", "b"], rows),
            "has/garden": rng.choice([True, False], rows),
            "district code": rng.choice([101, 102, 205], rows),
            "price": (size * 2.5 + rooms * 10 + rng.normal(0, 15, rows)).round(2),
        }
    )
    frame.loc[rng.random(rows) < 0.05, "floor area (m2)"] = np.nan
    return frame


def test_unseen_regression_table_is_trained_built_and_served(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    stack: Stack = new_stack(tmp_path_factory.mktemp("byod"))
    data = stack.home / "houses.csv"
    awkward_table().to_csv(data, index=False)
    spec = stack.home / "houses.yaml"
    spec.write_text("target: price\ncategorical: [district code]\n")

    trained = stack.invoke("train", "--data", str(data), "--spec", str(spec))
    assert trained.returncode == 0, trained.stdout + trained.stderr
    assert "promoted to champion" in trained.stdout
    built = stack.invoke("build")
    assert built.returncode == 0, built.stdout + built.stderr

    server = stack.spawn("mlstack-serve", "serve")
    base = stack.url(stack.api_port, "")
    try:
        wait_healthy(f"{base}{API_READY_PATH}", server)
        record = {
            "floor area (m2)": 100.0,
            "rooms": 3,
            "model_year": 1999,
            "json": "a",
            "has/garden": True,
            "district code": 205,
        }
        answer = httpx.post(
            f"{base}/predict",
            json={"records": [record, {**record, "floor area (m2)": None}]},
            timeout=30,
        )
        assert answer.status_code == 200, answer.text
        first, second = answer.json()
        assert isinstance(first["prediction"], float)
        assert first["model_version"] == "1"
        assert 150 < first["prediction"] < 400
        assert second["prediction_id"] != first["prediction_id"]
        unknown = httpx.post(
            f"{base}/predict", json={"records": [{**record, "district code": 999}]}, timeout=30
        )
        assert unknown.status_code == 400
        assert "district code" in unknown.text
        metadata = httpx.get(f"{base}/metadata", timeout=10).json()
        assert metadata["task"] == "regression"
        assert "listing id" not in json.dumps(metadata["input_schema"])
    finally:
        stop(server)

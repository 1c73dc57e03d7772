"""The data contract: what it accepts, and the message for each thing it refuses."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mlstack_core.categories import normalize_category
from mlstack_core.contract import validate_frame
from mlstack_core.errors import DataError
from mlstack_core.spec import DatasetSpec

SPEC = DatasetSpec(target="y", task="binary", numeric=("a",), categorical=("c",))


def frame(rows: int = 60, **overrides: object) -> pd.DataFrame:
    data: dict[str, object] = {
        "a": np.linspace(0, 1, rows),
        "c": ["p", "q", None] * (rows // 3),
        "y": ["no", "yes"] * (rows // 2),
    }
    data.update(overrides)
    return pd.DataFrame(data)


def test_valid_frame_is_returned_with_normalised_types() -> None:
    out = validate_frame(frame(), SPEC, min_rows=10)
    assert out["a"].dtype == float
    assert out["c"].isna().sum() == 20
    assert set(out["y"]) == {"no", "yes"}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (frame().drop(columns="y"), "target column 'y' is not in the data"),
        (frame(y=[None] * 60), "has no values"),
        (frame(y=["yes"] * 60), "single class"),
        (frame().drop(columns="a"), "feature column(s) missing"),
        (frame(a=[np.nan] * 60), "no values at all"),
        (frame(a=["1.5", "oops"] * 30), "non-numeric values ('oops'"),
        (frame(a=[1.0, np.inf] * 30), "infinite values"),
        (frame(rows=6), "at least 10 are needed"),
    ],
)
def test_contract_violations_name_the_column_and_problem(data: pd.DataFrame, message: str) -> None:
    with pytest.raises(DataError) as caught:
        validate_frame(data, SPEC, min_rows=10)
    assert message in caught.value.cause
    assert caught.value.hint


def test_duplicate_columns_are_refused() -> None:
    data = pd.concat([frame(), frame()[["a"]]], axis=1)
    with pytest.raises(DataError, match="duplicate column names"):
        validate_frame(data, SPEC, min_rows=10)


def test_rows_without_target_are_dropped() -> None:
    data = frame()
    data.loc[:9, "y"] = None
    assert len(validate_frame(data, SPEC, min_rows=10)) == 50


@pytest.mark.parametrize(
    ("raw", "normal"),
    [(1.0, "1"), (2, "2"), ("x", "x"), (True, "true"), (1.5, "1.5")],
)
def test_one_spelling_per_category(raw: object, normal: str) -> None:
    assert normalize_category(raw) == normal


def test_missing_category_stays_missing() -> None:
    assert np.isnan(normalize_category(None))
    assert np.isnan(normalize_category(float("nan")))

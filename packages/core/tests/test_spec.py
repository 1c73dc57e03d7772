from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlstack_core.errors import DataError
from mlstack_core.spec import DatasetSpec, infer_spec, infer_task


@pytest.mark.parametrize(
    ("values", "task"),
    [
        (["yes", "no", "yes"], "binary"),
        ([0, 1, 1, 0], "binary"),
        (["a", "b", "c"], "multiclass"),
        ([1, 2, 3, 4, 5, 1], "multiclass"),
        ([0.5, 1.25, 3.0, 4.75], "regression"),
        (list(range(100)), "regression"),
    ],
)
def test_task_is_inferred_from_the_target(values: list[object], task: str) -> None:
    assert infer_task(pd.Series(values)) == task


def test_feature_kinds_are_inferred_and_identifiers_ignored() -> None:
    rows = 50
    frame = pd.DataFrame(
        {
            "id": [f"row-{i}" for i in range(rows)],
            "x": np.arange(rows, dtype=float),
            "flag": [True, False] * (rows // 2),
            "colour": ["red", "blue"] * (rows // 2),
            "when": pd.date_range("2026-01-01", periods=rows),
            "y": [0, 1] * (rows // 2),
        }
    )
    spec = infer_spec(frame, "y")
    assert spec.numeric == ("x",)
    assert set(spec.categorical) == {"flag", "colour"}
    assert set(spec.ignore) == {"id", "when"}
    assert spec.task == "binary"


def test_a_spec_file_overrides_inference(tmp_path: Path) -> None:
    path = tmp_path / "spec.toml"
    path.write_text('target = "y"\ncategorical = ["code"]\nignore = ["noise"]\n')
    frame = pd.DataFrame(
        {"code": [1, 2, 3], "noise": [0.1, 0.2, 0.3], "z": [1.0, 2, 3], "y": [0, 1, 0]}
    )
    spec = infer_spec(frame, "y", base=DatasetSpec.from_file(path))
    assert spec.categorical == ("code",)
    assert spec.numeric == ("z",)
    assert spec.ignore == ("noise",)


def test_a_bad_spec_file_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "spec.yaml"
    path.write_text("target: y\nnumeric: [a]\ncategorical: [a]\n")
    with pytest.raises(DataError, match="listed under numeric and categorical"):
        DatasetSpec.from_file(path)
    with pytest.raises(DataError, match="does not exist"):
        DatasetSpec.from_file(tmp_path / "missing.yaml")


def test_spec_round_trips_through_json() -> None:
    spec = DatasetSpec(
        target="y",
        task="binary",
        numeric=("a",),
        categorical=("b",),
        categories={"b": ("x", "y")},
        classes=("0", "1"),
    )
    assert DatasetSpec.from_json(spec.to_json()) == spec
    assert [f.kind for f in spec.features] == ["numeric", "categorical"]

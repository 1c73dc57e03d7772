from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mlstack_core.profile import ReferenceProfile, holdout_records
from mlstack_core.spec import DatasetSpec

SPEC = DatasetSpec(target="y", task="binary", numeric=("a",), categorical=("c",))


def test_profile_matches_the_data() -> None:
    rng = np.random.default_rng(0)
    data = pd.DataFrame(
        {
            "a": rng.normal(5, 2, 3000),
            "c": rng.choice(["p", "q"], 3000, p=[0.7, 0.3]),
            "y": rng.choice(["0", "1"], 3000),
        }
    )
    data.loc[:299, "a"] = np.nan
    profile = ReferenceProfile.from_frame(data, SPEC, seed=1)
    numeric = profile.numeric["a"]
    assert numeric.missing_share == pytest.approx(0.1)
    assert numeric.mean == pytest.approx(data["a"].mean())
    assert numeric.quantiles["q50"] == pytest.approx(data["a"].median())
    assert profile.categorical["c"].frequencies["p"] == pytest.approx((data["c"] == "p").mean())
    assert len(profile.sample) == 2000
    restored = ReferenceProfile.model_validate_json(profile.model_dump_json())
    assert restored.sample_frame()["a"].isna().sum() == sum(r["a"] is None for r in profile.sample)


def test_holdout_records_are_json_ready() -> None:
    data = pd.DataFrame({"a": [1.0, np.nan], "c": ["p", None], "y": ["0", "1"]})
    assert holdout_records(data) == [
        {"a": 1.0, "c": "p", "y": "0"},
        {"a": None, "c": None, "y": "1"},
    ]

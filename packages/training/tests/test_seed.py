"""The committed seed sample is exactly what its generator produces."""

from __future__ import annotations

import pandas as pd

from mlstack_core.spec import DatasetSpec
from mlstack_training import seed


def test_committed_sample_matches_the_generator() -> None:
    committed = seed.seed_csv().read_text(encoding="utf-8")
    assert committed == seed.to_csv_text(seed.generate())


def test_sample_is_realistic(seed_frame: pd.DataFrame) -> None:
    spec = DatasetSpec.from_file(seed.seed_spec())
    assert len(seed_frame) >= 5000
    assert spec.numeric
    assert spec.categorical
    assert seed_frame[list(spec.numeric)].isna().any().any()
    assert seed_frame[list(spec.categorical)].isna().any().any()
    assert 0.2 < (seed_frame[seed.TARGET] == "yes").mean() < 0.6
    assert set(seed_frame.columns) == {spec.target, *spec.feature_names, *spec.ignore}

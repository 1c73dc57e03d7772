"""The reference profile: what the training features looked like, for drift monitoring.

Training writes it next to the model (one JSON artifact per version); monitoring compares
live traffic with it. It holds summary statistics per feature and a bounded sample of rows,
so that a statistical test can run without the training file.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict

from mlstack_core.spec import DatasetSpec

SAMPLE_ROWS = 2000
QUANTILES = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)


class NumericProfile(BaseModel):
    model_config = ConfigDict(frozen=True)

    count: int
    missing_share: float
    mean: float | None
    std: float | None
    min: float | None
    max: float | None
    quantiles: dict[str, float]


class CategoricalProfile(BaseModel):
    model_config = ConfigDict(frozen=True)

    count: int
    missing_share: float
    frequencies: dict[str, float]


class ReferenceProfile(BaseModel):
    """Per-feature statistics of the training data plus a seeded sample of its rows."""

    model_config = ConfigDict(frozen=True)

    spec: DatasetSpec
    rows: int
    numeric: dict[str, NumericProfile]
    categorical: dict[str, CategoricalProfile]
    target_distribution: dict[str, float]
    sample: list[dict[str, Any]]

    @classmethod
    def from_frame(
        cls, frame: pd.DataFrame, spec: DatasetSpec, *, seed: int = 0
    ) -> ReferenceProfile:
        numeric = {name: _numeric(frame[name]) for name in spec.numeric}
        categorical = {name: _categorical(frame[name]) for name in spec.categorical}
        target = frame[spec.target]
        if spec.is_classification:
            target_distribution = _frequencies(target)
        else:
            target_distribution = {
                f"q{int(q * 100):02d}": float(target.quantile(q)) for q in QUANTILES
            }
        sample = frame[spec.feature_names].sample(n=min(SAMPLE_ROWS, len(frame)), random_state=seed)
        records = sample.astype(object).where(sample.notna(), None).to_dict(orient="records")
        return cls(
            spec=spec,
            rows=len(frame),
            numeric=numeric,
            categorical=categorical,
            target_distribution=target_distribution,
            sample=[{str(k): v for k, v in row.items()} for row in records],
        )

    def sample_frame(self) -> pd.DataFrame:
        """The reference sample with the same column kinds as training data."""
        frame = pd.DataFrame.from_records(self.sample, columns=self.spec.feature_names)
        for name in self.spec.numeric:
            frame[name] = pd.to_numeric(frame[name], errors="coerce").astype(float)
        return frame


def holdout_records(frame: pd.DataFrame, *, limit: int = SAMPLE_ROWS) -> list[dict[str, Any]]:
    """Held-out rows (features and target) as JSON-ready records, missing values as None."""
    head = frame.iloc[:limit]
    return [
        {str(k): v for k, v in row.items()}
        for row in head.astype(object).where(head.notna(), None).to_dict(orient="records")
    ]


def _optional(value: float) -> float | None:
    return None if np.isnan(value) else float(value)


def _numeric(series: pd.Series) -> NumericProfile:
    values = series.astype(float)
    present = values.dropna()
    return NumericProfile(
        count=len(values),
        missing_share=float(values.isna().mean()),
        mean=_optional(present.mean()) if len(present) else None,
        std=_optional(present.std()) if len(present) > 1 else None,
        min=float(present.min()) if len(present) else None,
        max=float(present.max()) if len(present) else None,
        quantiles={f"q{int(q * 100):02d}": float(present.quantile(q)) for q in QUANTILES}
        if len(present)
        else {},
    )


def _frequencies(series: pd.Series) -> dict[str, float]:
    shares = series.dropna().astype(str).value_counts(normalize=True)
    return {str(k): float(v) for k, v in shares.items()}


def _categorical(series: pd.Series) -> CategoricalProfile:
    return CategoricalProfile(
        count=len(series),
        missing_share=float(series.isna().mean()),
        frequencies=_frequencies(series),
    )

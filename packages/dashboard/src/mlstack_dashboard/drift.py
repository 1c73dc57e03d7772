"""Per-feature drift of live inputs against the training reference, computed by Evidently 0.7.

This is the only module that imports Evidently, so an upgrade touches one file. The tests are
fixed (Kolmogorov-Smirnov for numbers, chi-square for categories) rather than Evidently's
size-dependent defaults, so that `MLSTACK_DRIFT_PVALUE` means the same thing at any volume.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import pandas as pd

from mlstack_core.spec import DatasetSpec

NUMERIC_TEST = "ks"
CATEGORICAL_TEST = "chisquare"
MISSING = "__missing__"


@dataclass(frozen=True)
class FeatureDrift:
    """One feature's test: its p-value and whether it is below the threshold."""

    name: str
    kind: Literal["numeric", "categorical"]
    method: str
    p_value: float
    threshold: float
    drifted: bool


@dataclass(frozen=True)
class DriftResult:
    """Every tested feature and the share that drifted."""

    features: tuple[FeatureDrift, ...]
    skipped: tuple[str, ...]
    reference_rows: int
    current_rows: int

    @property
    def drifted(self) -> tuple[FeatureDrift, ...]:
        return tuple(f for f in self.features if f.drifted)

    @property
    def share(self) -> float:
        return len(self.drifted) / len(self.features) if self.features else 0.0


def _preset(columns: list[str], p_value: float) -> Any:
    """DataDriftPreset with fixed tests, minus its HTML rendering.

    The preset's `render` builds plotly widgets for Evidently's own report page (about half the
    run time); monitoring reads only the metric values and test results, so it is skipped.
    """
    from evidently.presets import DataDriftPreset

    class ValuesOnlyDriftPreset(DataDriftPreset):  # type: ignore[misc]
        def render(self, context: Any, child_widgets: Any = None) -> list[Any]:
            return []

    return ValuesOnlyDriftPreset(
        columns=columns, num_method=NUMERIC_TEST, cat_method=CATEGORICAL_TEST, threshold=p_value
    )


def align(frame: pd.DataFrame, spec: DatasetSpec) -> pd.DataFrame:
    """Feature columns in spec order: numbers as floats, categories as strings (missing kept)."""
    out = pd.DataFrame(index=frame.index)
    for name in spec.numeric:
        column = frame[name] if name in frame else pd.Series(index=frame.index, dtype=float)
        out[name] = pd.to_numeric(column, errors="coerce").astype(float)
    for name in spec.categorical:
        column = frame[name] if name in frame else pd.Series(index=frame.index, dtype=object)
        out[name] = column.astype(object).where(column.notna(), MISSING).astype(str)
    return out


def detect_drift(
    reference: pd.DataFrame, current: pd.DataFrame, spec: DatasetSpec, p_value: float
) -> DriftResult:
    """Test every feature of `spec` that has values on both sides."""
    from evidently import DataDefinition, Dataset, Report

    ref = align(reference, spec)
    cur = align(current, spec)
    testable = [
        name for name in spec.feature_names if ref[name].notna().any() and cur[name].notna().any()
    ]
    skipped = tuple(name for name in spec.feature_names if name not in testable)
    if not testable or cur.empty:
        return DriftResult((), skipped, len(ref), len(cur))
    numeric = [n for n in spec.numeric if n in testable]
    categorical = [n for n in spec.categorical if n in testable]
    definition = DataDefinition(numerical_columns=numeric, categorical_columns=categorical)
    report = Report([_preset(testable, p_value)], include_tests=True)
    snapshot = report.run(
        current_data=Dataset.from_pandas(cur[testable], data_definition=definition),
        reference_data=Dataset.from_pandas(ref[testable], data_definition=definition),
    )
    features = _features(snapshot.dict(), set(numeric), p_value)
    return DriftResult(features, skipped, len(ref), len(cur))


def _features(
    result: dict[str, Any], numeric: set[str], p_value: float
) -> tuple[FeatureDrift, ...]:
    """Read the ValueDrift metrics and their tests out of an Evidently snapshot."""
    failed = {
        test["metric_config"]["metric_id"]
        for test in result.get("tests", [])
        if test.get("status") == "FAIL"
    }
    features = []
    for metric in result["metrics"]:
        config = metric["config"]
        if not str(config.get("type", "")).endswith(":ValueDrift"):
            continue
        name = str(config["column"])
        features.append(
            FeatureDrift(
                name=name,
                kind="numeric" if name in numeric else "categorical",
                method=str(config.get("method", "")),
                p_value=float(metric["value"]),
                threshold=float(config.get("threshold", p_value)),
                drifted=metric["id"] in failed,
            )
        )
    return tuple(features)

"""Per-feature drift of live inputs against the training reference, computed by Evidently 0.7.

This is the only module that imports Evidently, so an upgrade touches one file. The measure
depends on size, as Evidently's own defaults do: up to `MLSTACK_DRIFT_DISTANCE_MIN_ROWS` rows
(1,000) on either side, p-value tests (Kolmogorov-Smirnov for numbers, chi-square for
categories) below `MLSTACK_DRIFT_PVALUE`; above it, distances (normed Wasserstein for numbers,
Jensen-Shannon for categories) at or above `MLSTACK_DRIFT_DISTANCE_THRESHOLD` (0.1). On
thousands of rows a p-value test calls a tiny, harmless difference significant; a distance
says how far the distributions moved, which is what a retrain should be triggered by.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import pandas as pd

from mlstack_core.settings import Settings
from mlstack_core.spec import DatasetSpec

MISSING = "__missing__"
Measure = Literal["p-value", "distance"]


@dataclass(frozen=True)
class DriftRule:
    """The tests used for a sample size and what their scores mean."""

    numeric: str
    categorical: str
    measure: Measure
    threshold: float

    @classmethod
    def for_rows(cls, rows: int, settings: Settings) -> DriftRule:
        """Distances above `drift_distance_min_rows` rows on both sides, p-values below."""
        if rows > settings.drift_distance_min_rows:
            return cls(
                "wasserstein", "jensenshannon", "distance", settings.drift_distance_threshold
            )
        return cls("ks", "chisquare", "p-value", settings.drift_pvalue)

    def describe(self) -> str:
        if self.measure == "distance":
            return f"distance >= {self.threshold:g}"
        return f"p < {self.threshold:g}"


@dataclass(frozen=True)
class FeatureDrift:
    """One feature's test: its score (a p-value or a distance) and whether it drifted."""

    name: str
    kind: Literal["numeric", "categorical"]
    method: str
    score: float
    measure: Measure
    threshold: float
    drifted: bool


@dataclass(frozen=True)
class DriftResult:
    """Every tested feature and the share that drifted."""

    features: tuple[FeatureDrift, ...]
    skipped: tuple[str, ...]
    reference_rows: int
    current_rows: int
    rule: DriftRule

    @property
    def drifted(self) -> tuple[FeatureDrift, ...]:
        return tuple(f for f in self.features if f.drifted)

    @property
    def share(self) -> float:
        return len(self.drifted) / len(self.features) if self.features else 0.0


def _preset(columns: list[str], rule: DriftRule) -> Any:
    """DataDriftPreset with the rule's tests, minus its HTML rendering.

    The preset's `render` builds plotly widgets for Evidently's own report page (about half the
    run time); monitoring reads only the metric values and test results, so it is skipped.
    """
    from evidently.presets import DataDriftPreset

    class ValuesOnlyDriftPreset(DataDriftPreset):  # type: ignore[misc]
        def render(self, context: Any, child_widgets: Any = None) -> list[Any]:
            return []

    return ValuesOnlyDriftPreset(
        columns=columns,
        num_method=rule.numeric,
        cat_method=rule.categorical,
        threshold=rule.threshold,
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
    reference: pd.DataFrame, current: pd.DataFrame, spec: DatasetSpec, settings: Settings
) -> DriftResult:
    """Test every feature of `spec` that has values on both sides, with the rule for their size."""
    from evidently import DataDefinition, Dataset, Report

    ref = align(reference, spec)
    cur = align(current, spec)
    rule = DriftRule.for_rows(min(len(ref), len(cur)), settings)
    testable = [
        name for name in spec.feature_names if ref[name].notna().any() and cur[name].notna().any()
    ]
    skipped = tuple(name for name in spec.feature_names if name not in testable)
    if not testable or cur.empty:
        return DriftResult((), skipped, len(ref), len(cur), rule)
    numeric = [n for n in spec.numeric if n in testable]
    categorical = [n for n in spec.categorical if n in testable]
    definition = DataDefinition(numerical_columns=numeric, categorical_columns=categorical)
    report = Report([_preset(testable, rule)], include_tests=True)
    snapshot = report.run(
        current_data=Dataset.from_pandas(cur[testable], data_definition=definition),
        reference_data=Dataset.from_pandas(ref[testable], data_definition=definition),
    )
    features = _features(snapshot.dict(), set(numeric), rule)
    return DriftResult(features, skipped, len(ref), len(cur), rule)


def _features(
    result: dict[str, Any], numeric: set[str], rule: DriftRule
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
                score=float(metric["value"]),
                measure=rule.measure,
                threshold=float(config.get("threshold", rule.threshold)),
                drifted=metric["id"] in failed,
            )
        )
    return tuple(features)

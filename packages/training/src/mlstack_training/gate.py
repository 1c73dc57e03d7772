"""The promotion gate: a challenger becomes champion only when it beats it on the same data.

Both models are scored on the challenger's held-out rows with the same metric; the gain must
reach an absolute and a relative threshold from settings. The decision and its reason are
written on the version as tags, and the alias moves (or not) accordingly.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import pandas as pd

from mlstack_core.registry import ModelRegistry, VersionInfo
from mlstack_core.settings import Settings
from mlstack_core.spec import DatasetSpec
from mlstack_training.evaluation import PrimaryMetric, score

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class GateDecision:
    promoted: bool
    reason: str
    champion_version: int | None
    champion_score: float | None


def _same_contract(a: DatasetSpec, b: DatasetSpec) -> str | None:
    """Why two specs cannot be compared, or None when they can."""
    if a.target != b.target or a.task != b.task:
        return f"target/task differ ({b.target}/{b.task} vs {a.target}/{a.task})"
    if set(a.feature_names) != set(b.feature_names):
        added = sorted(set(a.feature_names) - set(b.feature_names))
        removed = sorted(set(b.feature_names) - set(a.feature_names))
        return f"features differ (added {added or '[]'}, removed {removed or '[]'})"
    return None


class PromotionGate:
    """Decides, from held-out scores, whether a new version takes the champion alias."""

    def __init__(self, registry: ModelRegistry, settings: Settings, metric: PrimaryMetric) -> None:
        self.registry = registry
        self.settings = settings
        self.metric = metric

    def _champion_score(
        self, champion: VersionInfo, spec: DatasetSpec, x_test: pd.DataFrame, y_test: pd.Series
    ) -> tuple[float | None, str | None]:
        import mlflow.sklearn

        mismatch = _same_contract(spec, self.registry.spec(champion))
        if mismatch:
            return None, mismatch
        model: Any = mlflow.sklearn.load_model(champion.uri)
        scores = score(model, x_test, y_test, spec)
        if self.metric.name not in scores:
            return None, f"{self.metric.name} is not defined for the champion on this data"
        return scores[self.metric.name], None

    def decide(
        self,
        spec: DatasetSpec,
        challenger_scores: dict[str, float],
        x_test: pd.DataFrame,
        y_test: pd.Series,
    ) -> GateDecision:
        champion = self.registry.champion()
        if champion is None:
            return GateDecision(
                True, "no champion yet: the first version becomes champion", None, None
            )
        name = self.metric.name
        challenger = challenger_scores.get(name)
        if challenger is None:
            return GateDecision(
                False, f"{name} is not defined on this held-out data", champion.version, None
            )
        champion_score, why_not = self._champion_score(champion, spec, x_test, y_test)
        if champion_score is None:
            return GateDecision(
                False,
                f"cannot compare with champion v{champion.version}: {why_not}; "
                "promote explicitly with `invoke promote VERSION` or use another "
                "MLSTACK_MODEL_NAME",
                champion.version,
                None,
            )
        gain = self.metric.improvement(challenger, champion_score)
        relative = gain / abs(champion_score) if champion_score else float("inf")
        need_abs = self.settings.gate_min_abs_delta
        need_rel = self.settings.gate_min_rel_delta
        summary = (
            f"{name} {challenger:.4f} vs champion v{champion.version} {champion_score:.4f} "
            f"(gain {gain:+.4f}, {relative:+.2%})"
        )
        if gain <= 0 or gain < need_abs or relative < need_rel:
            return GateDecision(
                False,
                f"{summary}: below the required gain of {need_abs:.4f} and {need_rel:.2%}",
                champion.version,
                champion_score,
            )
        return GateDecision(
            True,
            f"{summary}: beats the champion by at least {need_abs:.4f} and {need_rel:.2%}",
            champion.version,
            champion_score,
        )

    def apply(self, version: int, decision: GateDecision) -> None:
        """Move the aliases and record the decision on the version."""
        self.registry.tag_version(
            version,
            {
                "mlstack.gate.decision": "promoted" if decision.promoted else "refused",
                "mlstack.gate.reason": decision.reason,
                "mlstack.gate.metric": self.metric.name,
            },
        )
        if decision.promoted:
            self.registry.promote(version, decision.reason)
        else:
            self.registry.set_challenger(version)
        log.info(
            "gate: v%s %s: %s",
            version,
            "promoted" if decision.promoted else "refused",
            decision.reason,
        )

"""Alert rules: drift, tail latency and live quality, each with its threshold from settings.

A rule only fires on enough evidence (`MLSTACK_MONITOR_MIN_ROWS` predictions for drift,
`MLSTACK_MONITOR_MIN_FEEDBACK` labels for quality), so a quiet service does not page anyone.
"""

from __future__ import annotations

from typing import Literal

import httpx
from pydantic import BaseModel, ConfigDict

from mlstack_core.errors import ServiceError
from mlstack_core.settings import Settings
from mlstack_dashboard.drift import DriftResult
from mlstack_dashboard.queries import LatencySummary

Rule = Literal["drift", "latency", "quality"]


class Alert(BaseModel):
    """One fired rule: what was measured against which threshold, in one sentence."""

    model_config = ConfigDict(frozen=True)

    rule: Rule
    message: str
    value: float
    threshold: float


class QualitySummary(BaseModel):
    """Live quality over the window next to the champion's offline score."""

    model_config = ConfigDict(frozen=True)

    metric: Literal["accuracy", "mae"]
    live: float | None
    reference: float | None
    labelled: int

    @property
    def degradation(self) -> float | None:
        """How much worse live is than offline (positive = worse), in the metric's units."""
        if self.live is None or self.reference is None:
            return None
        if self.metric == "accuracy":
            return self.reference - self.live
        return self.live - self.reference


def drift_alert(result: DriftResult | None, settings: Settings) -> Alert | None:
    if result is None or result.current_rows < settings.monitor_min_rows or not result.features:
        return None
    if result.share < settings.drift_share_alert:
        return None
    names = ", ".join(f.name for f in result.drifted)
    return Alert(
        rule="drift",
        message=(
            f"{len(result.drifted)} of {len(result.features)} features drifted "
            f"({result.rule.describe()}): {names}"
        ),
        value=result.share,
        threshold=settings.drift_share_alert,
    )


def latency_alert(summary: LatencySummary, settings: Settings) -> Alert | None:
    if summary.count < settings.monitor_min_rows:
        return None
    if summary.p99_ms <= settings.latency_p99_alert_ms:
        return None
    return Alert(
        rule="latency",
        message=(
            f"p99 latency {summary.p99_ms:.1f} ms is above {settings.latency_p99_alert_ms:.0f} ms"
        ),
        value=summary.p99_ms,
        threshold=settings.latency_p99_alert_ms,
    )


def quality_alert(summary: QualitySummary | None, settings: Settings) -> Alert | None:
    if summary is None or summary.labelled < settings.monitor_min_feedback:
        return None
    drop = summary.degradation
    if drop is None or summary.reference is None or summary.live is None:
        return None
    limit = settings.accuracy_drop_alert
    if summary.metric == "mae":
        limit = settings.accuracy_drop_alert * summary.reference
    if drop <= limit:
        return None
    return Alert(
        rule="quality",
        message=(
            f"live {summary.metric} {summary.live:.3f} on {summary.labelled} labelled predictions "
            f"vs {summary.reference:.3f} offline (worse by {drop:.3f}, limit {limit:.3f})"
        ),
        value=drop,
        threshold=limit,
    )


def post_webhook(url: str, payload: str, timeout: float = 5.0) -> None:
    """POST the report as JSON; a webhook that fails is a user-fixable error, not a crash."""
    try:
        response = httpx.post(
            url, content=payload, headers={"Content-Type": "application/json"}, timeout=timeout
        )
        response.raise_for_status()
    except httpx.HTTPError as exc:
        raise ServiceError(
            f"alert webhook {url} failed: {exc}",
            "check MLSTACK_ALERT_WEBHOOK_URL (or unset it to only print alerts)",
        ) from None

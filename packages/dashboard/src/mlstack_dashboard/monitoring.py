"""Monitoring: what the dashboard, `mlstack-monitor` and the tests compute, without Streamlit.

`Monitor` ties the prediction store (aggregated in SQL by `StoreReader`), the registry (which
version is champion, its reference profile and offline metrics) and the alert rules together.
The registry may be unreachable; monitoring then still reports traffic and latency and says
why drift and quality are missing instead of failing.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd

from mlstack_core.artifacts import RETRAIN_FROM_TAG
from mlstack_core.errors import MlstackError
from mlstack_core.profile import ReferenceProfile
from mlstack_core.registry import AliasEvent, ModelRegistry, VersionInfo
from mlstack_core.settings import Settings
from mlstack_core.store import display_url
from mlstack_dashboard.alerts import (
    Alert,
    QualitySummary,
    drift_alert,
    latency_alert,
    quality_alert,
)
from mlstack_dashboard.drift import DriftResult, detect_drift
from mlstack_dashboard.health import ServiceHealth, mlflow_health, registry_is_remote
from mlstack_dashboard.queries import (
    LatencySummary,
    QualityBucket,
    StoreReader,
    TrafficBucket,
    WindowTotals,
)

MAX_BUCKETS = 240
TRAIN_HINT = "run `uv run invoke train --seed-sample` (or `uv run invoke up`)"
TRAFFIC_HINT = "run `uv run invoke simulate-traffic`"


SPAN_WIDTHS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 3 * 3600, 6 * 3600, 86400)
SPAN_BUCKETS = 60


def span_bucket_seconds(span_seconds: float, buckets: int = SPAN_BUCKETS) -> int:
    """A round bucket width following the data's span: seconds for a burst of a few
    seconds, minutes for an hour, an hour or so for a day (at most `buckets` buckets)."""
    for width in SPAN_WIDTHS:
        if span_seconds / width <= buckets:
            return width
    return 7 * 86400


def bucket_seconds(window_minutes: int, max_buckets: int = MAX_BUCKETS) -> int:
    """A round bucket width giving at most `max_buckets` points over the window."""
    for width in (60, 300, 900, 1800, 3600, 3 * 3600, 6 * 3600, 86400):
        if window_minutes * 60 / width <= max_buckets:
            return width
    return 7 * 86400


@dataclass(frozen=True)
class ChampionState:
    """The champion, or why there is none to show (empty registry, MLflow unreachable)."""

    info: VersionInfo | None
    problem: str | None = None
    hint: str | None = None

    @property
    def version(self) -> int | None:
        return self.info.version if self.info else None


@dataclass(frozen=True)
class DriftCheck:
    """A drift result, or the reason it could not run (no champion, too few predictions)."""

    result: DriftResult | None
    reason: str | None
    current: pd.DataFrame = field(repr=False)
    reference: pd.DataFrame = field(repr=False)


@dataclass(frozen=True)
class TrafficView:
    """Everything the Traffic page draws, for one window."""

    totals: WindowTotals
    buckets: list[TrafficBucket]
    bucket_seconds: int
    latency: LatencySummary
    labels: list[tuple[str, int]]
    values: list[tuple[float, float, int]]
    versions: list[tuple[str, int]]


@dataclass(frozen=True)
class MonitoringReport:
    """Everything `mlstack-monitor check` prints, and what its JSON and webhook carry."""

    window_minutes: int
    generated_at: datetime
    champion_version: int | None
    champion_problem: str | None
    totals: WindowTotals
    feedback: int
    latency: LatencySummary
    drift: DriftResult | None
    drift_reason: str | None
    quality: QualitySummary | None
    alerts: tuple[Alert, ...]
    store: str
    registry: str

    @property
    def healthy(self) -> bool:
        return not self.alerts

    def to_dict(self) -> dict[str, Any]:
        latency = {k: v for k, v in asdict(self.latency).items() if k != "histogram"}
        drift = None
        if self.drift is not None:
            drift = {
                "share": self.drift.share,
                "drifted": [f.name for f in self.drift.drifted],
                "rule": asdict(self.drift.rule),
                "features": [asdict(f) for f in self.drift.features],
                "skipped": list(self.drift.skipped),
                "reference_rows": self.drift.reference_rows,
                "current_rows": self.drift.current_rows,
            }
        return {
            "status": "healthy" if self.healthy else "alert",
            "store": self.store,
            "registry": self.registry,
            "window_minutes": self.window_minutes,
            "generated_at": self.generated_at.isoformat(),
            "champion_version": self.champion_version,
            "champion_problem": self.champion_problem,
            "predictions": self.totals.predictions,
            "feedback": self.feedback,
            "latency": latency,
            "drift": drift,
            "drift_reason": self.drift_reason,
            "quality": self.quality.model_dump() if self.quality else None,
            "alerts": [a.model_dump() for a in self.alerts],
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, default=str)


class Monitor:
    """Monitoring queries and rules over one store and one registry."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.reader = StoreReader(settings.store_url)
        self.registry = ModelRegistry(settings)
        self._profiles: dict[str, ReferenceProfile] = {}
        self._drift: dict[int, tuple[tuple[str, ...], DriftCheck]] = {}

    @staticmethod
    def since(window_minutes: int, now: datetime | None = None) -> datetime:
        return (now or datetime.now(UTC)) - timedelta(minutes=window_minutes)

    def registry_health(self) -> ServiceHealth | None:
        """For a remote registry, its server's health; None when the registry is a local file."""
        if not registry_is_remote(self.settings):
            return None
        return mlflow_health(self.settings)

    def champion(self) -> ChampionState:
        remote = self.registry_health()
        if remote is not None and not remote.ok:
            return ChampionState(
                None, f"MLflow registry at {remote.url} is unreachable", remote.detail
            )
        try:
            info = self.registry.champion()
        except MlstackError as exc:
            return ChampionState(None, exc.cause, exc.hint)
        except Exception as exc:  # MLflow raises many kinds when its store is broken
            return ChampionState(
                None,
                f"MLflow registry at {self.settings.mlflow_tracking_uri} failed: "
                f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}",
                "check MLSTACK_TRACKING_URI, or start MLflow with `uv run invoke mlflow`",
            )
        if info is None:
            return ChampionState(
                None, f"no champion model {self.settings.model_name!r}", TRAIN_HINT
            )
        return ChampionState(info)

    def versions(self) -> list[VersionInfo]:
        """Registered versions with their aliases, newest first."""
        return self.registry.versions()

    def history(self) -> list[AliasEvent]:
        return self.registry.history()

    def last_retrain(self) -> VersionInfo | None:
        """The newest version trained by a retrain (its tags say from what and the decision)."""
        retrained = [v for v in self.registry.versions() if RETRAIN_FROM_TAG in v.tags]
        return retrained[0] if retrained else None

    def run_metrics(self, info: VersionInfo) -> dict[str, float]:
        return self.registry.run_metrics(info.run_id) if info.run_id else {}

    def profile(self, info: VersionInfo) -> ReferenceProfile:
        """The version's reference profile, downloaded once per run."""
        if info.run_id not in self._profiles:
            self._profiles[info.run_id] = self.registry.profile(info)
        return self._profiles[info.run_id]

    def totals(self, window_minutes: int) -> WindowTotals:
        return self.reader.totals(self.since(window_minutes))

    def latency(self, window_minutes: int) -> LatencySummary:
        return self.reader.latency(self.since(window_minutes))

    @staticmethod
    def span_width(totals: WindowTotals) -> int:
        """The bucket width for the span of the window's data (not of the window itself)."""
        if totals.first_at is None or totals.last_at is None:
            return 1
        return span_bucket_seconds((totals.last_at - totals.first_at).total_seconds())

    def traffic(self, window_minutes: int, regression: bool) -> TrafficView:
        """The Traffic page's queries, run side by side (each waits on the database)."""
        since = self.since(window_minutes)
        reader = self.reader
        window_totals = reader.totals(since)
        width = self.span_width(window_totals)
        first, last = window_totals.first_at or since, window_totals.last_at
        with ThreadPoolExecutor(max_workers=5) as pool:
            buckets = pool.submit(reader.traffic, first, width, last)
            latency = pool.submit(reader.latency, since)
            labels = pool.submit(lambda: [] if regression else reader.label_counts(since))
            values = pool.submit(lambda: reader.value_histogram(since) if regression else [])
            versions = pool.submit(reader.versions, since)
            return TrafficView(
                totals=window_totals,
                buckets=buckets.result(),
                bucket_seconds=width,
                latency=latency.result(),
                labels=labels.result(),
                values=values.result(),
                versions=versions.result(),
            )

    def drift(self, window_minutes: int, champion: ChampionState) -> DriftCheck:
        """Drift of the newest requests in the window; recomputed only when they changed."""
        empty = pd.DataFrame()
        if champion.info is None:
            return DriftCheck(None, f"{champion.problem}: {champion.hint}", empty, empty)
        profile = self.profile(champion.info)
        rows = self.reader.recent_inputs(self.since(window_minutes), self.settings.drift_max_rows)
        signature = (
            champion.info.run_id,
            str(len(rows)),
            *(key for key, _ in rows[:1] + rows[-1:]),
        )
        cached = self._drift.get(window_minutes)
        if cached is not None and cached[0] == signature:
            return cached[1]
        reference = profile.sample_frame()
        current = pd.DataFrame.from_records([inputs for _, inputs in rows]) if rows else empty
        if len(rows) < self.settings.monitor_min_rows:
            check = DriftCheck(
                None,
                f"{len(rows)} predictions in the last {window_minutes} minutes; drift needs "
                f"at least {self.settings.monitor_min_rows}: {TRAFFIC_HINT}",
                current,
                reference,
            )
        else:
            result = detect_drift(reference, current, profile.spec, self.settings)
            check = DriftCheck(result, None, current, reference)
        self._drift[window_minutes] = (signature, check)
        return check

    def quality_buckets(self, window_minutes: int) -> list[QualityBucket]:
        """Live quality per bucket, the buckets following the span of the window's data."""
        since = self.since(window_minutes)
        return self.reader.quality(since, self.span_width(self.reader.totals(since)))

    def quality(
        self, buckets: list[QualityBucket], champion: ChampionState
    ) -> QualitySummary | None:
        """Live accuracy (classifiers) or MAE (regressors) next to the offline score."""
        labelled = sum(b.labelled for b in buckets)
        if champion.info is None:
            return None
        regression = self.profile(champion.info).spec.task == "regression"
        offline = self.run_metrics(champion.info)
        if regression:
            valued = sum(b.valued for b in buckets)
            live = sum(b.abs_error_sum for b in buckets) / valued if valued else None
            return QualitySummary(
                metric="mae", live=live, reference=offline.get("mae"), labelled=labelled
            )
        live = sum(b.correct for b in buckets) / labelled if labelled else None
        return QualitySummary(
            metric="accuracy", live=live, reference=offline.get("accuracy"), labelled=labelled
        )

    def report(
        self,
        window_minutes: int | None = None,
        champion: ChampionState | None = None,
        *,
        with_drift: bool = True,
    ) -> MonitoringReport:
        """The full check: totals, latency, drift, quality and which alerts fire.

        Without drift (the Overview's first, fast pass) only the SQL aggregates run.
        """
        window = window_minutes or self.settings.monitor_window_minutes
        champion = champion or self.champion()
        # The SQL aggregates wait on the database (the driver releases the GIL) while Evidently
        # computes drift, so running them side by side nearly halves a large window's report.
        with ThreadPoolExecutor(max_workers=4) as pool:
            totals_job = pool.submit(self.totals, window)
            latency_job = pool.submit(self.latency, window)
            buckets_job = pool.submit(self.quality_buckets, window)
            if with_drift:
                drift = self.drift(window, champion)
            else:
                empty = pd.DataFrame()
                drift = DriftCheck(None, "not checked in this pass", empty, empty)
            totals, latency, buckets = (
                totals_job.result(),
                latency_job.result(),
                buckets_job.result(),
            )
        quality = self.quality(buckets, champion)
        fired = (
            drift_alert(drift.result, self.settings),
            latency_alert(latency, self.settings),
            quality_alert(quality, self.settings),
        )
        return MonitoringReport(
            window_minutes=window,
            generated_at=datetime.now(UTC),
            champion_version=champion.version,
            champion_problem=champion.problem,
            totals=totals,
            feedback=sum(b.labelled for b in buckets),
            latency=latency,
            drift=drift.result,
            drift_reason=drift.reason,
            quality=quality,
            alerts=tuple(a for a in fired if a is not None),
            store=display_url(self.settings.store_url),
            registry=display_url(self.settings.mlflow_tracking_uri),
        )

    def close(self) -> None:
        self.reader.dispose()

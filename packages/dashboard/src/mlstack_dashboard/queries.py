"""Read-side queries over the prediction store: every figure is aggregated in SQL.

Pages and the CLI never load the whole table: counts, time buckets, latency histograms and
accuracy come back from GROUP BY queries over the window, and only drift reads raw inputs,
a bounded sample of the most recent rows (through the `created_at` index).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    and_,
    case,
    cast,
    extract,
    func,
    inspect,
    literal,
    select,
)

from mlstack_core.store import Feedback, Prediction, make_engine

log = logging.getLogger(__name__)

TOP_LABELS = 50


@dataclass(frozen=True)
class WindowTotals:
    """How much happened in the window, and overall."""

    predictions: int
    all_predictions: int
    first_at: datetime | None
    last_at: datetime | None


@dataclass(frozen=True)
class TrafficBucket:
    start: datetime
    requests: int
    mean_latency_ms: float
    max_latency_ms: float


@dataclass(frozen=True)
class LatencySummary:
    """Percentiles from a SQL histogram with 0.1 ms bins (lower bin edges are reported)."""

    count: int
    mean_ms: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    histogram: tuple[tuple[float, int], ...]

    @classmethod
    def from_histogram(cls, bins: Sequence[tuple[float, int]], total_ms: float) -> LatencySummary:
        ordered = tuple(sorted(bins))
        count = sum(n for _, n in ordered)

        def quantile(q: float) -> float:
            rank = q * count
            seen = 0
            for edge, n in ordered:
                seen += n
                if seen >= rank:
                    return edge
            return ordered[-1][0] if ordered else 0.0

        return cls(
            count=count,
            mean_ms=total_ms / count if count else 0.0,
            p50_ms=quantile(0.50),
            p95_ms=quantile(0.95),
            p99_ms=quantile(0.99),
            histogram=ordered,
        )


@dataclass(frozen=True)
class QualityBucket:
    """Predictions made in one time bucket that have ground truth."""

    start: datetime
    labelled: int
    correct: int
    abs_error_sum: float
    valued: int

    @property
    def accuracy(self) -> float:
        return self.correct / self.labelled if self.labelled else 0.0

    @property
    def mae(self) -> float | None:
        return self.abs_error_sum / self.valued if self.valued else None


def _as_utc(value: Any) -> datetime | None:
    """SQLite hands back naive datetimes (stored as UTC); make them aware."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if not isinstance(value, datetime):
        raise TypeError(f"expected a datetime, got {type(value).__name__}")
    return value if value.tzinfo else value.replace(tzinfo=UTC)


class StoreReader:
    """Aggregating read queries over the prediction store; portable to SQLite and PostgreSQL."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self.dialect = self.engine.dialect.name
        self._ready = False

    def has_tables(self) -> bool:
        """False until serving has written (or migrated) the store."""
        if self._ready:
            return True
        names = set(inspect(self.engine).get_table_names())
        self._ready = {Prediction.__tablename__, Feedback.__tablename__} <= names
        return self._ready

    def _floor(self, value: Any) -> ColumnElement[int]:
        """Round down to an integer (SQLite's CAST truncates; PostgreSQL's rounds)."""
        if self.dialect == "sqlite":
            return cast(value, Integer)
        return cast(func.floor(value), Integer)

    def _epoch(self, column: Any) -> ColumnElement[int]:
        if self.dialect == "sqlite":  # julianday parses faster than strftime('%s')
            return self._floor((func.julianday(column) - 2440587.5) * 86400 + 1e-4)
        return self._floor(extract("epoch", column))

    def _bucket(self, column: Any, seconds: int) -> ColumnElement[int]:
        width = literal(max(int(seconds), 1), Integer)
        return self._floor(self._epoch(column) / width) * width

    def totals(self, since: datetime) -> WindowTotals:
        if not self.has_tables():
            return WindowTotals(0, 0, None, None)
        in_window = select(
            func.count(), func.min(Prediction.created_at), func.max(Prediction.created_at)
        ).where(Prediction.created_at >= since)
        overall = select(func.count()).select_from(Prediction)
        with self.engine.connect() as conn:
            count, first, last = conn.execute(in_window).one()
            total = conn.execute(overall).scalar_one()
        return WindowTotals(int(count), int(total), _as_utc(first), _as_utc(last))

    def versions(self, since: datetime) -> list[tuple[str, int]]:
        """Requests per served model version in the window, most requested first."""
        if not self.has_tables():
            return []
        # Grouping on an expression keeps planners on the time index instead of walking the
        # whole model_version index (0.25 s at 1M rows, whatever the window).
        version = func.coalesce(Prediction.model_version, "").label("version")
        n = func.count().label("n")
        query = (
            select(version, n)
            .where(Prediction.created_at >= since)
            .group_by(version)
            .order_by(n.desc())
        )
        with self.engine.connect() as conn:
            return [(str(v), int(c)) for v, c in conn.execute(query)]

    def traffic(
        self, since: datetime, bucket_seconds: int, until: datetime | None = None
    ) -> list[TrafficBucket]:
        """Requests and latency per time bucket: one index range scan per bucket, which
        beats a GROUP BY over a computed bucket (no sort of the whole window)."""
        if not self.has_tables():
            return []
        width = max(int(bucket_seconds), 1)
        end = until or datetime.now(UTC)
        start = int(since.timestamp()) // width * width
        query = select(
            func.count(), func.avg(Prediction.latency_ms), func.max(Prediction.latency_ms)
        )
        buckets = []
        with self.engine.connect() as conn:
            for edge in range(start, int(end.timestamp()) + 1, width):
                low = max(datetime.fromtimestamp(edge, tz=UTC), since)
                high = datetime.fromtimestamp(edge + width, tz=UTC)
                n, mean, top = conn.execute(
                    query.where(Prediction.created_at >= low, Prediction.created_at < high)
                ).one()
                if n:
                    buckets.append(
                        TrafficBucket(
                            start=datetime.fromtimestamp(edge, tz=UTC),
                            requests=int(n),
                            mean_latency_ms=float(mean or 0.0),
                            max_latency_ms=float(top or 0.0),
                        )
                    )
        return buckets

    def latency(self, since: datetime) -> LatencySummary:
        if not self.has_tables():
            return LatencySummary.from_histogram([], 0.0)
        edge = self._floor(Prediction.latency_ms * 10).label("edge")
        query = (
            select(edge, func.count(), func.sum(Prediction.latency_ms))
            .where(Prediction.created_at >= since)
            .group_by(edge)
        )
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        total = sum(float(s or 0.0) for _, _, s in rows)
        return LatencySummary.from_histogram([(int(e) / 10, int(n)) for e, n, _ in rows], total)

    def label_counts(self, since: datetime, limit: int = TOP_LABELS) -> list[tuple[str, int]]:
        """Predicted labels and how often each was predicted (classifiers)."""
        if not self.has_tables():
            return []
        n = func.count().label("n")
        query = (
            select(Prediction.prediction, n)
            .where(Prediction.created_at >= since)
            .group_by(Prediction.prediction)
            .order_by(n.desc())
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return [(str(label), int(c)) for label, c in conn.execute(query)]

    def value_histogram(self, since: datetime, bins: int = 30) -> list[tuple[float, float, int]]:
        """Equal-width histogram of numeric predictions (regressors): (low, high, count)."""
        if not self.has_tables():
            return []
        recent = Prediction.created_at >= since
        value = Prediction.prediction_value
        with self.engine.connect() as conn:
            low, high = conn.execute(select(func.min(value), func.max(value)).where(recent)).one()
            if low is None or high is None:
                return []
            width = (float(high) - float(low)) / bins or 1.0
            clamp = func.min if self.dialect == "sqlite" else func.least
            index = clamp(self._floor((value - float(low)) / width), bins - 1).label("i")
            rows = conn.execute(
                select(index, func.count())
                .where(and_(recent, value.is_not(None)))
                .group_by(index)
                .order_by(index)
            ).all()
        return [
            (float(low) + int(i) * width, float(low) + (int(i) + 1) * width, int(c))
            for i, c in rows
        ]

    def recent_inputs(self, since: datetime, limit: int) -> list[tuple[str, dict[str, Any]]]:
        """Ids and inputs of the newest `limit` requests in the window (a sample for drift)."""
        if not self.has_tables():
            return []
        query = (
            select(Prediction.id, Prediction.inputs)
            .where(Prediction.created_at >= since)
            .order_by(Prediction.created_at.desc())
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return [(str(key), dict(inputs or {})) for key, inputs in conn.execute(query)]

    def quality(self, since: datetime, bucket_seconds: int) -> list[QualityBucket]:
        """Ground truth against predictions, per bucket of prediction time."""
        if not self.has_tables():
            return []
        bucket = self._bucket(Prediction.created_at, bucket_seconds).label("bucket")
        hit = case((Prediction.prediction == Feedback.actual, 1), else_=0)
        error = func.abs(Prediction.prediction_value - Feedback.actual_value)
        valued = case((error.is_not(None), 1), else_=0)
        query = (
            select(
                bucket,
                func.count(),
                func.sum(hit),
                func.coalesce(func.sum(error), 0.0),
                func.sum(valued),
            )
            .select_from(Feedback)
            .join(Prediction, Prediction.id == Feedback.prediction_id)
            # Feedback comes after its prediction, so the window also bounds received_at,
            # which lets the feedback index skip older ground truth.
            .where(Prediction.created_at >= since, Feedback.received_at >= since)
            .group_by(bucket)
            .order_by(bucket)
        )
        with self.engine.connect() as conn:
            return [
                QualityBucket(
                    start=datetime.fromtimestamp(int(b), tz=UTC),
                    labelled=int(n),
                    correct=int(c or 0),
                    abs_error_sum=float(e or 0.0),
                    valued=int(v or 0),
                )
                for b, n, c, e, v in conn.execute(query)
            ]

    def dispose(self) -> None:
        self.engine.dispose()

"""Read-side queries over the prediction store: every figure is aggregated in SQL.

Pages and the CLI never load the whole table. Counts, time buckets, latency histograms, labels
and accuracy come from the store's rollups (per minute; latency per hour) for the whole
buckets of the window, and from the raw rows only for the part of the window before its first
whole bucket (under a minute, or under an hour for latency): a page's cost follows the length
of the window, not the number of predictions in it. Drift reads raw inputs, a bounded sample of
the most recent rows (through the `created_at` index); regression value histograms read the
raw values of the window.
"""

from __future__ import annotations

import logging
from collections import Counter
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

from mlstack_core.store import (
    HOUR,
    MINUTE,
    ROLLUPS,
    Feedback,
    LabelRollup,
    LatencyRollup,
    Prediction,
    PredictionStore,
    QualityRollup,
    TrafficRollup,
    make_engine,
)

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
        if {Prediction.__tablename__, Feedback.__tablename__} <= names:
            if not {t.__tablename__ for t in ROLLUPS} <= names:
                PredictionStore(self.url).migrate()  # an older store: what serving does at start
            self._ready = True
        return self._ready

    @staticmethod
    def _split(since: datetime, width: int) -> tuple[datetime, int]:
        """The first whole `width` bucket at or after `since`: raw rows cover the window up to
        that moment, rollups (keyed by bucket start, epoch seconds) cover the rest."""
        start = -(-int(since.timestamp()) // width) * width
        if since.timestamp() > start:  # sub-second part of `since`
            start += width
        return datetime.fromtimestamp(start, tz=UTC), start

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
        edge, start = self._split(since, MINUTE)
        head = select(
            func.count(), func.min(Prediction.created_at), func.max(Prediction.created_at)
        ).where(Prediction.created_at >= since, Prediction.created_at < edge)
        rolled = select(
            func.sum(TrafficRollup.n),
            func.min(TrafficRollup.first_at),
            func.max(TrafficRollup.last_at),
        ).where(TrafficRollup.minute >= start)
        overall = select(func.sum(TrafficRollup.n))
        with self.engine.connect() as conn:
            parts = [conn.execute(head).one(), conn.execute(rolled).one()]
            total = conn.execute(overall).scalar_one()
        firsts = [_as_utc(p[1]) for p in parts if p[1] is not None]
        lasts = [_as_utc(p[2]) for p in parts if p[2] is not None]
        return WindowTotals(
            sum(int(p[0] or 0) for p in parts),
            int(total or 0),
            min(firsts) if firsts else None,  # type: ignore[type-var]
            max(lasts) if lasts else None,  # type: ignore[type-var]
        )

    def versions(self, since: datetime) -> list[tuple[str, int]]:
        """Requests per served model version in the window, most requested first."""
        if not self.has_tables():
            return []
        edge, start = self._split(since, MINUTE)
        version = func.coalesce(Prediction.model_version, "")
        head = (
            select(version, func.count())
            .where(Prediction.created_at >= since, Prediction.created_at < edge)
            .group_by(version)
        )
        rolled = (
            select(TrafficRollup.model_version, func.sum(TrafficRollup.n))
            .where(TrafficRollup.minute >= start)
            .group_by(TrafficRollup.model_version)
        )
        counts: Counter[str] = Counter()
        with self.engine.connect() as conn:
            for query in (head, rolled):
                for v, n in conn.execute(query):
                    counts[str(v)] += int(n)
        return counts.most_common()

    def traffic(
        self, since: datetime, bucket_seconds: int, until: datetime | None = None
    ) -> list[TrafficBucket]:
        """Requests and latency per time bucket (bucket widths are whole minutes)."""
        if not self.has_tables():
            return []
        width = max(int(bucket_seconds), 1)
        end = until or datetime.now(UTC)
        stop = int(end.timestamp()) // width * width + width
        if width < MINUTE:  # a burst: finer than the rollups, and few rows by construction
            return self._raw_traffic(since, width, datetime.fromtimestamp(stop, tz=UTC))
        edge, start = self._split(since, MINUTE)
        head = select(
            func.count(), func.sum(Prediction.latency_ms), func.max(Prediction.latency_ms)
        ).where(Prediction.created_at >= since, Prediction.created_at < edge)
        bucket = (TrafficRollup.minute // literal(width, Integer) * literal(width, Integer)).label(
            "bucket"
        )
        rolled = (
            select(
                bucket,
                func.sum(TrafficRollup.n),
                func.sum(TrafficRollup.latency_sum),
                func.max(TrafficRollup.latency_max),
            )
            .where(TrafficRollup.minute >= start, TrafficRollup.minute < stop)
            .group_by(bucket)
        )
        totals: dict[int, list[float]] = {}

        def merge(at: int, n: int, latency_sum: float, latency_max: float) -> None:
            cell = totals.setdefault(at, [0, 0.0, latency_max])
            cell[0] += n
            cell[1] += latency_sum
            cell[2] = max(cell[2], latency_max)

        with self.engine.connect() as conn:
            n, latency_sum, latency_max = conn.execute(head).one()
            if n and int(since.timestamp()) // width * width < stop:
                merge(int(since.timestamp()) // width * width, int(n), latency_sum, latency_max)
            for at, n, latency_sum, latency_max in conn.execute(rolled):
                merge(int(at), int(n), float(latency_sum), float(latency_max))
        return [
            TrafficBucket(
                start=datetime.fromtimestamp(at, tz=UTC),
                requests=int(n),
                mean_latency_ms=latency_sum / n,
                max_latency_ms=latency_max,
            )
            for at, (n, latency_sum, latency_max) in sorted(totals.items())
        ]

    def latency(self, since: datetime) -> LatencySummary:
        if not self.has_tables():
            return LatencySummary.from_histogram([], 0.0)
        edge, start = self._split(since, HOUR)
        raw_bin = self._floor(Prediction.latency_ms * 10).label("edge")
        head = (
            select(raw_bin, func.count(), func.sum(Prediction.latency_ms))
            .where(Prediction.created_at >= since, Prediction.created_at < edge)
            .group_by(raw_bin)
        )
        rolled = (
            select(
                LatencyRollup.bin, func.sum(LatencyRollup.n), func.sum(LatencyRollup.latency_sum)
            )
            .where(LatencyRollup.hour >= start)
            .group_by(LatencyRollup.bin)
        )
        counts: Counter[int] = Counter()
        total = 0.0
        with self.engine.connect() as conn:
            for query in (head, rolled):
                for b, n, latency_sum in conn.execute(query):
                    counts[int(b)] += int(n)
                    total += float(latency_sum or 0.0)
        return LatencySummary.from_histogram([(b / 10, n) for b, n in counts.items()], total)

    def label_counts(self, since: datetime, limit: int = TOP_LABELS) -> list[tuple[str, int]]:
        """Predicted labels and how often each was predicted (classifiers)."""
        if not self.has_tables():
            return []
        edge, start = self._split(since, MINUTE)
        head = (
            select(Prediction.prediction, func.count())
            .where(Prediction.created_at >= since, Prediction.created_at < edge)
            .group_by(Prediction.prediction)
        )
        rolled = (
            select(LabelRollup.label, func.sum(LabelRollup.n))
            .where(LabelRollup.minute >= start)
            .group_by(LabelRollup.label)
        )
        counts: Counter[str] = Counter()
        with self.engine.connect() as conn:
            for query in (head, rolled):
                for label, n in conn.execute(query):
                    counts[str(label)] += int(n)
        return counts.most_common(limit)

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

    def _raw_traffic(self, since: datetime, width: int, until: datetime) -> list[TrafficBucket]:
        """Traffic per bucket narrower than a minute, from the rows themselves."""
        bucket = self._bucket(Prediction.created_at, width).label("bucket")
        query = (
            select(
                bucket,
                func.count(),
                func.sum(Prediction.latency_ms),
                func.max(Prediction.latency_ms),
            )
            .where(Prediction.created_at >= since, Prediction.created_at < until)
            .group_by(bucket)
            .order_by(bucket)
        )
        with self.engine.connect() as conn:
            return [
                TrafficBucket(
                    start=datetime.fromtimestamp(int(at), tz=UTC),
                    requests=int(n),
                    mean_latency_ms=float(latency_sum) / int(n),
                    max_latency_ms=float(latency_max),
                )
                for at, n, latency_sum, latency_max in conn.execute(query)
            ]

    def _labelled(self, *columns: Any) -> Any:
        """Ground truth joined to its prediction: count, hits, absolute error, valued rows."""
        hit = case((Prediction.prediction == Feedback.actual, 1), else_=0)
        error = func.abs(Prediction.prediction_value - Feedback.actual_value)
        valued = case((error.is_not(None), 1), else_=0)
        return (
            select(
                *columns,
                func.count(),
                func.sum(hit),
                func.coalesce(func.sum(error), 0.0),
                func.sum(valued),
            )
            .select_from(Feedback)
            .join(Prediction, Prediction.id == Feedback.prediction_id)
        )

    def quality(self, since: datetime, bucket_seconds: int) -> list[QualityBucket]:
        """Ground truth against predictions, per bucket of prediction time."""
        if not self.has_tables():
            return []
        width = max(int(bucket_seconds), 1)
        if width < MINUTE:  # a burst: finer than the rollups, and few rows by construction
            bucket = self._bucket(Prediction.created_at, width).label("bucket")
            query = self._labelled(bucket).where(Prediction.created_at >= since).group_by(bucket)
            with self.engine.connect() as conn:
                return _quality_buckets([tuple(row) for row in conn.execute(query)])
        edge, start = self._split(since, MINUTE)
        head = self._labelled().where(Prediction.created_at >= since, Prediction.created_at < edge)
        bucket = (QualityRollup.minute // literal(width, Integer) * literal(width, Integer)).label(
            "bucket"
        )
        rolled = (
            select(
                bucket,
                func.sum(QualityRollup.labelled),
                func.sum(QualityRollup.correct),
                func.sum(QualityRollup.abs_error_sum),
                func.sum(QualityRollup.valued),
            )
            .where(QualityRollup.minute >= start)
            .group_by(bucket)
        )
        with self.engine.connect() as conn:
            rows = [(int(since.timestamp()) // width * width, *conn.execute(head).one())]
            rows += [tuple(row) for row in conn.execute(rolled)]
        return _quality_buckets(rows)

    def dispose(self) -> None:
        self.engine.dispose()


def _quality_buckets(rows: list[tuple[Any, ...]]) -> list[QualityBucket]:
    """(bucket start, labelled, correct, error sum, valued) rows summed per bucket, in order."""
    totals: dict[int, list[float]] = {}
    for at, n, correct, error_sum, valued_n in rows:
        cell = totals.setdefault(int(at), [0, 0, 0.0, 0])
        for i, value in enumerate((n, correct, error_sum, valued_n)):
            cell[i] += value or 0
    return [
        QualityBucket(
            start=datetime.fromtimestamp(at, tz=UTC),
            labelled=int(n),
            correct=int(correct),
            abs_error_sum=float(error_sum),
            valued=int(valued_n),
        )
        for at, (n, correct, error_sum, valued_n) in sorted(totals.items())
        if n > 0
    ]

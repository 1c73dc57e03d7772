"""The monitoring queries give the same answers on SQLite (local) and PostgreSQL (production)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select

from mlstack_core.store import Base, Feedback, Prediction, PredictionRecord, PredictionStore
from mlstack_core.testing.postgres import postgres_url
from mlstack_dashboard.queries import StoreReader

__all__ = ["postgres_url"]
NOW = datetime.now(UTC).replace(microsecond=0)


def records() -> list[PredictionRecord]:
    """300 predictions over the last two hours, two model versions, varied latency."""
    rng = np.random.default_rng(3)
    made = []
    for i in range(300):
        label = str(rng.choice(["no", "yes"], p=[0.7, 0.3]))
        made.append(
            PredictionRecord(
                model_version="1" if i < 200 else "2",
                inputs={"age": float(rng.normal(40, 10)), "plan": "basic"},
                prediction=label,
                prediction_value=float(rng.random()),
                latency_ms=float(rng.gamma(2.0, 5.0)),
                created_at=NOW - timedelta(seconds=int(rng.integers(0, 7200))),
            )
        )
    return made


@pytest.fixture(params=["sqlite", "postgresql"])
def reader(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StoreReader]:
    url = (
        f"sqlite:///{tmp_path / 'p.db'}"
        if request.param == "sqlite"
        else request.getfixturevalue("postgres_url")
    )
    store = PredictionStore(url)
    store.migrate()
    written = records()
    store.write(written)
    for record in written[::4]:
        store.add_feedback(record.id, "yes", None)
    reader = StoreReader(url)
    yield reader
    reader.dispose()
    Base.metadata.drop_all(store.engine)
    store.dispose()


def expected() -> dict[str, object]:
    written = records()
    since = NOW - timedelta(hours=1)
    recent = [r for r in written if r.created_at >= since]
    labelled = [r for r in written[::4] if r.created_at >= since]
    return {
        "total": len(recent),
        "versions": sorted(
            (v, sum(r.model_version == v for r in recent))
            for v in {r.model_version for r in recent}
        ),
        "labels": sorted(
            (label, sum(r.prediction == label for r in recent))
            for label in {r.prediction for r in recent}
        ),
        "labelled": len(labelled),
        "correct": sum(r.prediction == "yes" for r in labelled),
        "max_latency": max(r.latency_ms for r in recent),
    }


def test_window_aggregates_match_the_data(reader: StoreReader) -> None:
    since = NOW - timedelta(hours=1)
    want = expected()
    assert reader.totals(since).predictions == want["total"]
    assert reader.totals(since).all_predictions == 300
    assert sorted(reader.versions(since)) == want["versions"]
    assert sorted(reader.label_counts(since)) == want["labels"]
    buckets = reader.traffic(since, 600, until=NOW)
    assert sum(b.requests for b in buckets) == want["total"]
    assert max(b.max_latency_ms for b in buckets if b.requests) == pytest.approx(
        want["max_latency"]
    )
    quality = reader.quality(since, 3600)
    assert sum(q.labelled for q in quality) == want["labelled"]
    assert sum(q.correct for q in quality) == want["correct"]
    latency = reader.latency(since)
    assert latency.count == want["total"]
    assert 0 < latency.p50_ms <= latency.p99_ms
    assert len(reader.recent_inputs(since, 50)) == 50


def _bucket(at: datetime, width: int) -> int:
    return int(at.timestamp()) // width * width


@pytest.mark.parametrize(
    "back",
    [
        timedelta(minutes=61, seconds=30.25),  # head under a minute, rollups for the rest
        timedelta(minutes=95, seconds=17),  # a head spanning two hours of the latency rollup
        timedelta(hours=3),  # the whole store, aligned or not to the minute
    ],
    ids=["61.5min", "95min", "3h"],
)
def test_rollups_and_raw_rows_together_give_the_exact_window(
    reader: StoreReader, back: timedelta
) -> None:
    """Every figure for a window that starts mid-minute and mid-hour equals the same figure
    computed from the written records themselves."""
    since = NOW - back
    written = records()
    recent = [r for r in written if r.created_at >= since]
    labelled = {r.id for r in written[::4]}

    totals = reader.totals(since)
    assert totals.predictions == len(recent)
    assert totals.first_at == min(r.created_at for r in recent)
    assert totals.last_at == max(r.created_at for r in recent)
    assert reader.versions(since) == Counter(r.model_version for r in recent).most_common()
    assert dict(reader.label_counts(since)) == Counter(r.prediction for r in recent)

    width = 300
    buckets = {b.start: b for b in reader.traffic(since, width, until=NOW)}
    for start in {_bucket(r.created_at, width) for r in recent}:
        inside = [r.latency_ms for r in recent if _bucket(r.created_at, width) == start]
        got = buckets.pop(datetime.fromtimestamp(start, tz=UTC))
        assert got.requests == len(inside)
        assert got.mean_latency_ms == pytest.approx(sum(inside) / len(inside))
        assert got.max_latency_ms == max(inside)
    assert not buckets

    latency = reader.latency(since)
    bins = Counter(int(r.latency_ms * 10) / 10 for r in recent)
    assert dict(latency.histogram) == bins
    assert latency.mean_ms == pytest.approx(sum(r.latency_ms for r in recent) / len(recent))

    quality = {q.start: q for q in reader.quality(since, width)}
    for start in {_bucket(r.created_at, width) for r in recent if r.id in labelled}:
        inside = [r for r in recent if r.id in labelled and _bucket(r.created_at, width) == start]
        got = quality.pop(datetime.fromtimestamp(start, tz=UTC))
        assert got.labelled == len(inside)
        assert got.correct == sum(r.prediction == "yes" for r in inside)
    assert not quality


def test_feedback_given_twice_counts_once_with_the_last_answer(reader: StoreReader) -> None:
    store = PredictionStore(reader.url)
    since = NOW - timedelta(hours=3)
    with store.engine.connect() as conn:
        right = conn.execute(
            select(Prediction.id)
            .join(Feedback, Feedback.prediction_id == Prediction.id)
            .where(Prediction.prediction == "yes")
        ).scalar()
    before = sum(q.correct for q in reader.quality(since, 3600))
    assert store.add_feedback(str(right), "no", None)  # answered "yes" before: now wrong
    after = reader.quality(since, 3600)
    assert sum(q.correct for q in after) == before - 1
    assert sum(q.labelled for q in after) == len(records()[::4])
    store.dispose()


def test_a_store_without_rollups_is_migrated_by_the_reader(tmp_path: Path) -> None:
    """A v2 store (rows, no rollup tables): the reader builds them and answers exactly."""
    url = f"sqlite:///{tmp_path / 'old.db'}"
    store = PredictionStore(url)
    store.migrate()
    store.write(records())
    with store.engine.begin() as conn:
        for table in ("rollup_traffic", "rollup_labels", "rollup_latency", "rollup_quality"):
            conn.exec_driver_sql(f"DROP TABLE {table}")
        conn.exec_driver_sql("DELETE FROM mlstack_schema")
        conn.exec_driver_sql("INSERT INTO mlstack_schema VALUES (2, CURRENT_TIMESTAMP)")
    store.dispose()
    reader = StoreReader(url)
    since = NOW - timedelta(hours=1)
    assert reader.totals(since).predictions == expected()["total"]
    assert sorted(reader.label_counts(since)) == expected()["labels"]
    reader.dispose()

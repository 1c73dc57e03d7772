"""The monitoring queries give the same answers on SQLite (local) and PostgreSQL (production)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from mlstack_core.store import Base, PredictionRecord, PredictionStore
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

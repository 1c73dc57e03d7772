"""The prediction store on a real SQLite database (WAL), written from several threads."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import inspect, text

from mlstack_core.errors import ConfigError
from mlstack_core.store import SCHEMA_VERSION, Base, PredictionRecord, PredictionStore


def record(version: str = "1", **kw: Any) -> PredictionRecord:
    return PredictionRecord(
        **{
            "model_version": version,
            "inputs": {"a": 1.0, "c": "p"},
            "prediction": "yes",
            "latency_ms": 1.5,
            "probabilities": {"no": 0.2, "yes": 0.8},
            **kw,
        }
    )


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[PredictionStore]:
    """The same tests on local SQLite (WAL) and on a real PostgreSQL server (production)."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'p.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
    store = PredictionStore(url)
    store.migrate()
    yield store
    Base.metadata.drop_all(store.engine)
    store.dispose()


def test_migrate_is_idempotent(store: PredictionStore) -> None:
    assert store.migrate() == SCHEMA_VERSION
    assert store.migrate() == SCHEMA_VERSION


def test_a_v1_store_gets_the_monitoring_index_and_rollups(store: PredictionStore) -> None:
    with store.engine.begin() as conn:
        conn.execute(text("DROP INDEX ix_predictions_monitoring_window"))
        conn.execute(text("DELETE FROM mlstack_schema"))
        conn.execute(text("INSERT INTO mlstack_schema VALUES (1, CURRENT_TIMESTAMP)"))
    assert store.migrate() == SCHEMA_VERSION == 3
    names = {ix["name"] for ix in inspect(store.engine).get_indexes("predictions")}
    assert "ix_predictions_monitoring_window" in names


def test_sqlite_uses_wal(tmp_path: Path) -> None:
    store = PredictionStore(f"sqlite:///{tmp_path / 'p.db'}")
    store.migrate()
    with store.engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"


def test_concurrent_batches_are_all_written(store: PredictionStore) -> None:
    batches = [[record() for _ in range(5)] for _ in range(40)]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(store.write, batches))
    assert store.count() == 200
    assert store.ids() == {r.id for batch in batches for r in batch}


def test_feedback_needs_a_known_prediction(store: PredictionStore) -> None:
    first = record()
    store.write([first])
    assert store.add_feedback(first.id, "no", None)
    assert store.add_feedback(first.id, "yes", None)
    assert not store.add_feedback("not-an-id", "yes", None)
    with store.engine.connect() as conn:
        assert conn.execute(text("SELECT actual FROM feedback")).scalars().all() == ["yes"]


def test_newer_schema_is_refused(store: PredictionStore) -> None:
    with store.engine.begin() as conn:
        conn.execute(text("INSERT INTO mlstack_schema VALUES (99, CURRENT_TIMESTAMP)"))

    with pytest.raises(ConfigError, match="newer than this code"):
        store.migrate()


def test_unknown_database_url_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="MLSTACK_PREDICTION_STORE_URL"):
        PredictionStore("nosuchdb://x")


ROLLUP_QUERIES = {
    "traffic": "SELECT minute, model_version, n, latency_sum, latency_max FROM rollup_traffic",
    "labels": "SELECT minute, label, n FROM rollup_labels",
    "latency": "SELECT hour, bin, n, latency_sum FROM rollup_latency",
    "quality": "SELECT minute, labelled, correct, abs_error_sum, valued FROM rollup_quality",
}
Rows = dict[str, set[tuple[object, ...]]]


def _rollup_rows(store: PredictionStore) -> Rows:
    with store.engine.connect() as conn:
        return {
            name: {
                tuple(round(v, 6) if isinstance(v, float) else v for v in row)
                for row in conn.execute(text(query))
            }
            for name, query in ROLLUP_QUERIES.items()
        }


def _expected_rollups(
    made: list[PredictionRecord], truth: dict[str, tuple[str, float]]
) -> dict[str, set[tuple[object, ...]]]:
    """The rollups computed here from the records, independently of the store's code."""
    traffic: dict[tuple[int, str], list[float]] = {}
    labels: dict[tuple[int, str], int] = {}
    latency: dict[tuple[int, int], list[float]] = {}
    quality: dict[int, list[float]] = {}
    for r in made:
        minute = int(r.created_at.timestamp()) // 60 * 60
        t = traffic.setdefault((minute, r.model_version), [0, 0.0, 0.0])
        t[0] += 1
        t[1] += r.latency_ms
        t[2] = max(t[2], r.latency_ms)
        labels[(minute, r.prediction)] = labels.get((minute, r.prediction), 0) + 1
        h = latency.setdefault((minute // 3600 * 3600, int(r.latency_ms * 10)), [0, 0.0])
        h[0] += 1
        h[1] += r.latency_ms
        if r.id in truth:
            actual, value = truth[r.id]
            q = quality.setdefault(minute, [0, 0, 0.0, 0])
            q[0] += 1
            q[1] += int(actual == r.prediction)
            q[2] += abs(value - (r.prediction_value or 0.0))
            q[3] += 1
    return {
        "traffic": {(m, v, n, round(s, 6), round(x, 6)) for (m, v), (n, s, x) in traffic.items()},
        "labels": {(m, label, n) for (m, label), n in labels.items()},
        "latency": {(h, b, n, round(s, 6)) for (h, b), (n, s) in latency.items()},
        "quality": {(m, n, c, round(e, 6), v) for m, (n, c, e, v) in quality.items()},
    }


def test_rollups_follow_every_write_and_feedback_and_can_be_rebuilt(store: PredictionStore) -> None:
    """Batches landing in the same minutes merge; a second answer replaces the first; a
    rebuild from the raw rows (what migrating to v3 does) gives the same tables."""
    start = datetime(2026, 1, 1, 11, 58, 30, tzinfo=UTC)
    made = [
        record(
            version=str(1 + i % 2),
            prediction=("yes", "no", "maybe")[i % 3],
            latency_ms=0.37 * (i % 17) + 1,
            prediction_value=0.1 * i,
            created_at=start + timedelta(seconds=7 * i),
        )
        for i in range(200)
    ]
    for batch in range(0, 200, 9):
        store.write(made[batch : batch + 9])
    truth: dict[str, tuple[str, float]] = {}
    for r in made[::3]:
        assert store.add_feedback(r.id, "no", 1.0)
        truth[r.id] = ("no", 1.0)
    for r in made[::6]:  # answered again: only the last answer counts
        assert store.add_feedback(r.id, "yes", 2.5)
        truth[r.id] = ("yes", 2.5)
    want = _expected_rollups(made, truth)
    assert _rollup_rows(store) == want
    store.rebuild_rollups()
    assert _rollup_rows(store) == want

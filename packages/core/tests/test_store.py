"""The prediction store on a real SQLite database (WAL), written from several threads."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import inspect, text

from mlstack_core.errors import ConfigError
from mlstack_core.store import SCHEMA_VERSION, Base, PredictionRecord, PredictionStore


def record(version: str = "1", **kw: object) -> PredictionRecord:
    return PredictionRecord(
        model_version=version,
        inputs={"a": 1.0, "c": "p"},
        prediction="yes",
        latency_ms=1.5,
        probabilities={"no": 0.2, "yes": 0.8},
        **kw,  # type: ignore[arg-type]
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

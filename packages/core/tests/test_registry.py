"""Promotion, rollback and alias history against a real MLflow SQLite registry."""

from __future__ import annotations

import socket
import sqlite3
import time
from pathlib import Path

import mlflow
import pytest
from mlflow import MlflowClient

from mlstack_core.champion_lookup import RegistryNotReadableError, champion_version_from_db
from mlstack_core.errors import ModelNotFoundError, RegistryError, RegistryUnreachableError
from mlstack_core.registry import ModelRegistry
from mlstack_core.settings import Settings


def register_versions(settings: Settings, count: int) -> ModelRegistry:
    registry = ModelRegistry(settings)
    client: MlflowClient = registry.client
    mlflow.set_tracking_uri(settings.mlflow_tracking_uri)
    experiment = client.create_experiment("t", artifact_location=settings.artifact_root.as_uri())
    client.create_registered_model(settings.model_name)
    for _ in range(count):
        run = client.create_run(experiment)
        client.create_model_version(settings.model_name, run.info.artifact_uri, run.info.run_id)
    return registry


def test_no_champion_is_a_clear_error(settings: Settings) -> None:
    registry = ModelRegistry(settings)
    assert registry.champion() is None
    with pytest.raises(ModelNotFoundError) as caught:
        registry.require_champion()
    assert "invoke train --seed-sample" in caught.value.hint


def test_promote_and_rollback_follow_the_history(settings: Settings) -> None:
    registry = register_versions(settings, 3)
    registry.promote(1, "first")
    registry.set_challenger(2)
    registry.promote(2, "better")
    assert registry.require_champion().version == 2
    assert registry.version(2).aliases == ("champion",)
    registry.promote(3, "even better")
    assert registry.rollback().version == 2
    assert registry.rollback().version == 1
    with pytest.raises(RegistryError, match="no earlier champion"):
        registry.rollback()
    actions = [(e.action, e.version, e.previous) for e in registry.history()]
    assert actions == [
        ("promote", 1, None),
        ("promote", 2, 1),
        ("promote", 3, 2),
        ("rollback", 2, 3),
        ("rollback", 1, 2),
    ]


def test_unknown_version_is_refused(settings: Settings) -> None:
    registry = register_versions(settings, 1)
    with pytest.raises(RegistryError, match="has no version 7"):
        registry.promote(7, "typo")
    assert registry.champion() is None


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.parametrize(
    ("env", "uri", "reason", "hint"),
    [
        ("docker", None, "does not resolve", "invoke compose-up"),
        ("local", "http://127.0.0.1:{port}", "connection refused", "MLSTACK_TRACKING_URI"),
    ],
)
def test_an_unreachable_registry_is_named_within_seconds(
    tmp_path: Path, env: str, uri: str | None, reason: str, hint: str
) -> None:
    settings = Settings(
        home=tmp_path, env=env, tracking_uri=uri.format(port=_closed_port()) if uri else None
    )
    started = time.monotonic()
    with pytest.raises(RegistryUnreachableError) as caught:
        ModelRegistry(settings).champion()
    assert time.monotonic() - started < 10
    assert reason in caught.value.cause
    assert settings.mlflow_tracking_uri in caught.value.cause
    assert hint in caught.value.hint


def test_versions_carry_their_aliases_newest_first(settings: Settings) -> None:
    assert ModelRegistry(settings).versions() == []
    registry = register_versions(settings, 3)
    registry.promote(1, "first")
    registry.set_challenger(2)
    listed = [(v.version, v.aliases) for v in registry.versions()]
    assert listed == [(3, ()), (2, ("challenger",)), (1, ("champion",))]


def test_the_champion_read_from_the_database_is_mlflows(settings: Settings) -> None:
    """`up` reads the alias table itself; after every move it must agree with MlflowClient."""
    db = Path(settings.mlflow_tracking_uri.removeprefix("sqlite:///"))
    assert champion_version_from_db(settings) is None
    assert not db.exists()  # asking created no database
    registry = register_versions(settings, 3)
    assert champion_version_from_db(settings) is None
    for move in (
        lambda: registry.promote(1, "first"),
        lambda: registry.promote(3, "better"),
        lambda: registry.rollback(),
    ):
        move()
        champion = registry.require_champion()
        assert champion_version_from_db(settings) == champion.version


def test_a_tracking_server_is_left_to_mlflow(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLSTACK_TRACKING_URI", "http://127.0.0.1:9")
    with pytest.raises(RegistryNotReadableError):
        champion_version_from_db(Settings())


def test_a_new_registry_is_copied_from_the_template_and_works(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The copied store is what MLflow would have made: its schema at MLflow's head revision,
    the Default experiment, and a registry that registers, promotes and answers."""
    monkeypatch.setenv("MLSTACK_CACHE_DIR", str(tmp_path / "cache"))  # made here, not reused
    settings = Settings()
    fresh = tmp_path / "made-by-mlflow.db"
    MlflowClient(tracking_uri=f"sqlite:///{fresh}").search_experiments()
    registry = register_versions(settings, 1)
    copied = Path(settings.mlflow_tracking_uri.removeprefix("sqlite:///"))
    assert list((settings.cache_root / "mlflow-registry").glob("mlflow-*.db"))

    def revision(db: Path) -> str:
        with sqlite3.connect(db) as conn:
            return str(conn.execute("SELECT version_num FROM alembic_version").fetchone()[0])

    assert revision(copied) == revision(fresh)
    names = {e.name for e in registry.client.search_experiments()}
    assert {"Default", "t"} <= names
    registry.promote(1, "first")
    assert registry.require_champion().version == 1

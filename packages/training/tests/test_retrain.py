"""Retraining from labelled traffic, against a real MLflow store and a real prediction store.

Traffic is written to the store the way serving writes it (a prediction, then ground truth
through the store's feedback call), so these tests need no running API; the end-to-end test
in `tests/test_retrain_loop.py` drives the same loop through the real API.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from mlstack_core.artifacts import DATA_ORIGIN_TAG, DATA_SNAPSHOT_ARTIFACT
from mlstack_core.errors import DataError
from mlstack_core.registry import ModelRegistry
from mlstack_core.settings import Settings
from mlstack_core.store import PredictionRecord, PredictionStore
from mlstack_training import seed, snapshot
from mlstack_training.cli import app
from mlstack_training.feedback import labelled_since, screen
from mlstack_training.job import TrainingJob, TrainingRequest, TrainingResult
from mlstack_training.retrain import Retrainer, RetrainRequest

FEATURES = [c for c in seed.generate(5).columns if c not in ("customer_id", seed.TARGET)]


def log_traffic(settings: Settings, frame: pd.DataFrame, truth: list[Any]) -> list[str]:
    """Predictions for `frame` (one per row, a second apart, ending now) and their truth."""
    store = PredictionStore(settings.store_url)
    store.migrate()
    now = datetime.now(UTC)
    records = [
        PredictionRecord(
            model_version="1",
            inputs={k: (None if pd.isna(v) else v) for k, v in row.items()},
            prediction="no",
            latency_ms=5.0,
            created_at=now - timedelta(seconds=len(frame) - i),
        )
        for i, row in enumerate(frame.to_dict(orient="records"))
    ]
    store.write(records)
    for record, actual in zip(records, truth, strict=True):
        store.add_feedback(record.id, str(actual), None)
    store.dispose()
    return [r.id for r in records]


def changed_world(rows: int, random_seed: int) -> tuple[pd.DataFrame, list[str]]:
    """Customers whose charges moved up and whose churn now follows another rule: those on
    long contracts leave, month-to-month ones stay (the world changed, not only the inputs)."""
    frame = seed.generate(rows, seed=random_seed)[FEATURES]
    frame["monthly_charges"] = frame["monthly_charges"] + 40.0
    truth = np.where(frame["contract"] == "month-to-month", "no", "yes").tolist()
    return frame, truth


def same_world(rows: int, random_seed: int) -> tuple[pd.DataFrame, list[str]]:
    """New customers drawn exactly as the training data was."""
    frame = seed.generate(rows, seed=random_seed)
    return frame[FEATURES], frame[seed.TARGET].tolist()


@pytest.fixture
def champion(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> TrainingResult:
    """A fresh seed-sample champion in this test's own state folder."""
    home = tmp_path / "state"
    monkeypatch.setenv("MLSTACK_HOME", str(home))
    monkeypatch.setenv("MLSTACK_RETRAIN_MIN_ROWS", "100")
    return TrainingJob(Settings()).run(
        TrainingRequest(data=seed.seed_csv(), spec_path=seed.seed_spec())
    )


def _registry_state(settings: Settings) -> tuple[int, int | None]:
    registry = ModelRegistry(settings)
    champion = registry.champion()
    return len(registry.versions()), champion.version if champion else None


@pytest.mark.slow
def test_a_version_records_what_it_trained_on(champion: TrainingResult) -> None:
    settings = Settings()
    registry = ModelRegistry(settings)
    info = registry.version(champion.version)
    card = snapshot.card_of(registry, info)
    assert card is not None
    assert card.origins[0].kind == "seed sample"
    assert card.origins[0].rows == seed.ROWS
    assert card.snapshot == DATA_SNAPSHOT_ARTIFACT
    assert card.rows == round(seed.ROWS * (1 - settings.test_size))
    rows, _ = snapshot.load(registry, info, champion.spec)
    assert len(rows) == card.rows
    assert list(rows.columns) == [*champion.spec.feature_names, champion.spec.target]
    assert "seed sample" in info.tags[DATA_ORIGIN_TAG]


@pytest.mark.slow
def test_too_few_labelled_rows_exit_2_and_change_nothing(champion: TrainingResult) -> None:
    settings = Settings()
    frame, truth = same_world(60, random_seed=7)
    log_traffic(settings, frame, truth)
    before = _registry_state(settings)
    result = CliRunner().invoke(app, ["retrain"])
    assert result.exit_code == 2, result.output
    assert "only 60 labelled predictions since v1" in result.output
    assert "needs 100" in result.output
    assert _registry_state(settings) == before
    assert not (settings.state_dir / "training-data").exists()


@pytest.mark.slow
def test_rows_that_break_the_contract_are_refused_counted_and_explained(
    champion: TrainingResult,
) -> None:
    settings = Settings()
    good, truth = same_world(40, random_seed=8)
    bad = good.head(9).copy().astype(object)
    bad.loc[bad.index[:3], "age"] = "forty"
    bad.loc[bad.index[3:6], "contract"] = "lifetime"
    log_traffic(settings, good, truth)
    log_traffic(settings, bad.iloc[:6], truth[:6])
    log_traffic(settings, good.head(3), ["maybe"] * 3)
    found = screen(
        labelled_since(settings.store_url, datetime(2000, 1, 1, tzinfo=UTC)), champion.spec
    )
    assert len(found.rows) == 40
    assert found.refused == {
        "non-numeric value in 'age'": 3,
        "unknown category in 'contract'": 3,
        "actual 'maybe' is not a class of the model": 3,
    } or found.refused == {
        "non-numeric value in 'age'": 3,
        "unknown category in 'contract'": 3,
        "actual maybe is not a class of the model": 3,
    }
    before = _registry_state(settings)
    result = CliRunner().invoke(app, ["retrain"])
    assert result.exit_code == 2, result.output
    assert "9 more refused by the contract" in result.output
    assert "3 non-numeric value in 'age'" in result.output
    assert _registry_state(settings) == before


@pytest.mark.slow
def test_a_changed_training_file_stops_the_retrain(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLSTACK_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("MLSTACK_SNAPSHOT_MAX_MB", "0")
    monkeypatch.setenv("MLSTACK_RETRAIN_MIN_ROWS", "10")
    data = tmp_path / "customers.csv"
    data.write_text(seed.seed_csv().read_text())
    TrainingJob(Settings()).run(TrainingRequest(data=data, spec_path=seed.seed_spec()))
    settings = Settings()
    registry = ModelRegistry(settings)
    card = snapshot.card_of(registry, registry.require_champion())
    assert card is not None
    assert card.snapshot is None
    assert card.source == str(data.resolve())
    frame, truth = same_world(20, random_seed=9)
    log_traffic(settings, frame, truth)
    with data.open("a") as handle:
        handle.write(data.read_text().splitlines()[1] + "\n")
    before = _registry_state(settings)
    with pytest.raises(DataError, match="changed since it was trained"):
        Retrainer(settings).run(RetrainRequest())
    assert _registry_state(settings) == before


def _retrain_json(extra: list[str] | None = None) -> dict[str, Any]:
    result = CliRunner().invoke(app, ["retrain", "--json", "--no-move", *(extra or [])])
    assert result.exit_code == 0, result.output
    outcome: dict[str, Any] = json.loads(result.stdout)
    return outcome


@pytest.mark.slow
def test_a_changed_world_promotes_the_challenger(champion: TrainingResult) -> None:
    settings = Settings()
    frame, truth = changed_world(400, random_seed=11)
    log_traffic(settings, frame, truth)
    outcome = _retrain_json()
    assert outcome["promoted"] is True, outcome["reason"]
    assert outcome["rows"]["new"] == 280
    assert outcome["rows"]["recent_held_out"] == 120
    assert "on recent labelled traffic (120 rows" in outcome["reason"]
    assert "old held-out rows" in outcome["reason"]
    registry = ModelRegistry(settings)
    assert registry.require_champion().version == 2
    last = registry.history()[-1]
    assert (last.action, last.version, last.previous) == ("promote", 2, 1)
    assert "recent labelled traffic" in last.reason
    card = snapshot.card_of(registry, registry.version(2))
    assert card is not None
    assert [o.kind for o in card.origins] == ["seed sample", "feedback"]
    assert card.origins[1].rows == 280
    assert card.origins[1].first_at is not None


@pytest.mark.slow
def test_an_unchanged_world_keeps_the_champion(champion: TrainingResult) -> None:
    settings = Settings()
    frame, truth = same_world(400, random_seed=12)
    log_traffic(settings, frame, truth)
    outcome = _retrain_json()
    assert outcome["promoted"] is False, outcome["reason"]
    registry = ModelRegistry(settings)
    assert registry.require_champion().version == 1
    assert registry.version(2).tags["mlstack.gate.decision"] == "refused"
    assert "api" not in outcome

"""Training end to end against a real MLflow store: registration, the gate, failure marking."""

from __future__ import annotations

from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_diabetes, load_wine

from mlstack_core.registry import ModelRegistry
from mlstack_core.settings import Settings
from mlstack_training import seed
from mlstack_training.gate import PromotionGate
from mlstack_training.job import TrainingJob, TrainingRequest

SEED = TrainingRequest(data=seed.seed_csv(), spec_path=seed.seed_spec())


def test_first_version_is_champion_and_an_equal_one_is_not(settings: Settings) -> None:
    job = TrainingJob(settings)
    first = job.run(SEED)
    second = job.run(SEED)
    registry = ModelRegistry(settings)
    assert (first.version, first.decision.promoted) == (1, True)
    assert (second.version, second.decision.promoted) == (2, False)
    assert "below the required gain" in second.decision.reason
    assert second.metrics == first.metrics, "same data and seed must give the same model"
    assert registry.require_champion().version == 1
    assert registry.version(2).aliases == ("challenger",)
    assert registry.version(2).tags["mlstack.gate.decision"] == "refused"
    run = mlflow.get_run(second.run_id)
    assert run.info.status == "FINISHED"
    artifacts = {a.path for a in mlflow.MlflowClient().list_artifacts(second.run_id)}
    assert {"dataset_spec.json", "plots", "reference"} <= artifacts
    assert (
        run.inputs.dataset_inputs[0].dataset.digest
        == registry.version(2).tags["mlstack.data_digest"]
    )


def test_a_better_challenger_is_promoted(settings: Settings) -> None:
    job = TrainingJob(settings)
    job.run(TrainingRequest(data=seed.seed_csv(), spec_path=seed.seed_spec(), estimator="linear"))
    better = job.run(SEED)
    if better.decision.promoted:
        assert ModelRegistry(settings).require_champion().version == better.version
    else:
        assert "below the required gain" in better.decision.reason
    assert better.decision.champion_score is not None
    assert (better.metrics["roc_auc"] > better.decision.champion_score) == better.decision.promoted


def test_a_run_that_fails_midway_is_marked_failed(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("gate exploded")

    monkeypatch.setattr(PromotionGate, "decide", broken)
    with pytest.raises(RuntimeError, match="gate exploded"):
        TrainingJob(settings).run(SEED)
    runs = mlflow.search_runs(search_all_experiments=True, output_format="list")
    assert [r.info.status for r in runs] == ["FAILED"]
    assert ModelRegistry(settings).champion() is None


def with_mess(frame: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """Make a clean toy data set look like real data: a text column and missing values."""
    frame = frame.copy()
    frame["site"] = rng.choice(["north", "south", "east"], len(frame))
    for column in frame.columns[:3]:
        frame.loc[rng.random(len(frame)) < 0.05, column] = np.nan
    return frame


def test_multiclass_with_missing_values_and_categories(settings: Settings, tmp_path: Path) -> None:
    wine = load_wine(as_frame=True).frame
    data = with_mess(wine.rename(columns={"target": "cultivar"}), np.random.default_rng(0))
    data["cultivar"] = data["cultivar"].map({0: "barolo", 1: "grignolino", 2: "barbera"})
    path = tmp_path / "wine.parquet"
    data.to_parquet(path)
    result = TrainingJob(settings).run(TrainingRequest(data=path, target="cultivar"))
    assert result.spec.task == "multiclass"
    assert "site" in result.spec.categorical
    assert result.metrics["accuracy"] > result.metrics["baseline_accuracy"] + 0.3
    assert result.spec.classes == ("barbera", "barolo", "grignolino")


def test_regression_is_inferred_and_scored(settings: Settings, tmp_path: Path) -> None:
    data = with_mess(load_diabetes(as_frame=True).frame, np.random.default_rng(1))
    path = tmp_path / "diabetes.csv"
    data.to_csv(path, index=False)
    result = TrainingJob(settings).run(TrainingRequest(data=path, target="target"))
    assert result.spec.task == "regression"
    assert result.primary == "rmse"
    assert result.metrics["rmse"] < result.metrics["baseline_rmse"]
    assert {"mae", "r2"} <= set(result.metrics)


def test_task_override_turns_small_integers_into_regression(
    settings: Settings, tmp_path: Path
) -> None:
    rng = np.random.default_rng(2)
    x = rng.normal(size=400)
    data = pd.DataFrame({"x": x, "stars": np.clip(np.round(3 + x), 1, 5)})
    path = tmp_path / "stars.csv"
    data.to_csv(path, index=False)
    inferred = TrainingJob(settings).run(TrainingRequest(data=path, target="stars"))
    assert inferred.spec.task == "multiclass"
    forced = TrainingJob(settings).run(
        TrainingRequest(data=path, target="stars", task="regression")
    )
    assert forced.spec.task == "regression"
    assert "cannot compare with champion" in forced.decision.reason

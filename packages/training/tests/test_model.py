"""Model behaviour on the seed sample (Made-With-ML style): quality, invariance, direction."""

from __future__ import annotations

from typing import Any

import mlflow.sklearn
import pandas as pd
import pytest

from mlstack_core.registry import ModelRegistry
from mlstack_core.settings import Settings
from mlstack_training.job import TrainingResult


@pytest.fixture(scope="module")
def model(trained: tuple[Settings, TrainingResult]) -> Any:
    settings, result = trained
    return mlflow.sklearn.load_model(ModelRegistry(settings).version(result.version).uri)


def test_beats_the_dummy_baseline_clearly(trained: tuple[Settings, TrainingResult]) -> None:
    _, result = trained
    assert result.metrics["roc_auc"] > 0.75
    assert result.metrics["accuracy"] > result.metrics["baseline_accuracy"] + 0.1


def test_predictions_do_not_depend_on_column_order(model: Any, seed_frame: pd.DataFrame) -> None:
    rows = seed_frame.drop(columns=["churned"]).head(300)
    shuffled = rows[list(reversed(rows.columns))]
    assert (model.predict_proba(rows) == model.predict_proba(shuffled)).all()


def test_more_support_calls_do_not_lower_churn_risk(model: Any, seed_frame: pd.DataFrame) -> None:
    rows = seed_frame.drop(columns=["churned"]).head(300)
    calm = model.predict_proba(rows.assign(support_calls=0))[:, 1]
    angry = model.predict_proba(rows.assign(support_calls=8))[:, 1]
    assert (angry >= calm).mean() > 0.9


def test_unknown_categories_and_missing_values_still_predict(
    model: Any, seed_frame: pd.DataFrame
) -> None:
    rows = seed_frame.drop(columns=["churned"]).head(5).assign(region="atlantis", age=None)
    assert len(model.predict(rows)) == 5


def test_reference_profile_matches_training_data(
    trained: tuple[Settings, TrainingResult], seed_frame: pd.DataFrame
) -> None:
    settings, result = trained
    registry = ModelRegistry(settings)
    profile = registry.profile(registry.version(result.version))
    train_rows = 6000 - len(registry.holdout(registry.version(result.version)))
    assert profile.rows == train_rows
    assert profile.numeric["age"].min >= seed_frame["age"].min()
    assert profile.numeric["tenure_months"].mean == pytest.approx(
        seed_frame["tenure_months"].mean(), rel=0.05
    )
    shares = seed_frame["contract"].value_counts(normalize=True)
    for category, share in profile.categorical["contract"].frequencies.items():
        assert share == pytest.approx(shares[category], abs=0.02)
    assert set(profile.sample[0]) == set(result.spec.feature_names)

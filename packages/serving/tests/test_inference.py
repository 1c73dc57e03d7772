"""The numpy inference path answers what the pipeline answers; every reason not to use it
falls back to the plain pipeline, with a warning and a recorded reason saying why."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import SPEC, build, register, training_frame
from pydantic import BaseModel
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import MinMaxScaler, OneHotEncoder, StandardScaler

from mlstack_core.artifacts import HOLDOUT_ARTIFACT
from mlstack_core.profile import holdout_records
from mlstack_core.settings import Settings
from mlstack_core.spec import DatasetSpec
from mlstack_serving.inference import TOLERANCE, choose
from mlstack_serving.model import ServedModel
from mlstack_serving.schema import record_type

TRUSTED = ["numpy.dtype", "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor"]
REGRESSION = SPEC.model_copy(update={"task": "regression", "target": "score", "classes": ()})


def messy_frame(rows: int, seed: int) -> pd.DataFrame:
    """Missing values in every column and a rare colour (an infrequent category when fitted)."""
    rng = np.random.default_rng(seed)
    frame = training_frame(rows, seed)
    frame["color"] = rng.choice(["blue", "red"], rows).astype(object)
    frame.loc[frame.index[:3], "color"] = "green"
    for column in SPEC.feature_names:
        frame.loc[rng.random(rows) < 0.1, column] = np.nan
    frame["score"] = 3 * frame["x1"].fillna(0) + (frame["color"] == "red") + rng.normal(size=rows)
    return frame


def pipeline(estimator: Any, numeric_scaler: Any = None) -> Pipeline:
    features = ColumnTransformer(
        [
            (
                "numeric",
                Pipeline(
                    [
                        ("impute", SimpleImputer(strategy="median")),
                        ("scale", numeric_scaler or StandardScaler()),
                    ]
                ),
                list(SPEC.numeric),
            ),
            (
                "categorical",
                Pipeline(
                    [
                        ("impute", SimpleImputer(strategy="constant", fill_value="__missing__")),
                        (
                            "encode",
                            OneHotEncoder(
                                handle_unknown="ignore", sparse_output=False, min_frequency=5
                            ),
                        ),
                    ]
                ),
                list(SPEC.categorical),
            ),
        ]
    )
    return Pipeline([("features", features), ("model", estimator)])


def served(tmp_path: Path, model: Pipeline, spec: DatasetSpec) -> ServedModel:
    import mlflow.sklearn

    frame = messy_frame(400, seed=0)
    model.fit(frame[spec.feature_names], frame[spec.target])
    path = tmp_path / "model"
    mlflow.sklearn.save_model(model, str(path), skops_trusted_types=TRUSTED)
    return ServedModel(path, spec, inference="numpy")


def rows(spec: DatasetSpec, n: int = 150) -> list[dict[str, Any]]:
    frame = messy_frame(n, seed=1)
    return holdout_records(frame[[*spec.feature_names, spec.target]])


def records(spec: DatasetSpec, n: int = 150) -> list[BaseModel]:
    record = record_type(spec)
    return [record.model_validate(r) for r in rows(spec, n)]


def test_boosted_classifier_is_lowered_and_answers_as_the_pipeline(tmp_path: Path) -> None:
    model = served(tmp_path, pipeline(HistGradientBoostingClassifier(max_iter=40)), SPEC)
    choice = choose(model, rows(SPEC))
    assert (choice.path, model.inference) == ("numpy", "numpy")
    batch = records(SPEC)
    assert any(r.model_dump()["color"] == "green" for r in batch)  # the infrequent category
    assert any(v is None for r in batch for v in r.model_dump().values())
    plain = model.scores(batch, plain=True)
    answers = model.predict(batch)
    assert [a.prediction for a in answers] == [model.classes[i] for i in plain.argmax(axis=1)]
    served_proba = np.array([[a.probabilities[c] for c in model.classes] for a in answers])  # type: ignore[index]
    assert np.abs(served_proba - plain).max() <= TOLERANCE
    one = model.predict(batch[:1])[0]
    assert one.probabilities == answers[0].probabilities


def test_boosted_regressor_is_lowered_and_answers_as_the_pipeline(tmp_path: Path) -> None:
    model = served(tmp_path, pipeline(HistGradientBoostingRegressor(max_iter=40)), REGRESSION)
    assert choose(model, rows(REGRESSION)).path == "numpy"
    batch = records(REGRESSION)
    values = np.array([a.prediction_value for a in model.predict(batch)], dtype=float)
    assert np.abs(values - model.scores(batch, plain=True)).max() <= TOLERANCE


def test_a_step_without_a_numpy_form_serves_the_pipeline_and_says_why(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    estimator = HistGradientBoostingClassifier(max_iter=10)
    with caplog.at_level(logging.WARNING, logger="mlstack_serving"):
        model = served(tmp_path, pipeline(estimator, numeric_scaler=MinMaxScaler()), SPEC)
    assert model.inference == "pipeline"
    assert "MinMaxScaler has no numpy form" in caplog.text
    assert choose(model, rows(SPEC)).path == "pipeline"
    assert len(model.predict(records(SPEC, 5))) == 5


def test_a_numpy_path_that_disagrees_is_not_used(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    model = served(tmp_path, pipeline(HistGradientBoostingClassifier(max_iter=40)), SPEC)
    assert model.lowered is not None
    assert model.lowered.trees is not None
    model.lowered.trees.value[:] += 1e-3  # a lowering bug: every leaf a little off
    with caplog.at_level(logging.WARNING, logger="mlstack_serving"):
        choice = choose(model, rows(SPEC))
    assert choice.path == "pipeline"
    assert "probabilities differ by up to" in choice.reason
    assert choice.reason in caplog.text


@pytest.mark.parametrize(
    "holdout",
    [
        pytest.param([], id="none"),
        pytest.param([{**r, "color": "purple"} for r in rows(SPEC, 5)], id="all-refused"),
    ],
)
def test_without_held_out_rows_to_check_the_pipeline_is_served(
    tmp_path: Path, holdout: list[dict[str, Any]]
) -> None:
    model = served(tmp_path, pipeline(HistGradientBoostingClassifier(max_iter=10)), SPEC)
    choice = choose(model, holdout)
    assert choice.path == "pipeline"
    assert choice.reason == "no held-out row to check the numpy path against"


@pytest.mark.slow
def test_the_build_records_the_pipeline_when_the_run_logged_no_held_out_rows(
    tmp_path: Path,
) -> None:
    home = tmp_path / "state"
    register(Settings(home=home))
    for logged in (home / "artifacts").rglob(Path(HOLDOUT_ARTIFACT).name):
        logged.unlink()  # a run from before held-out rows were logged
    assert "inference: pipeline" in build(home)
    bento = yaml.safe_load((home / "bentoml/bentos/mlstack/v1/bento.yaml").read_text())
    assert bento["labels"]["inference"] == "pipeline"
    assert bento["args"]["inference"] == "pipeline"
    assert "held-out rows of v1 are not readable" in bento["args"]["inference_reason"]

"""Every data set and estimator that trains is served by the numpy path, and agrees with the
scikit-learn pipeline on its held-out rows (trained for real, imported into BentoML for real)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_diabetes, load_wine

from mlstack_core.registry import ModelRegistry
from mlstack_core.settings import Settings
from mlstack_serving.build import ModelImporter
from mlstack_serving.inference import TOLERANCE
from mlstack_serving.model import MLFLOW_FOLDER, ModelCard, ServedModel
from mlstack_serving.schema import record_type
from mlstack_training import seed
from mlstack_training.job import TrainingJob, TrainingRequest
from mlstack_training.pipeline import Estimator

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def _messy(frame: pd.DataFrame, seed_: int) -> pd.DataFrame:
    """A text column and missing values in numeric and text columns, as real data has."""
    rng = np.random.default_rng(seed_)
    frame = frame.copy()
    frame["site"] = rng.choice(["north", "south", "east", "west"], len(frame)).astype(object)
    for column in [*frame.columns[:3], "site"]:
        frame.loc[rng.random(len(frame)) < 0.08, column] = np.nan
    return frame


def _wine(folder: Path) -> TrainingRequest:
    data = _messy(load_wine(as_frame=True).frame.rename(columns={"target": "cultivar"}), 0)
    data["cultivar"] = data["cultivar"].map({0: "barolo", 1: "grignolino", 2: "barbera"})
    data.to_parquet(folder / "wine.parquet")
    return TrainingRequest(data=folder / "wine.parquet", target="cultivar")


def _diabetes(folder: Path) -> TrainingRequest:
    _messy(load_diabetes(as_frame=True).frame, 1).to_csv(folder / "diabetes.csv", index=False)
    return TrainingRequest(data=folder / "diabetes.csv", target="target")


def _seed(_: Path) -> TrainingRequest:
    return TrainingRequest(data=seed.seed_csv(), spec_path=seed.seed_spec())


CASES = [
    ("seed", _seed, "hist_gradient_boosting", "numpy"),
    ("seed", _seed, "random_forest", "numpy+sklearn"),
    ("seed", _seed, "linear", "numpy+sklearn"),
    ("wine-multiclass", _wine, "hist_gradient_boosting", "numpy"),
    ("wine-multiclass", _wine, "linear", "numpy+sklearn"),
    ("diabetes-regression", _diabetes, "hist_gradient_boosting", "numpy"),
    ("diabetes-regression", _diabetes, "random_forest", "numpy+sklearn"),
]


@pytest.mark.parametrize(
    ("make", "estimator", "expected"),
    [pytest.param(m, e, x, id=f"{name}-{e}") for name, m, e, x in CASES],
)
def test_the_numpy_path_serves_what_the_pipeline_would(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    make: Callable[[Path], TrainingRequest],
    estimator: Estimator,
    expected: str,
) -> None:
    home = tmp_path / "state"
    monkeypatch.setenv("MLSTACK_HOME", str(home))
    settings = Settings(home=home)
    request = replace(make(tmp_path), estimator=estimator)
    TrainingJob(settings).run(request)
    importer = ModelImporter(settings)
    champion = ModelRegistry(settings).require_champion()
    tag, _ = importer.ensure(champion)

    choice = importer.inference(champion, tag)
    assert choice.path == expected, choice.reason

    import bentoml

    card = ModelCard.from_store(tag)
    model = ServedModel(
        Path(bentoml.models.get(tag).path_of(MLFLOW_FOLDER)), card.spec, inference=choice.path
    )
    assert model.inference == expected
    record = record_type(card.spec)
    rows = [record.model_validate(r) for r in ModelRegistry(settings).holdout(champion)]
    missing = sum(v is None for r in rows for v in r.model_dump().values())
    assert missing > 0 or request.data == seed.seed_csv()  # the messy sets do reach the model
    answers = model.predict(rows)
    plain = model.scores(rows, plain=True)
    if card.spec.is_classification:
        assert [a.prediction for a in answers] == [model.classes[i] for i in plain.argmax(axis=1)]
        served = np.array([[a.probabilities[c] for c in model.classes] for a in answers])  # type: ignore[index]
        assert np.abs(served - plain).max() <= TOLERANCE
    else:
        served = np.array([a.prediction_value for a in answers], dtype=float)
        assert np.abs(served - plain).max() <= TOLERANCE * max(1.0, float(np.abs(plain).max()))

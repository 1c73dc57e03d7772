"""A champion for tests and benchmarks, registered with the code training registers with.

Serving and the dashboard may not import the training package, so their fixtures fit a small
scikit-learn classifier here and log it through `mlstack_core.artifacts`: the version carries
the same model flavour, spec, reference profile, held-out rows and metrics as one of
`TrainingJob`'s, and is promoted through the registry facade.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from mlstack_core.artifacts import register_version
from mlstack_core.registry import ModelRegistry, VersionInfo
from mlstack_core.settings import Settings
from mlstack_core.spec import DatasetSpec


@dataclass(frozen=True)
class Champion:
    """The promoted version, its fitted model and its accuracy on the held-out rows."""

    settings: Settings
    info: VersionInfo
    model: Any
    accuracy: float


def fit_classifier(frame: pd.DataFrame, spec: DatasetSpec) -> Any:
    """A small pipeline for `spec`'s features: imputed numbers, imputed one-hot categories,
    logistic regression. Numbers are not scaled: serving's fuzz tests send values near the
    float maximum, which a scaler would turn into infinity."""
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    numeric = SimpleImputer(strategy="median")
    categorical = Pipeline(
        [
            ("impute", SimpleImputer(strategy="constant", fill_value="__missing__")),
            ("encode", OneHotEncoder(handle_unknown="ignore", sparse_output=False)),
        ]
    )
    features = ColumnTransformer(
        [
            ("numeric", numeric, list(spec.numeric)),
            ("categorical", categorical, list(spec.categorical)),
        ]
    )
    model = Pipeline([("features", features), ("model", LogisticRegression(max_iter=1000))])
    model.fit(frame[spec.feature_names], frame[spec.target])
    return model


def register_champion(
    settings: Settings,
    spec: DatasetSpec,
    train: pd.DataFrame,
    holdout: pd.DataFrame,
    *,
    reason: str = "registered by the test",
) -> Champion:
    """Fit a classifier on `train`, register it as training does and promote it."""
    model = fit_classifier(train, spec)
    predicted = model.predict(holdout[spec.feature_names])
    accuracy = float((predicted == holdout[spec.target]).mean())
    version = register_version(
        settings, model, spec, train, holdout, metrics={"accuracy": accuracy}
    )
    info = ModelRegistry(settings).promote(version, reason)
    return Champion(settings, info, model, accuracy)

"""The scikit-learn pipeline: impute, scale and one-hot encode, then a configurable estimator."""

from __future__ import annotations

from typing import Literal

from sklearn.base import BaseEstimator
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import (
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from mlstack_core.spec import DatasetSpec

Estimator = Literal["hist_gradient_boosting", "random_forest", "linear"]
ESTIMATORS: tuple[Estimator, ...] = ("hist_gradient_boosting", "random_forest", "linear")
MISSING_CATEGORY = "__missing__"
# Types skops refuses to load unless trusted, per estimator. We built these models in this
# process; listing them explicitly (not "whatever get_untrusted_types says") keeps the review.
SKOPS_TRUSTED: dict[Estimator, list[str]] = {
    "hist_gradient_boosting": [
        "numpy.dtype",
        "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    ],
    "random_forest": ["numpy.dtype", "sklearn.tree._tree.Tree"],
    "linear": ["numpy.dtype"],
}


def make_estimator(name: Estimator, classification: bool, seed: int) -> BaseEstimator:
    if name == "hist_gradient_boosting":
        if classification:
            return HistGradientBoostingClassifier(random_state=seed, early_stopping=False)
        return HistGradientBoostingRegressor(random_state=seed, early_stopping=False)
    if name == "random_forest":
        if classification:
            return RandomForestClassifier(n_estimators=200, random_state=seed, n_jobs=1)
        return RandomForestRegressor(n_estimators=200, random_state=seed, n_jobs=1)
    if classification:
        return LogisticRegression(max_iter=2000, random_state=seed)
    return Ridge(random_state=seed)


def build_pipeline(spec: DatasetSpec, estimator: Estimator, seed: int) -> Pipeline:
    """One Pipeline from raw feature columns to predictions, so serving needs nothing else."""
    numeric = Pipeline([("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler())])
    categorical = Pipeline(
        [
            ("impute", SimpleImputer(strategy="constant", fill_value=MISSING_CATEGORY)),
            (
                "encode",
                OneHotEncoder(handle_unknown="ignore", sparse_output=False, min_frequency=5),
            ),
        ]
    )
    transformers = []
    if spec.numeric:
        transformers.append(("numeric", numeric, list(spec.numeric)))
    if spec.categorical:
        transformers.append(("categorical", categorical, list(spec.categorical)))
    features = ColumnTransformer(transformers, remainder="drop", verbose_feature_names_out=False)
    return Pipeline(
        [
            ("features", features),
            ("model", make_estimator(estimator, spec.is_classification, seed)),
        ]
    )

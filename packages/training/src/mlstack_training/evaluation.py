"""Metrics and plots on held-out data, and which metric the promotion gate compares."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from sklearn import metrics
from sklearn.inspection import permutation_importance
from sklearn.pipeline import Pipeline

from mlstack_core.spec import DatasetSpec, Task

LOWER_IS_BETTER = {"rmse", "mae", "log_loss"}
DEFAULT_PRIMARY: dict[Task, str] = {"binary": "roc_auc", "multiclass": "f1", "regression": "rmse"}
IMPORTANCE_ROWS = 2000


@dataclass(frozen=True)
class PrimaryMetric:
    """The metric the gate compares, and whether a bigger number is better."""

    name: str

    @property
    def higher_is_better(self) -> bool:
        return self.name not in LOWER_IS_BETTER

    def improvement(self, challenger: float, champion: float) -> float:
        """Signed gain of the challenger: positive means better, whatever the direction."""
        return challenger - champion if self.higher_is_better else champion - challenger


def primary_metric(task: Task, override: str | None) -> PrimaryMetric:
    return PrimaryMetric(override or DEFAULT_PRIMARY[task])


def score(model: Any, frame: pd.DataFrame, y: pd.Series, spec: DatasetSpec) -> dict[str, float]:
    """Every metric that is defined for this task and these labels."""
    predicted = model.predict(frame)
    if spec.task == "regression":
        return {
            "rmse": float(np.sqrt(metrics.mean_squared_error(y, predicted))),
            "mae": float(metrics.mean_absolute_error(y, predicted)),
            "r2": float(metrics.r2_score(y, predicted)),
        }
    average = "binary" if spec.task == "binary" else "macro"
    classes = [str(c) for c in model.classes_]
    positive = classes[-1]
    scores = {
        "accuracy": float(metrics.accuracy_score(y, predicted)),
        "f1": float(
            metrics.f1_score(
                y, predicted, average=average, pos_label=positive if average == "binary" else 1
            )
        ),
    }
    if hasattr(model, "predict_proba"):
        proba = model.predict_proba(frame)
        known = set(y.unique()) <= set(classes)
        if known:
            scores["log_loss"] = float(metrics.log_loss(y, proba, labels=classes))
        if known and y.nunique() == len(classes):
            if spec.task == "binary":
                scores["roc_auc"] = float(metrics.roc_auc_score(y == positive, proba[:, -1]))
            else:
                scores["roc_auc"] = float(
                    metrics.roc_auc_score(y, proba, multi_class="ovr", labels=classes)
                )
    return scores


def baseline_score(y_train: pd.Series, y_test: pd.Series, spec: DatasetSpec) -> dict[str, float]:
    """What a constant guess achieves: the floor any model has to clear."""
    if spec.task == "regression":
        guess = np.full(len(y_test), float(y_train.mean()))
        return {"baseline_rmse": float(np.sqrt(metrics.mean_squared_error(y_test, guess)))}
    majority = y_train.mode().iloc[0]
    return {"baseline_accuracy": float((y_test == majority).mean())}


def performance_figure(model: Any, frame: pd.DataFrame, y: pd.Series, spec: DatasetSpec) -> Figure:
    """Confusion matrix (and ROC for binary) for classifiers, residuals for regressors."""
    if spec.task == "regression":
        figure = Figure(figsize=(6, 4.5))
        axis = figure.subplots()
        predicted = model.predict(frame)
        axis.scatter(predicted, y - predicted, s=6, alpha=0.4)
        axis.axhline(0, color="black", linewidth=0.8)
        axis.set(xlabel="predicted", ylabel="residual (actual - predicted)", title="Residuals")
        return figure
    columns = 2 if spec.task == "binary" else 1
    figure = Figure(figsize=(6 * columns, 5))
    axes = figure.subplots(1, columns, squeeze=False)[0]
    metrics.ConfusionMatrixDisplay.from_estimator(model, frame, y, ax=axes[0], colorbar=False)
    axes[0].set_title("Confusion matrix (held-out)")
    if spec.task == "binary":
        positive = str(model.classes_[-1])
        metrics.RocCurveDisplay.from_estimator(model, frame, y, ax=axes[1], pos_label=positive)
        axes[1].set_title("ROC curve (held-out)")
    figure.tight_layout()
    return figure


def importance_figure(
    model: Pipeline, frame: pd.DataFrame, y: pd.Series, seed: int
) -> tuple[Figure, dict[str, float]]:
    """Permutation importance on held-out rows: model-agnostic and in raw feature names."""
    rows = frame.iloc[:IMPORTANCE_ROWS]
    result = permutation_importance(
        model, rows, y.iloc[:IMPORTANCE_ROWS], n_repeats=3, random_state=seed, n_jobs=1
    )
    importance = pd.Series(result.importances_mean, index=frame.columns).sort_values()
    figure = Figure(figsize=(6, max(3.0, 0.35 * len(importance))))
    axis = figure.subplots()
    axis.barh(importance.index.astype(str), importance.to_numpy())
    axis.set(xlabel="mean drop in score when shuffled", title="Permutation importance")
    figure.tight_layout()
    return figure, {str(k): float(v) for k, v in importance.items()}

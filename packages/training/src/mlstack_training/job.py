"""One training run: load, validate, fit, evaluate, log to MLflow, register, gate.

All validation happens before MLflow is touched, so bad input leaves the registry as it was.
Once the run has started, any failure marks it FAILED (MLflow's run context does that).
"""

from __future__ import annotations

import functools
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from sklearn.model_selection import train_test_split

from mlstack_core.artifacts import log_model, log_reference, start_run
from mlstack_core.contract import validate_frame
from mlstack_core.errors import DataError
from mlstack_core.registry import ModelRegistry
from mlstack_core.settings import Settings
from mlstack_core.spec import DatasetSpec, Task, infer_spec
from mlstack_training import seed, snapshot
from mlstack_training.evaluation import (
    PrimaryMetric,
    baseline_score,
    importance_figure,
    performance_figure,
    primary_metric,
    score,
)
from mlstack_training.gate import GateDecision, PromotionGate
from mlstack_training.loading import TableReader
from mlstack_training.pipeline import SKOPS_TRUSTED, Estimator, build_pipeline
from mlstack_training.snapshot import DataOrigin

MAX_CATEGORIES = 1000
Step = Callable[[str], None]
# Builds the gate of a run from the metric and the fitted challenger (a retrain gates on
# recent traffic); by default the champion and challenger meet on the run's held-out rows.
GateFactory = Callable[[PrimaryMetric, Any], PromotionGate]


@dataclass(frozen=True)
class TrainingRequest:
    data: Path
    target: str | None = None
    task: Task | None = None
    spec_path: Path | None = None
    estimator: Estimator = "hist_gradient_boosting"
    # Where the rows came from, for the data card; by default the file itself.
    origins: tuple[DataOrigin, ...] = ()
    # Leave the plots to the caller (`TrainingResult.plots`): `up` serves sooner, then plots.
    plots_later: bool = False


@dataclass(frozen=True)
class PreparedData:
    spec: DatasetSpec
    frame: pd.DataFrame
    source: Path


@dataclass(frozen=True)
class TrainingResult:
    version: int
    run_id: str
    spec: DatasetSpec
    metrics: dict[str, float]
    primary: str
    decision: GateDecision
    seconds: float
    # Logs the run's plots when the request left them for later; None once they are logged.
    plots: Callable[[], None] | None = None


def _complete_spec(spec: DatasetSpec, frame: pd.DataFrame) -> DatasetSpec:
    """Record the categories and classes seen in training: serving and monitoring use them."""
    categories = {
        column: tuple(sorted(frame[column].dropna().astype(str).unique()))[:MAX_CATEGORIES]
        for column in spec.categorical
    }
    classes = (
        tuple(sorted(frame[spec.target].astype(str).unique())) if spec.is_classification else ()
    )
    return spec.model_copy(update={"categories": categories, "classes": classes})


def prepare(request: TrainingRequest, settings: Settings) -> PreparedData:
    """Read and validate the data and settle its spec; touches nothing outside memory."""
    base = DatasetSpec.from_file(request.spec_path) if request.spec_path else None
    target = request.target or (base.target if base else None)
    if not target:
        raise DataError(
            "no target column given", "pass --target COLUMN, or a --spec file that names one"
        )
    raw = TableReader(request.data).read()
    if target not in raw.columns:
        raise DataError(
            f"target column {target!r} is not in {request.data.name} "
            f"(columns: {', '.join(map(str, raw.columns[:12]))})",
            "pass --target with one of the columns",
        )
    if base is not None and base.target != target:
        base = base.model_copy(update={"target": target})
    spec = infer_spec(raw, target, task=request.task, base=base, name=request.data.stem)
    if not spec.feature_names:
        raise DataError(
            f"{request.data.name} has no usable feature columns besides {target!r}",
            "add feature columns, or list them in a --spec file",
        )
    frame = validate_frame(raw, spec, min_rows=settings.min_rows)
    return PreparedData(spec=_complete_spec(spec, frame), frame=frame, source=request.data)


@dataclass(frozen=True)
class Split:
    """Training and held-out rows, features and target apart."""

    x_train: pd.DataFrame
    x_test: pd.DataFrame
    y_train: pd.Series
    y_test: pd.Series

    @property
    def train(self) -> pd.DataFrame:
        return pd.concat([self.x_train, self.y_train], axis=1)

    @property
    def test(self) -> pd.DataFrame:
        return pd.concat([self.x_test, self.y_test], axis=1)


class TrainingJob:
    """Runs one training request end to end against the configured MLflow store."""

    def __init__(
        self, settings: Settings, on_step: Step | None = None, gate: GateFactory | None = None
    ) -> None:
        self.settings = settings
        self.registry = ModelRegistry(settings)
        self.on_step: Step = on_step or (lambda _step: None)
        self.gate: GateFactory = gate or (
            lambda metric, _model: PromotionGate(self.registry, self.settings, metric)
        )

    def run(self, request: TrainingRequest) -> TrainingResult:
        started = time.perf_counter()
        self.on_step("Validating data")
        data = prepare(request, self.settings)
        split = self._split(data)
        self.on_step("Training")
        model = build_pipeline(data.spec, request.estimator, self.settings.seed)
        model.fit(split.x_train, split.y_train)
        self.on_step("Evaluating")
        scores, metric = self._evaluate(model, data.spec, split)
        self.on_step("Logging to MLflow")
        with start_run(self.settings, data.spec.name) as run:
            # Inputs: parameters, the dataset and the scores; the tags come back for the version.
            tags = self._log_inputs(data, split, scores, metric, request)
            # The reference: spec, profile and held-out rows for monitoring.
            log_reference(data.spec, split.train, split.test, seed=self.settings.seed)
            run_id = run.info.run_id
            plots = functools.partial(self._log_plots, run_id, data.spec, model, split)
            if not request.plots_later:
                self.on_step("Plotting")
                plots()
            self.on_step("Registering model")
            version = self._register(model, data.spec, split, request.estimator, tags)
            self.on_step("Recording the training data")
            self._record_data(run_id, version, data, split, request)
            self.on_step("Promotion gate")
            decision = self._gate(version, data.spec, model, scores, metric, split)
        return TrainingResult(
            version=version,
            run_id=run_id,
            spec=data.spec,
            metrics=scores,
            primary=metric.name,
            decision=decision,
            seconds=time.perf_counter() - started,
            plots=plots if request.plots_later else None,
        )

    def _split(self, data: PreparedData) -> Split:
        """Held-out rows drawn with the settings' seed, stratified when every class can be."""
        spec, frame = data.spec, data.frame
        y = frame[spec.target]
        stratify = y if spec.is_classification and y.value_counts().min() >= 2 else None
        x_train, x_test, y_train, y_test = train_test_split(
            frame[spec.feature_names],
            y,
            test_size=self.settings.test_size,
            random_state=self.settings.seed,
            stratify=stratify,
        )
        return Split(x_train, x_test, y_train, y_test)

    def _evaluate(
        self, model: Any, spec: DatasetSpec, split: Split
    ) -> tuple[dict[str, float], PrimaryMetric]:
        """Held-out scores, the baseline's beside them, and the metric the gate compares."""
        scores = score(model, split.x_test, split.y_test, spec)
        scores.update(baseline_score(split.y_train, split.y_test, spec))
        metric = primary_metric(spec.task or "regression", self.settings.gate_metric)
        if metric.name not in scores:
            raise DataError(
                f"gate metric {metric.name!r} is not defined for a {spec.task} model here "
                f"(available: {', '.join(sorted(scores))})",
                "set MLSTACK_GATE_METRIC to one of them",
            )
        return scores, metric

    def _log_inputs(
        self,
        data: PreparedData,
        split: Split,
        scores: dict[str, float],
        metric: PrimaryMetric,
        request: TrainingRequest,
    ) -> dict[str, str]:
        """Log parameters, the dataset and the scores; the tags of the run and the version."""
        import mlflow
        from mlflow.data.pandas_dataset import from_pandas

        spec = data.spec
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            dataset = from_pandas(
                data.frame, source=str(data.source.resolve()), targets=spec.target, name=spec.name
            )
        mlflow.log_input(dataset, context="training")
        mlflow.log_params(
            {
                "estimator": request.estimator,
                "seed": self.settings.seed,
                "test_size": self.settings.test_size,
                "rows": len(data.frame),
                "train_rows": len(split.x_train),
                "numeric_features": len(spec.numeric),
                "categorical_features": len(spec.categorical),
                "task": spec.task,
                "target": spec.target,
            }
        )
        mlflow.log_metrics(scores)
        tags = {
            "mlstack.dataset": spec.name,
            "mlstack.task": str(spec.task),
            "mlstack.target": spec.target,
            "mlstack.primary_metric": metric.name,
            "mlstack.data_digest": dataset.digest,
        }
        mlflow.set_tags(tags)
        return tags

    def _log_plots(self, run_id: str, spec: DatasetSpec, model: Any, split: Split) -> None:
        """Log the plots for people (performance, permutation importance) to the run."""
        client = self.registry.client
        client.log_figure(
            run_id,
            performance_figure(model, split.x_test, split.y_test, spec),
            "plots/performance.png",
        )
        figure, importance = importance_figure(
            model, split.x_test, split.y_test, self.settings.seed
        )
        client.log_figure(run_id, figure, "plots/feature_importance.png")
        client.log_dict(run_id, importance, "plots/feature_importance.json")

    def _register(
        self,
        model: Any,
        spec: DatasetSpec,
        split: Split,
        estimator: Estimator,
        tags: dict[str, str],
    ) -> int:
        """Register the model as a new version of the settings' model, tagged like its run."""
        version = log_model(
            self.settings, model, spec, split.x_train, trusted_types=SKOPS_TRUSTED[estimator]
        )
        self.registry.tag_version(version, tags)
        return version

    def _record_data(
        self,
        run_id: str,
        version: int,
        data: PreparedData,
        split: Split,
        request: TrainingRequest,
    ) -> None:
        """The data card and (small enough) the rows the version trained on."""
        origins = request.origins or (
            DataOrigin(
                kind="seed sample"
                if data.source.resolve() == seed.seed_csv().resolve()
                else "file",
                source=data.source.name,
                rows=len(data.frame),
            ),
        )
        snapshot.record(self.settings, run_id, version, split.train, data.source, origins)

    def _gate(
        self,
        version: int,
        spec: DatasetSpec,
        model: Any,
        scores: dict[str, float],
        metric: PrimaryMetric,
        split: Split,
    ) -> GateDecision:
        """Compare the new version with the champion and move the alias (by default on the
        run's held-out rows)."""
        import mlflow

        gate = self.gate(metric, model)
        decision = gate.decide(spec, scores, split.x_test, split.y_test)
        gate.apply(version, decision)
        mlflow.set_tag("mlstack.gate.decision", "promoted" if decision.promoted else "refused")
        return decision

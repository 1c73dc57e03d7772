"""One training run: load, validate, fit, evaluate, log to MLflow, register, gate.

All validation happens before MLflow is touched, so bad input leaves the registry as it was.
Once the run has started, any failure marks it FAILED (MLflow's run context does that).
"""

from __future__ import annotations

import logging
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import version as installed_version
from pathlib import Path
from typing import Any

import pandas as pd
from sklearn.model_selection import train_test_split

from mlstack_core.contract import validate_frame
from mlstack_core.errors import DataError
from mlstack_core.profile import (
    HOLDOUT_ARTIFACT,
    PROFILE_ARTIFACT,
    ReferenceProfile,
    holdout_records,
)
from mlstack_core.registry import SPEC_ARTIFACT, ModelRegistry
from mlstack_core.settings import Settings
from mlstack_core.spec import DatasetSpec, Task, infer_spec
from mlstack_training.evaluation import (
    baseline_score,
    importance_figure,
    performance_figure,
    primary_metric,
    score,
)
from mlstack_training.gate import GateDecision, PromotionGate
from mlstack_training.loading import TableReader
from mlstack_training.pipeline import SKOPS_TRUSTED, Estimator, build_pipeline

log = logging.getLogger(__name__)

MAX_CATEGORIES = 1000
MODEL_REQUIREMENTS = ("scikit-learn", "skops", "pandas", "numpy", "scipy")
Step = Callable[[str], None]


@dataclass(frozen=True)
class TrainingRequest:
    data: Path
    target: str | None = None
    task: Task | None = None
    spec_path: Path | None = None
    estimator: Estimator = "hist_gradient_boosting"


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


class TrainingJob:
    """Runs one training request end to end against the configured MLflow store."""

    def __init__(self, settings: Settings, on_step: Step | None = None) -> None:
        self.settings = settings
        self.registry = ModelRegistry(settings)
        self.on_step: Step = on_step or (lambda _step: None)

    def _experiment_id(self) -> str:
        import mlflow

        logging.getLogger("mlflow").setLevel(logging.WARNING)
        uri = self.settings.mlflow_tracking_uri
        mlflow.set_tracking_uri(uri)
        mlflow.set_registry_uri(uri)
        name = self.settings.experiment_name
        experiment = mlflow.get_experiment_by_name(name)
        if experiment is not None:
            return str(experiment.experiment_id)
        location = self.settings.artifact_root.as_uri() if uri.startswith("sqlite:") else None
        return str(mlflow.create_experiment(name, artifact_location=location))

    def run(self, request: TrainingRequest) -> TrainingResult:
        started = time.perf_counter()
        self.on_step("Validating data")
        data = prepare(request, self.settings)
        spec, frame = data.spec, data.frame
        x = frame[spec.feature_names]
        y = frame[spec.target]
        stratify = None
        if spec.is_classification and y.value_counts().min() >= 2:
            stratify = y
        x_train, x_test, y_train, y_test = train_test_split(
            x,
            y,
            test_size=self.settings.test_size,
            random_state=self.settings.seed,
            stratify=stratify,
        )
        self.on_step("Training")
        model = build_pipeline(spec, request.estimator, self.settings.seed)
        model.fit(x_train, y_train)
        self.on_step("Evaluating")
        scores = score(model, x_test, y_test, spec)
        scores.update(baseline_score(y_train, y_test, spec))
        metric = primary_metric(spec.task or "regression", self.settings.gate_metric)
        if metric.name not in scores:
            raise DataError(
                f"gate metric {metric.name!r} is not defined for a {spec.task} model here "
                f"(available: {', '.join(sorted(scores))})",
                "set MLSTACK_GATE_METRIC to one of them",
            )
        self.on_step("Logging to MLflow")
        version, run_id, decision = self._track(
            data, model, (x_train, x_test, y_train, y_test), scores, metric.name, request
        )
        return TrainingResult(
            version=version,
            run_id=run_id,
            spec=spec,
            metrics=scores,
            primary=metric.name,
            decision=decision,
            seconds=time.perf_counter() - started,
        )

    def _track(
        self,
        data: PreparedData,
        model: Any,
        split: tuple[pd.DataFrame, pd.DataFrame, pd.Series, pd.Series],
        scores: dict[str, float],
        metric_name: str,
        request: TrainingRequest,
    ) -> tuple[int, str, GateDecision]:
        import mlflow
        import mlflow.sklearn
        from mlflow.data.pandas_dataset import from_pandas
        from mlflow.models import infer_signature

        spec, frame = data.spec, data.frame
        x_train, x_test, y_train, y_test = split
        experiment_id = self._experiment_id()
        with mlflow.start_run(experiment_id=experiment_id, run_name=spec.name) as run:
            mlflow.set_tags(
                {
                    "mlstack.dataset": spec.name,
                    "mlstack.task": str(spec.task),
                    "mlstack.target": spec.target,
                }
            )
            mlflow.log_params(
                {
                    "estimator": request.estimator,
                    "seed": self.settings.seed,
                    "test_size": self.settings.test_size,
                    "rows": len(frame),
                    "train_rows": len(x_train),
                    "numeric_features": len(spec.numeric),
                    "categorical_features": len(spec.categorical),
                    "task": spec.task,
                    "target": spec.target,
                }
            )
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                dataset = from_pandas(
                    frame, source=str(data.source.resolve()), targets=spec.target, name=spec.name
                )
            mlflow.log_input(dataset, context="training")
            mlflow.log_metrics(scores)
            mlflow.log_dict(spec.model_dump(mode="json"), SPEC_ARTIFACT)
            profile = ReferenceProfile.from_frame(
                pd.concat([x_train, y_train], axis=1), spec, seed=self.settings.seed
            )
            mlflow.log_dict(profile.model_dump(mode="json"), PROFILE_ARTIFACT)
            holdout = holdout_records(pd.concat([x_test, y_test], axis=1))
            mlflow.log_dict({"rows": holdout}, HOLDOUT_ARTIFACT)
            self.on_step("Plotting")
            mlflow.log_figure(
                performance_figure(model, x_test, y_test, spec), "plots/performance.png"
            )
            figure, importance = importance_figure(model, x_test, y_test, self.settings.seed)
            mlflow.log_figure(figure, "plots/feature_importance.png")
            mlflow.log_dict(importance, "plots/feature_importance.json")
            self.on_step("Registering model")
            example = x_train.dropna().head(3) if len(x_train.dropna()) else x_train.head(3)
            info = mlflow.sklearn.log_model(
                sk_model=model,
                name="model",
                signature=infer_signature(example, model.predict(example)),
                input_example=example,
                registered_model_name=self.settings.model_name,
                metadata={"mlstack_spec": spec.model_dump(mode="json")},
                skops_trusted_types=SKOPS_TRUSTED[request.estimator],
                pip_requirements=[f"{n}=={installed_version(n)}" for n in MODEL_REQUIREMENTS],
            )
            version = int(info.registered_model_version)
            self.registry.tag_version(
                version,
                {
                    "mlstack.dataset": spec.name,
                    "mlstack.task": str(spec.task),
                    "mlstack.primary_metric": metric_name,
                    "mlstack.data_digest": dataset.digest,
                },
            )
            self.on_step("Promotion gate")
            gate = PromotionGate(
                self.registry, self.settings, primary_metric(spec.task or "regression", metric_name)
            )
            decision = gate.decide(spec, scores, x_test, y_test)
            gate.apply(version, decision)
            mlflow.set_tag("mlstack.gate.decision", "promoted" if decision.promoted else "refused")
            return version, run.info.run_id, decision

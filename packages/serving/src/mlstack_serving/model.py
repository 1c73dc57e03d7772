"""The served model: the native scikit-learn pipeline from the Bento model, and its contract.

MLflow's pyfunc wrapper adds schema enforcement and conversions per call (2.6x slower per row
here); the request types already enforce the contract, so the pipeline is called directly.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import yaml
from pydantic import BaseModel

from mlstack_core.spec import DatasetSpec
from mlstack_serving.lowering import LoweredPipeline, NotLowerableError
from mlstack_serving.schema import field_names

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger(__name__)

MLFLOW_FOLDER = "mlflow_model"
PIPELINE = "pipeline"


def read_mlmodel(model_path: Path) -> dict[str, Any]:
    """The MLmodel file of a logged model: plain YAML, read without importing MLflow."""
    loaded = yaml.safe_load((model_path / "MLmodel").read_text())
    return loaded if isinstance(loaded, dict) else {}


def load_pipeline(model_path: Path) -> Any:
    """The fitted scikit-learn pipeline of an MLflow sklearn model.

    A skops file is read here as MLflow's sklearn flavor reads it, with the types the MLmodel
    file trusts: importing MLflow only to do that cost each API worker seconds of start-up.
    Any other serialization goes through `mlflow.sklearn.load_model`.
    """
    flavor = read_mlmodel(model_path).get("flavors", {}).get("sklearn", {})
    if flavor.get("serialization_format") == "skops":
        import skops.io

        trusted = [str(t) for t in flavor.get("skops_trusted_types") or []]
        return skops.io.load(model_path / str(flavor["pickled_model"]), trusted=trusted)
    import mlflow.sklearn

    return mlflow.sklearn.load_model(str(model_path))


@dataclass(frozen=True)
class ModelCard:
    """Who the model is: registry name, version, run, training time, metrics and contract."""

    tag: str
    name: str
    version: str
    run_id: str
    trained_at: str
    metrics: dict[str, float]
    spec: DatasetSpec

    @classmethod
    def from_store(cls, tag: str) -> ModelCard:
        """Read the card of a model in the active BentoML model store (no sklearn import)."""
        import bentoml

        stored = bentoml.models.get(tag)
        mlmodel = read_mlmodel(Path(stored.path_of(MLFLOW_FOLDER)))
        spec = DatasetSpec.model_validate((mlmodel.get("metadata") or {})["mlstack_spec"])
        labels = stored.info.labels
        meta = stored.info.metadata
        return cls(
            tag=str(stored.tag),
            name=labels["registered_name"],
            version=labels["registry_version"],
            run_id=labels["run_id"],
            trained_at=str(meta.get("trained_at", "")),
            metrics={k: float(v) for k, v in json.loads(str(meta.get("metrics", "{}"))).items()},
            spec=spec,
        )


@dataclass(frozen=True)
class Output:
    prediction: str | float
    prediction_value: float | None
    probabilities: dict[str, float] | None


class ServedModel:
    """Turns validated records into predictions with the pipeline the registry holds.

    With `inference` other than "pipeline" the numpy lowering of the pipeline answers (the
    build checked it agrees on held-out rows); if it cannot be made, the plain pipeline
    answers and a warning says why.
    """

    def __init__(self, model_path: Path, spec: DatasetSpec, inference: str = PIPELINE) -> None:
        self.spec = spec
        self._fields = field_names(spec)
        self._threads = threading.local()
        self.pipeline: Any = load_pipeline(model_path)
        self.classes: list[str] = (
            [str(c) for c in self.pipeline.classes_] if spec.is_classification else []
        )
        self.lowered: LoweredPipeline | None = None
        if inference != PIPELINE:
            try:
                self.lowered = LoweredPipeline(self.pipeline, spec)
            except NotLowerableError as exc:
                log.warning("serving the plain scikit-learn pipeline: %s", exc)

    @property
    def inference(self) -> str:
        """Which path answers: "numpy", "numpy+sklearn" or "pipeline"."""
        return self.lowered.kind if self.lowered is not None else PIPELINE

    def columns(self, records: Sequence[BaseModel]) -> dict[str, list[Any]]:
        """Records as one list of values per feature column (None = missing)."""
        return {name: [getattr(r, field) for r in records] for name, field in self._fields.items()}

    def frame(self, records: Sequence[BaseModel]) -> pd.DataFrame:
        """Records as the frame the pipeline was fitted on, column by column (missing = NaN)."""
        import pandas as pd  # only the plain pipeline needs a frame; the API starts without it

        values = self.columns(records)
        columns: dict[str, np.ndarray[Any, Any]] = {}
        for name in self.spec.numeric:
            columns[name] = np.array(values[name], dtype=float)
        for name in self.spec.categorical:
            columns[name] = np.array(
                [np.nan if v is None else v for v in values[name]], dtype=object
            )
        return pd.DataFrame(columns, columns=self.spec.feature_names)

    def _one_native_thread(self) -> None:
        """Run the pipeline on one OpenMP/BLAS thread in the calling thread.

        OpenMP workers (HistGradientBoosting) spin-wait and fight the event loop for the two
        cores: a one-row predict took 300-450 ms instead of 7 ms under load. The OpenMP limit
        is per thread, so it is set in each thread that predicts, once.
        """
        if not getattr(self._threads, "limited", False):
            from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

            threadpool_limits(1)
            self._threads.limited = True

    def scores(self, records: Sequence[BaseModel], *, plain: bool = False) -> np.ndarray[Any, Any]:
        """Class probabilities (classifiers) or predicted values (regressors), one row each."""
        self._one_native_thread()
        method = "predict_proba" if self.spec.is_classification else "predict"
        if self.lowered is None or plain:
            return np.asarray(getattr(self.pipeline, method)(self.frame(records)), dtype=float)
        return np.asarray(
            getattr(self.lowered, method)(self.columns(records), len(records)), dtype=float
        )

    def predict(self, records: Sequence[BaseModel]) -> list[Output]:
        scores = self.scores(records)
        if not self.spec.is_classification:
            return [Output(float(v), float(v), None) for v in scores]
        best = scores.argmax(axis=1)
        return [
            Output(
                self.classes[int(i)],
                None,
                {c: round(float(p), 6) for c, p in zip(self.classes, row, strict=True)},
            )
            for i, row in zip(best, scores, strict=True)
        ]

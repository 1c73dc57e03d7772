"""What a registered version carries, the one code that logs it, and its Bento's name.

Training logs every version with these functions; the build, the gate and the dashboard read
the artifacts back through the registry facade. The build names a version's Bento
`BENTO_NAME:v<version>`, and the local supervisor looks for it under that name. Test fixtures
and benchmarks that need a registered model call the same functions, so their versions carry
exactly what training's do. mlflow, pandas and the profile are imported inside the functions,
so importing the names stays cheap.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from importlib.metadata import version as installed_version
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd
    from mlflow import ActiveRun

    from mlstack_core.settings import Settings
    from mlstack_core.spec import DatasetSpec

from mlstack_core.registry_template import prepare_local_registry

SPEC_ARTIFACT = "dataset_spec.json"
PROFILE_ARTIFACT = "reference/profile.json"
HOLDOUT_ARTIFACT = "reference/holdout.json"
MODEL_ARTIFACT = "model"
SPEC_METADATA = "mlstack_spec"
BENTO_NAME = "mlstack"
MODEL_REQUIREMENTS = ("scikit-learn", "skops", "pandas", "numpy", "scipy")
# What a version was trained on (training writes them, the Models page reads them).
DATA_CARD_ARTIFACT = "data/card.json"
DATA_SNAPSHOT_ARTIFACT = "data/training.parquet"
DATA_ORIGIN_TAG = "mlstack.data.origin"
RETRAIN_FROM_TAG = "mlstack.retrain.from"


def bento_versions_folder(settings: Settings, name: str) -> Path:
    """Where BentoML keeps the Bentos of `name` (one folder per version, each with its
    `bento.yaml`): read directly, so the caller needs no BentoML import."""
    return settings.bentoml_home / "bentos" / name


def bento_built(settings: Settings, tag: str) -> bool:
    """Whether the Bento `NAME:VERSION` is in the settings' BentoML store."""
    name, _, version = tag.partition(":")
    return (bento_versions_folder(settings, name) / version / "bento.yaml").is_file()


def experiment_id(settings: Settings) -> str:
    """The id of the settings' experiment, created (artifacts under the state folder) if new."""
    import logging

    import mlflow

    logging.getLogger("mlflow").setLevel(logging.WARNING)
    uri = settings.mlflow_tracking_uri
    prepare_local_registry(settings)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    experiment = mlflow.get_experiment_by_name(settings.experiment_name)
    if experiment is not None:
        return str(experiment.experiment_id)
    location = settings.artifact_root.as_uri() if uri.startswith("sqlite:") else None
    return str(mlflow.create_experiment(settings.experiment_name, artifact_location=location))


@contextmanager
def start_run(settings: Settings, name: str) -> Iterator[ActiveRun]:
    """An MLflow run in the settings' experiment; a failure inside marks it FAILED."""
    import mlflow

    with mlflow.start_run(experiment_id=experiment_id(settings), run_name=name) as run:
        yield run


def log_reference(
    spec: DatasetSpec, train: pd.DataFrame, holdout: pd.DataFrame, *, seed: int
) -> None:
    """Log the spec, the reference profile of the training rows and the held-out rows.

    Both frames hold the features and the target: monitoring compares live traffic with the
    profile, and the traffic simulator replays the held-out rows with their ground truth.
    """
    import mlflow

    from mlstack_core.profile import ReferenceProfile, holdout_records

    mlflow.log_dict(spec.model_dump(mode="json"), SPEC_ARTIFACT)
    profile = ReferenceProfile.from_frame(train, spec, seed=seed)
    mlflow.log_dict(profile.model_dump(mode="json"), PROFILE_ARTIFACT)
    mlflow.log_dict({"rows": holdout_records(holdout)}, HOLDOUT_ARTIFACT)


def log_model(
    settings: Settings,
    model: Any,
    spec: DatasetSpec,
    features: pd.DataFrame,
    *,
    trusted_types: Sequence[str],
) -> int:
    """Log a fitted scikit-learn model and register it as a new version; its number.

    The spec travels in the MLmodel metadata (serving reads its contract from there), the
    signature and input example come from a few training rows, and the requirements are
    pinned to the installed versions instead of being inferred in a subprocess.
    """
    import mlflow.sklearn
    from mlflow.models import infer_signature

    complete = features.dropna()
    example = (complete if len(complete) else features).head(3)
    info = mlflow.sklearn.log_model(
        sk_model=model,
        name=MODEL_ARTIFACT,
        signature=infer_signature(example, model.predict(example)),
        input_example=example,
        registered_model_name=settings.model_name,
        metadata={SPEC_METADATA: spec.model_dump(mode="json")},
        skops_trusted_types=list(trusted_types),
        pip_requirements=[f"{n}=={installed_version(n)}" for n in MODEL_REQUIREMENTS],
    )
    return int(info.registered_model_version)


def register_version(
    settings: Settings,
    model: Any,
    spec: DatasetSpec,
    train: pd.DataFrame,
    holdout: pd.DataFrame,
    *,
    metrics: Mapping[str, float],
    trusted_types: Sequence[str] = ("numpy.dtype",),
    seed: int = 0,
) -> int:
    """Log and register a fitted model with the artifacts training writes, in a run of its
    own; its version number. For callers that train outside `TrainingJob` (fixtures,
    benchmarks); promoting it is the caller's choice."""
    import mlflow

    with start_run(settings, spec.name):
        mlflow.log_metrics(dict(metrics))
        log_reference(spec, train, holdout, seed=seed)
        return log_model(
            settings, model, spec, train[spec.feature_names], trusted_types=trusted_types
        )

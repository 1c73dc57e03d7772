"""Fixtures: each test gets its own state folder, a real MLflow registry and a real store.

The dashboard must not import the training package, so the champion here is registered the
way training does it (model, dataset spec, reference profile and held-out rows as artifacts)
from a small scikit-learn pipeline fitted on a synthetic churn table.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from mlstack_core.artifacts import HOLDOUT_ARTIFACT, PROFILE_ARTIFACT, SPEC_ARTIFACT
from mlstack_core.profile import ReferenceProfile, holdout_records
from mlstack_core.registry import ModelRegistry, VersionInfo
from mlstack_core.settings import Settings, load_settings
from mlstack_core.spec import DatasetSpec
from mlstack_core.store import PredictionRecord, PredictionStore

NUMERIC = ("age", "charges", "calls")
CATEGORICAL = ("plan", "region")
PLANS = ("basic", "plus", "pro")
REGIONS = ("east", "north", "south", "west")
SPEC = DatasetSpec(
    name="toy-churn",
    target="churn",
    task="binary",
    numeric=NUMERIC,
    categorical=CATEGORICAL,
    classes=("no", "yes"),
    categories={"plan": PLANS, "region": REGIONS},
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def churn_frame(rows: int, seed: int, shift: float = 0.0) -> pd.DataFrame:
    """Synthetic churn data; `shift` moves age and charges by that many standard deviations
    and tilts plans towards "pro"."""
    rng = np.random.default_rng(seed)
    age = rng.normal(40 + 10 * shift, 10, rows)
    charges = rng.normal(70 + 20 * shift, 20, rows)
    calls = rng.poisson(2 + 2 * shift, rows).astype(float)
    plan_p = (0.5, 0.3, 0.2) if shift == 0 else (0.1, 0.2, 0.7)
    plan = rng.choice(PLANS, rows, p=plan_p)
    region = rng.choice(REGIONS, rows)
    logit = -0.04 * (age - 40) + 0.03 * (charges - 70) + 0.5 * (calls - 2)
    churn = np.where(rng.random(rows) < 1 / (1 + np.exp(-logit)), "yes", "no")
    return pd.DataFrame(
        {
            "age": age,
            "charges": charges,
            "calls": calls,
            "plan": plan,
            "region": region,
            "churn": churn,
        }
    )


def fit_pipeline(frame: pd.DataFrame) -> Pipeline:
    pre = ColumnTransformer(
        [
            ("num", StandardScaler(), list(NUMERIC)),
            ("cat", OneHotEncoder(handle_unknown="ignore"), list(CATEGORICAL)),
        ]
    )
    model = Pipeline([("pre", pre), ("clf", LogisticRegression(max_iter=500))])
    model.fit(frame[SPEC.feature_names], frame[SPEC.target])
    return model


@dataclass
class Champion:
    """The registered model and the pieces tests write predictions with."""

    settings: Settings
    info: VersionInfo
    model: Pipeline
    accuracy: float

    def write(
        self,
        frame: pd.DataFrame,
        *,
        latency_ms: float = 12.0,
        minutes_ago: float = 5.0,
        feedback_share: float = 0.0,
        truth: pd.Series | None = None,
    ) -> list[str]:
        """Log predictions for `frame` (spread over the last `minutes_ago` minutes) and
        ground truth for a share of them."""
        predicted = self.model.predict(frame[SPEC.feature_names])
        proba = self.model.predict_proba(frame[SPEC.feature_names])
        now = datetime.now(UTC)
        step = timedelta(minutes=minutes_ago) / max(len(frame), 1)
        records = [
            PredictionRecord(
                model_version=str(self.info.version),
                inputs={k: (v.item() if hasattr(v, "item") else v) for k, v in row.items()},
                prediction=str(label),
                latency_ms=latency_ms,
                probabilities={"no": float(p[0]), "yes": float(p[1])},
                created_at=now - step * (len(frame) - i),
            )
            for i, (row, label, p) in enumerate(
                zip(
                    frame[SPEC.feature_names].to_dict(orient="records"),
                    predicted,
                    proba,
                    strict=True,
                )
            )
        ]
        store = PredictionStore(self.settings.store_url)
        store.migrate()
        store.write(records)
        actual = truth if truth is not None else frame[SPEC.target]
        labelled = int(len(records) * feedback_share)
        for record, value in zip(records[:labelled], actual.iloc[:labelled], strict=True):
            store.add_feedback(record.id, str(value), None)
        store.dispose()
        return [r.id for r in records]


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Settings pointing at a fresh state folder, with API and MLflow ports nobody listens on."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLSTACK_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("MLSTACK_API_PORT", str(free_port()))
    monkeypatch.setenv("MLSTACK_MLFLOW_PORT", str(free_port()))
    for name in (
        "MLSTACK_TRACKING_URI",
        "MLSTACK_PREDICTION_STORE_URL",
        "MLSTACK_API_URL",
        "MLSTACK_ALERT_WEBHOOK_URL",
        "MLSTACK_ENV",
    ):
        monkeypatch.delenv(name, raising=False)
    return load_settings()


def register(settings: Settings, frame: pd.DataFrame, holdout: pd.DataFrame) -> Champion:
    """Log and register a model version as training does, then promote it."""
    import mlflow
    import mlflow.sklearn

    model = fit_pipeline(frame)
    accuracy = float((model.predict(holdout[SPEC.feature_names]) == holdout[SPEC.target]).mean())
    settings.ensure_state_dir()
    mlflow.set_tracking_uri(settings.mlflow_tracking_uri)
    mlflow.set_registry_uri(settings.mlflow_tracking_uri)
    experiment = mlflow.get_experiment_by_name(settings.experiment_name)
    experiment_id = (
        experiment.experiment_id
        if experiment
        else mlflow.create_experiment(
            settings.experiment_name, artifact_location=settings.artifact_root.as_uri()
        )
    )
    with mlflow.start_run(experiment_id=experiment_id):
        mlflow.log_metrics({"accuracy": accuracy})
        mlflow.log_dict(SPEC.model_dump(mode="json"), SPEC_ARTIFACT)
        profile = ReferenceProfile.from_frame(frame, SPEC, seed=0)
        mlflow.log_dict(profile.model_dump(mode="json"), PROFILE_ARTIFACT)
        mlflow.log_dict({"rows": holdout_records(holdout)}, HOLDOUT_ARTIFACT)
        logged = mlflow.sklearn.log_model(
            sk_model=model,
            name="model",
            registered_model_name=settings.model_name,
            skops_trusted_types=["numpy.dtype"],
        )
    registry = ModelRegistry(settings)
    info = registry.promote(int(logged.registered_model_version), "registered by the test")
    return Champion(settings, info, model, accuracy)


@pytest.fixture
def champion(settings: Settings) -> Champion:
    return register(settings, churn_frame(1500, seed=1), churn_frame(400, seed=2))

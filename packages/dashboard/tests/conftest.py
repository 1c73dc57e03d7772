"""Fixtures: each test gets its own state folder, a real MLflow registry and a real store.

The dashboard must not import the training package, so the champion here is a small
classifier fitted on a synthetic churn table and registered by
`mlstack_core.testing.champion`, with the code training registers with (model, dataset spec,
reference profile and held-out rows as artifacts).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlstack_core.settings import Settings, load_settings
from mlstack_core.spec import DatasetSpec
from mlstack_core.store import PredictionRecord, PredictionStore
from mlstack_core.testing import champion as registered
from mlstack_core.testing.servers import free_port

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


@dataclass(frozen=True)
class Champion(registered.Champion):
    """The registered champion, and a way to write predictions made with it."""

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


@pytest.fixture
def champion(settings: Settings) -> Champion:
    found = registered.register_champion(
        settings, SPEC, churn_frame(1500, seed=1), churn_frame(400, seed=2)
    )
    return Champion(found.settings, found.info, found.model, found.accuracy)

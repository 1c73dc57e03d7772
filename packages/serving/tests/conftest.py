"""Fixtures: a real registered model in a temporary MLflow store, and servers that use it.

Serving may not import the training package, so the model is fitted here: a small
scikit-learn Pipeline on generated data, logged the way training logs it (skops, the spec in
the MLmodel metadata) and promoted to champion through the registry facade.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest

from mlstack_core.processes import signal_tree
from mlstack_core.profile import HOLDOUT_ARTIFACT, holdout_records
from mlstack_core.registry import ModelRegistry
from mlstack_core.settings import Settings
from mlstack_core.spec import DatasetSpec

BIN = Path(sys.executable).parent
MAX_RECORDS = 50
SPEC = DatasetSpec(
    name="synthetic",
    target="label",
    task="binary",
    numeric=("x1", "x2"),
    categorical=("color", "size"),
    categories={"color": ("blue", "green", "red"), "size": ("1", "2", "3")},
    classes=("no", "yes"),
)
RECORD: dict[str, Any] = {"x1": 0.5, "x2": -1.0, "color": "red", "size": 2}


def training_frame(rows: int = 300, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "x1": rng.normal(size=rows),
            "x2": rng.normal(size=rows),
            "color": rng.choice(["blue", "green", "red"], size=rows),
            "size": rng.choice(["1", "2", "3"], size=rows),
        }
    )
    frame.loc[frame.sample(frac=0.1, random_state=seed).index, "x2"] = np.nan
    score = frame["x1"] + (frame["color"] == "red") - 0.5 * frame["size"].astype(int)
    frame["label"] = np.where(score > -0.5, "yes", "no")
    return frame


def register_champion(settings: Settings, *, holdout: bool = True) -> int:
    """Fit, log, register and promote a model in the settings' MLflow store; its version.

    With `holdout`, the run logs held-out rows as training does (the build checks the numpy
    inference path on them)."""
    import mlflow
    import mlflow.sklearn
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    frame = training_frame()
    features = ColumnTransformer(
        [
            ("numeric", SimpleImputer(strategy="median"), list(SPEC.numeric)),
            (
                "categorical",
                Pipeline(
                    [
                        ("impute", SimpleImputer(strategy="constant", fill_value="__missing__")),
                        ("encode", OneHotEncoder(handle_unknown="ignore", sparse_output=False)),
                    ]
                ),
                list(SPEC.categorical),
            ),
        ]
    )
    model = Pipeline([("features", features), ("model", LogisticRegression())])
    model.fit(frame[SPEC.feature_names], frame[SPEC.target])
    settings.ensure_state_dir()
    mlflow.set_tracking_uri(settings.mlflow_tracking_uri)
    mlflow.set_registry_uri(settings.mlflow_tracking_uri)
    experiment = mlflow.create_experiment(
        "serving-tests", artifact_location=settings.artifact_root.as_uri()
    )
    with mlflow.start_run(experiment_id=experiment):
        mlflow.log_metric("accuracy", float((model.predict(frame) == frame["label"]).mean()))
        if holdout:
            rows = holdout_records(training_frame(rows=200, seed=1))
            mlflow.log_dict({"rows": rows}, HOLDOUT_ARTIFACT)
        info = mlflow.sklearn.log_model(
            sk_model=model,
            name="model",
            registered_model_name=settings.model_name,
            metadata={"mlstack_spec": SPEC.model_dump(mode="json")},
            skops_trusted_types=["numpy.dtype"],
        )
    version = int(info.registered_model_version)
    ModelRegistry(settings).promote(version, "serving tests")
    return version


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def state_env(home: Path, **extra: str) -> dict[str, str]:
    """Environment of a process that keeps all its state under `home`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLSTACK_", "BENTOML_"))}
    env.update(
        {
            "MLSTACK_HOME": str(home),
            "BENTOML_HOME": str(home / "bentoml"),
            "MLSTACK_MAX_RECORDS": str(MAX_RECORDS),
            "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        }
    )
    env.update(extra)
    return env


@dataclass
class Server:
    base_url: str
    store_url: str
    process: subprocess.Popen[bytes]
    log: Path

    def kill(self, sig: signal.Signals = signal.SIGKILL) -> None:
        """Signal the server's process group and every descendant.

        BentoML starts each worker in a process group of its own, so signalling the group
        alone would leave the workers (and the listening socket) alive after a kill -9.
        """
        signal_tree(self.process.pid, sig)
        self.process.wait(timeout=30)


def start_server(home: Path, env: dict[str, str]) -> Server:
    port = free_port()
    env = {**env, "MLSTACK_API_HOST": "127.0.0.1", "MLSTACK_API_PORT": str(port)}
    log = home / "server.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(BIN / "mlstack-serve"), "serve"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"
    server = Server(base, f"sqlite:///{home / 'predictions.db'}", process, log)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"server exited early:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    server.kill()
    raise AssertionError(f"server not ready in 90 s:\n{log.read_text()[-3000:]}")


@pytest.fixture
def built_home(tmp_path: Path) -> Path:
    """A state folder of its own with a champion and its Bento built by `mlstack-serve build`."""
    home = tmp_path / "state"
    register_champion(Settings(home=home))
    subprocess.run(
        [str(BIN / "mlstack-serve"), "build"], env=state_env(home), check=True, timeout=180
    )
    return home


@pytest.fixture
def server(built_home: Path) -> Iterator[Server]:
    """`mlstack-serve serve` of the built Bento on a free port, in its own process group."""
    running = start_server(built_home, state_env(built_home))
    yield running
    running.kill(signal.SIGTERM)


@pytest.fixture(scope="session")
def service_module(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The service module, imported once against a state folder of the session's own.

    Its request types are built at import from the champion's contract, so the in-process
    tests share one model; each test still gets its own prediction store (`client`).
    """
    import importlib

    home = tmp_path_factory.mktemp("inprocess") / "state"
    with pytest.MonkeyPatch.context() as patch:
        for key, value in state_env(home).items():
            if key.startswith(("MLSTACK_", "BENTOML_")):
                patch.setenv(key, value)
        register_champion(Settings(home=home))
        yield importlib.import_module("mlstack_serving.service")


@dataclass
class Api:
    client: Any
    store: Any

    def count(self) -> int:
        return int(self.store.count())


@pytest.fixture(scope="session")
def api(service_module: Any) -> Iterator[Api]:
    """The service in process (Service.to_asgi + TestClient), one per session.

    BentoML's batch dispatcher binds to the first event loop it runs on and the app registers
    its metrics once per process, so the session shares one app and one prediction store;
    tests assert on their own prediction ids and on row-count deltas.
    """
    from starlette.testclient import TestClient

    from mlstack_core.settings import load_settings
    from mlstack_core.store import PredictionStore

    app = service_module.Mlstack.to_asgi()
    with TestClient(app, raise_server_exceptions=False) as client:
        yield Api(client, PredictionStore(load_settings().store_url))

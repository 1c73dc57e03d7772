"""Fixtures: a real registered model in a temporary MLflow store, and servers that use it.

Serving may not import the training package, so the champion is a small classifier fitted
here on generated data and registered by `mlstack_core.testing.champion`, with the code
training registers with (skops, the spec in the MLmodel metadata, the reference artifacts).
"""

from __future__ import annotations

import signal
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from mlstack_core.endpoints import API_READY_PATH
from mlstack_core.processes import signal_tree
from mlstack_core.settings import Settings
from mlstack_core.spec import DatasetSpec
from mlstack_core.testing.champion import register_champion
from mlstack_core.testing.servers import VENV_BIN, free_port, spawn, venv_env, wait_healthy

MAX_RECORDS = 50
HOLDOUT_ROWS = 200
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


def register(settings: Settings) -> int:
    """Register and promote a champion in the settings' MLflow store; its version."""
    champion = register_champion(
        settings,
        SPEC,
        training_frame(),
        training_frame(HOLDOUT_ROWS, seed=1),
        reason="serving tests",
    )
    return champion.info.version


def state_env(home: Path, **extra: str) -> dict[str, str]:
    """Environment of a process that keeps all its state under `home`."""
    inherited = venv_env()
    return {
        **{k: v for k, v in inherited.items() if not k.startswith(("MLSTACK_", "BENTOML_"))},
        "MLSTACK_HOME": str(home),
        "BENTOML_HOME": str(home / "bentoml"),
        "MLSTACK_MAX_RECORDS": str(MAX_RECORDS),
        **extra,
    }


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


def build(home: Path) -> str:
    """`mlstack-serve build` of the champion in `home`; what it said, on one line."""
    done = subprocess.run(
        [str(VENV_BIN / "mlstack-serve"), "build"],
        env=state_env(home),
        check=True,
        capture_output=True,
        text=True,
        timeout=180,
    )
    return " ".join(done.stderr.split())


def start_server(home: Path, env: dict[str, str]) -> Server:
    port = free_port()
    env = {**env, "MLSTACK_API_HOST": "127.0.0.1", "MLSTACK_API_PORT": str(port)}
    log = home / "server.log"
    process = spawn(["mlstack-serve", "serve"], env=env, log=log)
    base = f"http://127.0.0.1:{port}"
    server = Server(base, f"sqlite:///{home / 'predictions.db'}", process, log)
    try:
        wait_healthy(f"{base}{API_READY_PATH}", process, seconds=240, log=log)
    except AssertionError:
        server.kill()
        raise
    return server


@pytest.fixture
def built_home(tmp_path: Path) -> Path:
    """A state folder of its own with a champion and its Bento built by `mlstack-serve build`."""
    home = tmp_path / "state"
    register(Settings(home=home))
    build(home)
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
        register(Settings(home=home))
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

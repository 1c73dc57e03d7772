"""End-to-end fixtures: a private state folder and free ports per stack, stopped afterwards."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from mlstack_core.testing.servers import VENV_BIN, free_port, spawn, venv_env

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Stack:
    """A state folder and ports for one `invoke up`, and a way to run invoke tasks on it."""

    home: Path
    api_port: int
    dashboard_port: int
    mlflow_port: int

    @property
    def env(self) -> dict[str, str]:
        return venv_env(
            MLSTACK_HOME=str(self.home),
            MLSTACK_API_PORT=str(self.api_port),
            MLSTACK_DASHBOARD_PORT=str(self.dashboard_port),
            MLSTACK_MLFLOW_PORT=str(self.mlflow_port),
        )

    def invoke(
        self, *args: str, timeout: float = 600, extra_env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(VENV_BIN / "invoke"), *args],
            cwd=ROOT,
            env={**self.env, **(extra_env or {})},
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def url(self, port: int, path: str) -> str:
        return f"http://127.0.0.1:{port}{path}"

    def spawn(self, *command: str) -> subprocess.Popen[bytes]:
        """A long-running command of the workspace in its own process group."""
        return spawn(command, env=self.env, cwd=ROOT)


def new_stack(home: Path) -> Stack:
    return Stack(
        home=home, api_port=free_port(), dashboard_port=free_port(), mlflow_port=free_port()
    )


@pytest.fixture(scope="module")
def stack_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One state folder per module: the first `up` bootstraps it, later ones reuse the model."""
    return tmp_path_factory.mktemp("stack")


@pytest.fixture
def stack(stack_home: Path) -> Iterator[Stack]:
    running = new_stack(stack_home)
    yield running
    running.invoke("down", timeout=120)

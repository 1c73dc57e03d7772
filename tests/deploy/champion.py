"""A champion trained on the seed sample and its Bento, in a state folder of the test session."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from mlstack_core.testing.servers import VENV_BIN as BIN
from tests.conftest import ROOT


def state_env(home: Path, **extra: str) -> dict[str, str]:
    """The environment of a command run against the state folder `home`."""
    return {
        **os.environ,
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "MLSTACK_HOME": str(home),
        **extra,
    }


def run_tool(*command: str, env: dict[str, str], timeout: float = 600) -> str:
    """Run a workspace console script; fail the test with its output when it fails."""
    done = subprocess.run(
        [str(BIN / command[0]), *command[1:]],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert done.returncode == 0, f"{' '.join(command)} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="session")
def bento_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A state folder whose registry has a champion (version 1) and whose store has its Bento."""
    home = tmp_path_factory.mktemp("bento-home")
    env = state_env(home)
    run_tool("mlstack-train", "train", "--seed-sample", env=env)
    run_tool("mlstack-serve", "build", env=env)
    return home

"""`invoke wheelhouse`: the wheels of a Bento's requirements, cached, enough to install offline."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from mlstack_core.testing.servers import VENV_BIN as BIN
from tests.conftest import ROOT
from tests.deploy.champion import run_tool, state_env

pytestmark = [pytest.mark.deploy, pytest.mark.slow]


def wheelhouse(home: Path, bento: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "mlstack-containers"), "wheelhouse", "--bento", bento],
        env=state_env(home),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def test_wheelhouse_pins_the_bento_closure_and_resolves_offline(bento_home: Path) -> None:
    env = state_env(bento_home)
    folder = Path(run_tool("mlstack-containers", "wheelhouse", env=env).strip().splitlines()[-1])
    lock = (folder / "requirements.lock.txt").read_text()
    bento_reqs = (
        (bento_home / "bentoml/bentos/mlstack/v1/env/python/requirements.txt").read_text().split()
    )
    for requirement in bento_reqs:
        assert requirement.replace("_", "-").lower() in lock, requirement
    resolved = subprocess.run(
        [
            str(BIN / "uv"),
            "pip",
            "compile",
            "--no-index",
            "--find-links",
            str(folder),
            "--python-version",
            "3.11",
            "--python-platform",
            "x86_64-manylinux_2_36",
            "--no-header",
            "--no-annotate",
            str(folder / "requirements.in"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert resolved.returncode == 0, resolved.stderr
    assert set(resolved.stdout.split()) <= set(lock.split())
    again = wheelhouse(bento_home, "mlstack:v1")
    assert again.returncode == 0
    assert "reused" in again.stderr
    assert again.stdout.strip() == str(folder)


def test_unknown_bento_is_a_clear_error(bento_home: Path) -> None:
    done = wheelhouse(bento_home, "mlstack:v99")
    assert done.returncode == 4
    assert "no Bento 'mlstack:v99'" in done.stderr
    assert "invoke build" in done.stderr
    assert "Traceback" not in done.stderr

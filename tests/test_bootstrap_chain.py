"""`up`'s bootstrap runs training and the build in one process and names the step that failed,
with the real console scripts and an empty registry."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from mlstack_core.registry import ModelRegistry
from mlstack_core.settings import load_settings
from mlstack_core.testing.servers import stop
from mlstack_deploy.cli import Step, bootstrap

pytestmark = pytest.mark.e2e


@pytest.fixture
def empty_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MLSTACK_HOME", str(tmp_path))
    return tmp_path


def test_a_failing_build_after_training_is_named_with_its_error(empty_home: Path) -> None:
    finished: list[int] = []
    failure = bootstrap(
        load_settings(),
        [
            Step("a step that works", ["mlstack", "--help"]),
            Step("build", ["mlstack-serve", "build"]),
        ],
        finished.append,
    )
    assert finished == [0]
    assert failure is not None
    assert failure[0] == 1
    assert failure[1].startswith("error: no champion model 'mlstack' in the registry")


def test_a_failing_training_stops_before_the_build(empty_home: Path) -> None:
    data = empty_home / "table.csv"
    data.write_text("a,b\n1,2\n3,4\n")
    finished: list[int] = []
    failure = bootstrap(
        load_settings(),
        [
            Step("train", ["mlstack-train", "train", "--data", str(data)]),
            Step("build", ["mlstack-serve", "build"]),
        ],
        finished.append,
    )
    assert (finished, failure) == ([], (0, "error: no target column given"))
    assert not (empty_home / "bentoml" / "bentos").exists()


def test_steps_that_succeed_report_no_failure(empty_home: Path) -> None:
    finished: list[int] = []
    steps = [
        Step("help", ["mlstack", "--help"]),
        Step("status help", ["mlstack", "status", "--help"]),
    ]
    assert bootstrap(load_settings(), steps, finished.append) is None
    assert finished == [0, 1]


def test_the_plots_left_for_the_exit_do_not_hold_the_callers_pipes(empty_home: Path) -> None:
    """The caller's stdout reaches its end while the plots are still being made; they land."""
    progress, writer = os.pipe()
    train = ["mlstack-train", "train", "--seed-sample", "--plots-later"]
    chain = subprocess.Popen(
        [sys.executable, "-m", "mlstack_deploy.chain", "--progress-fd", str(writer), *train],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        pass_fds=(writer,),
        env={**os.environ, "MLSTACK_HOME": str(empty_home)},
        start_new_session=True,
    )
    os.close(writer)
    try:
        with os.fdopen(progress) as done:
            assert done.read().split() == ["0"]
        assert chain.stdout is not None
        assert "promoted to champion" in chain.stdout.read().decode()
        assert chain.poll() is None, "the chain should still be logging the plots"
        assert chain.wait(timeout=300) == 0
    finally:
        stop(chain)
    settings = load_settings()
    registry = ModelRegistry(settings)
    run_id = registry.require_champion().run_id
    assert len(registry.client.list_artifacts(run_id, "plots")) == 3

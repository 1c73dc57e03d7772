"""`up`'s bootstrap runs training and the build in one process and names the step that failed,
with the real console scripts and an empty registry."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlstack_core.settings import load_settings
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

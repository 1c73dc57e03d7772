"""`mlstack reload-api` when nothing runs: it says so, exits 0 and starts nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from mlstack_core.settings import Settings
from mlstack_deploy.cli import app
from mlstack_deploy.swap import replacement, swap_api


def test_nothing_to_move_when_the_api_is_not_running(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLSTACK_HOME", str(tmp_path / "state"))
    result = swap_api(Settings())
    assert result.status == "not running"
    assert not (tmp_path / "state" / "run" / "api.json").exists()
    shown = CliRunner().invoke(app, ["reload-api"])
    assert shown.exit_code == 0, shown.output
    assert "not running under `mlstack up`" in shown.output


def test_the_replacement_waits_for_the_port() -> None:
    command = replacement(Settings()).command
    assert command[-3:-1] == ["serve", "--wait-for-port"]

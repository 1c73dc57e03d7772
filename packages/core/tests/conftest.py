"""Every test gets its own state folder: MLflow store, prediction store and BentoML home."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlstack_core.settings import Settings
from mlstack_core.testing.postgres import postgres_url

__all__ = ["postgres_url"]


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("MLSTACK_HOME", str(tmp_path / "state"))
    return Settings(home=tmp_path / "state")

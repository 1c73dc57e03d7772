"""Each test points MLSTACK_HOME (MLflow store, artifacts) at its own temporary folder."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from mlstack_core.settings import Settings
from mlstack_training import seed
from mlstack_training.job import TrainingJob, TrainingRequest, TrainingResult


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    home = tmp_path / "state"
    monkeypatch.setenv("MLSTACK_HOME", str(home))
    return Settings(home=home)


@pytest.fixture(scope="session")
def seed_frame() -> pd.DataFrame:
    return pd.read_csv(seed.seed_csv())


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Settings, TrainingResult]]:
    """One seed-sample champion shared by the tests of a module (training takes seconds)."""
    home = tmp_path_factory.mktemp("trained")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLSTACK_HOME", str(home))
        settings = Settings(home=home)
        result = TrainingJob(settings).run(
            TrainingRequest(data=seed.seed_csv(), spec_path=seed.seed_spec())
        )
        yield settings, result

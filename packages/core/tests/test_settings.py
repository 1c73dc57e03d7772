from __future__ import annotations

from pathlib import Path

import pytest

from mlstack_core.errors import ConfigError
from mlstack_core.settings import Settings, load_settings


def test_local_profile_keeps_all_state_under_home(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path)
    assert settings.mlflow_tracking_uri == f"sqlite:///{tmp_path / 'mlflow.db'}"
    assert settings.store_url == f"sqlite:///{tmp_path / 'predictions.db'}"
    assert settings.bentoml_home == tmp_path / "bentoml"
    assert settings.api_base_url == "http://127.0.0.1:3000"


def test_environment_variables_override_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLSTACK_API_PORT", "3100")
    monkeypatch.setenv("MLSTACK_MODEL_NAME", "churn")
    settings = load_settings()
    assert settings.api_port == 3100
    assert settings.model_name == "churn"


def test_docker_profile_points_at_compose_services() -> None:
    settings = Settings(env="docker")
    assert settings.mlflow_tracking_uri == "http://mlflow:5000"
    assert settings.store_url.startswith("postgresql+psycopg://")


def test_production_refuses_to_guess(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLSTACK_ENV", "production")
    monkeypatch.setenv("MLSTACK_TRACKING_URI", "http://mlflow.internal:5000")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert "MLSTACK_PREDICTION_STORE_URL" in caught.value.cause
    assert "MLSTACK_API_TOKEN" in caught.value.cause


def test_production_with_everything_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLSTACK_ENV", "production")
    monkeypatch.setenv("MLSTACK_TRACKING_URI", "http://mlflow.internal:5000")
    monkeypatch.setenv("MLSTACK_PREDICTION_STORE_URL", "postgresql+psycopg://u:p@db/mlstack")
    monkeypatch.setenv("MLSTACK_API_TOKEN", "s3cret")
    settings = load_settings()
    assert settings.token_required
    assert "s3cret" not in repr(settings)
    assert settings.mlflow_ui_url == "http://mlflow.internal:5000"


def test_invalid_value_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLSTACK_API_PORT", "not-a-port")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert "MLSTACK_API_PORT" in caught.value.cause

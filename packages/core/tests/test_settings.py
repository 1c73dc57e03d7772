from __future__ import annotations

import os
from pathlib import Path

import pytest

from mlstack_core.errors import ConfigError
from mlstack_core.settings import Settings, load_settings, project_root


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


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project folder (it holds tasks.py) with no MLSTACK_ variable set."""
    for key in [k for k in os.environ if k.startswith("MLSTACK_")]:
        monkeypatch.delenv(key)
    (tmp_path / "tasks.py").write_text("")
    (tmp_path / "packages" / "deep").mkdir(parents=True)
    return tmp_path


def test_the_state_folder_is_anchored_at_the_project_root(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(project / "packages" / "deep")
    settings = load_settings()
    assert settings.state_dir == project / ".mlstack"
    assert settings.store_url == f"sqlite:///{project / '.mlstack' / 'predictions.db'}"


def test_dotenv_is_read_from_the_root_and_handed_to_children_resolved(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (project / ".env").write_text(
        "MLSTACK_API_PORT=3999\nMLSTACK_PREDICTION_STORE_URL=sqlite:///data/p.db\n"
        "MLSTACK_API_TOKEN=s3cret\n"  # pragma: allowlist secret
    )
    monkeypatch.chdir(project / "packages")
    env = load_settings().child_env({"EXTRA": "1"})
    assert env["MLSTACK_API_PORT"] == "3999"
    assert env["MLSTACK_HOME"] == str(project / ".mlstack")
    assert env["MLSTACK_API_TOKEN"] == "s3cret"  # pragma: allowlist secret
    assert env["EXTRA"] == "1"
    monkeypatch.chdir(project / "packages" / "deep")
    for key, value in env.items():
        if key.startswith("MLSTACK_"):
            monkeypatch.setenv(key, value)
    child = load_settings()
    assert child.store_url == f"sqlite:///{project / 'data' / 'p.db'}"
    assert child.api_port == 3999


def test_without_a_project_the_working_directory_is_the_root(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert project_root() == tmp_path.resolve()

"""The one settings class: every path, URL, port and threshold, from `MLSTACK_*` variables.

The profile (`MLSTACK_ENV`) picks defaults for where state lives; nothing else in the code
reads the environment. Local keeps everything under `.mlstack/`; docker points at the container
service names `mlflow` and `postgres`; production must be told its database, MLflow server and
API token.

Settings are resolved once, by the process a person starts: a relative state folder is anchored
at the project root (the folder holding `tasks.py`, found from the working directory upwards),
`.env` is read from that root, and every process the stack starts gets the resolved values as
variables (`Settings.child_env`). A BentoML worker runs inside its Bento's folder: it must never
resolve `.mlstack` there.
"""

from __future__ import annotations

import os
from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from mlstack_core.errors import ConfigError

Profile = Literal["local", "docker", "production"]

DOCKER_TRACKING_URI = "http://mlflow:5000"
# A throwaway database user for the docker profile's `postgres` service; production sets its own.
DOCKER_PREDICTION_STORE_URL = (
    "postgresql+psycopg://mlstack:mlstack@postgres:5432/mlstack"  # pragma: allowlist secret
)


PROJECT_MARKER = "tasks.py"
DEFAULT_HOME = Path(".mlstack")
COMPOSE_HINT = (
    "MLSTACK_ENV=docker expects the compose network: run `invoke compose-up`, "
    "or unset MLSTACK_ENV for the local stack"
)


def project_root(start: Path | None = None) -> Path:
    """The folder holding `tasks.py`, from `start` (the working directory) upwards.

    An installed deployment (a container, a VM) has no `tasks.py`: there the working directory
    is the root, and its settings should name absolute paths.
    """
    here = (start or Path.cwd()).resolve()
    return next((d for d in (here, *here.parents) if (d / PROJECT_MARKER).is_file()), here)


def anchored(url: str) -> str:
    """A `sqlite:///relative/path` URL made absolute at the project root; others unchanged."""
    prefix = "sqlite:///"
    path = url.removeprefix(prefix)
    if not url.startswith(prefix) or not path or path.startswith(("/", ":memory:")):
        return url
    return f"{prefix}{(project_root() / path).resolve()}"


class Settings(BaseSettings):
    """Where everything lives and how the gate, the API and monitoring behave."""

    model_config = SettingsConfigDict(env_prefix="MLSTACK_", frozen=True, extra="ignore")

    env: Profile = "local"
    home: Path = DEFAULT_HOME
    cache_dir: Path = Path("~/.cache/mlstack")
    tracking_uri: str | None = None
    prediction_store_url: str | None = None
    model_name: str = "mlstack"
    experiment_name: str = "mlstack"

    api_host: str = "127.0.0.1"
    api_port: int = Field(default=3000, ge=1, le=65535)
    dashboard_port: int = Field(default=8501, ge=1, le=65535)
    mlflow_port: int = Field(default=5000, ge=1, le=65535)
    api_token: SecretStr | None = None
    api_url: str | None = None

    min_rows: int = Field(default=50, ge=2)
    test_size: float = Field(default=0.2, gt=0.0, lt=1.0)
    seed: int = 42
    gate_metric: str | None = None
    gate_min_abs_delta: float = Field(default=0.002, ge=0.0)
    gate_min_rel_delta: float = Field(default=0.0, ge=0.0)

    max_records: int = Field(default=1000, ge=1)

    drift_share_alert: float = Field(default=0.3, gt=0.0, le=1.0)
    drift_pvalue: float = Field(default=0.05, gt=0.0, lt=1.0)
    latency_p99_alert_ms: float = Field(default=500.0, gt=0.0)
    accuracy_drop_alert: float = Field(default=0.1, ge=0.0)
    monitor_window_minutes: int = Field(default=60, ge=1)
    alert_webhook_url: str | None = None
    monitor_min_rows: int = Field(default=100, ge=1)
    monitor_min_feedback: int = Field(default=30, ge=1)
    drift_max_rows: int = Field(default=5000, ge=100)

    # Progressive training and size-aware drift (issue 11).
    snapshot_max_mb: float = Field(default=50.0, ge=0.0)
    retrain_min_rows: int = Field(default=100, ge=1)
    retrain_recent_share: float = Field(default=0.3, gt=0.0, lt=1.0)
    retrain_confidence: float = Field(default=0.95, ge=0.5, lt=1.0)
    drift_distance_min_rows: int = Field(default=1000, ge=1)
    drift_distance_threshold: float = Field(default=0.1, gt=0.0)

    @field_validator("home", mode="before")
    @classmethod
    def _empty_home_is_the_default(cls, value: object) -> object:
        """`MLSTACK_HOME=` (set but empty) means the default, not the project root itself."""
        return DEFAULT_HOME if value in ("", None) else value

    @model_validator(mode="after")
    def _production_is_explicit(self) -> Settings:
        if self.env != "production":
            return self
        missing = [
            f"MLSTACK_{name.upper()}"
            for name in ("tracking_uri", "prediction_store_url", "api_token")
            if getattr(self, name) is None
        ]
        if missing:
            raise ConfigError(
                f"MLSTACK_ENV=production needs {', '.join(missing)}",
                "set them in the environment or a .env file; production has no local defaults",
            )
        return self

    @cached_property
    def state_dir(self) -> Path:
        """The state folder as an absolute path; a relative one is taken from the project root."""
        home = self.home.expanduser()
        return (home if home.is_absolute() else project_root() / home).resolve()

    @property
    def mlflow_tracking_uri(self) -> str:
        if self.tracking_uri:
            return anchored(self.tracking_uri)
        if self.env == "docker":
            return DOCKER_TRACKING_URI
        return f"sqlite:///{self.state_dir / 'mlflow.db'}"

    @property
    def artifact_root(self) -> Path:
        return self.state_dir / "artifacts"

    @property
    def store_url(self) -> str:
        if self.prediction_store_url:
            return anchored(self.prediction_store_url)
        if self.env == "docker":
            return DOCKER_PREDICTION_STORE_URL
        return f"sqlite:///{self.state_dir / 'predictions.db'}"

    @property
    def cache_root(self) -> Path:
        """Slow things made once and reused across clones (base images, wheelhouses)."""
        return self.cache_dir.expanduser().resolve()

    @property
    def bentoml_home(self) -> Path:
        return self.state_dir / "bentoml"

    @property
    def logs_dir(self) -> Path:
        return self.state_dir / "logs"

    @property
    def api_base_url(self) -> str:
        return self.api_url or f"http://{self.api_host}:{self.api_port}"

    @property
    def mlflow_ui_url(self) -> str:
        uri = self.mlflow_tracking_uri
        if uri.startswith(("http://", "https://")):
            return uri
        return f"http://127.0.0.1:{self.mlflow_port}"

    @property
    def token_required(self) -> bool:
        return self.api_token is not None

    def child_env(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        """The environment for a child process: this one's, plus these settings resolved.

        A child then reads exactly what this process read, whatever its working directory and
        whether or not it finds the `.env` file.
        """
        env = {**os.environ, **(extra or {})}
        for name, value in self.model_dump().items():
            if value is None:
                continue
            if name == "home":
                value = self.state_dir
            elif isinstance(value, SecretStr):
                value = value.get_secret_value()
            env[f"MLSTACK_{name.upper()}"] = str(value)
        return env

    def ensure_state_dir(self) -> Path:
        """Create the local state folders (only meaningful for file-backed stores)."""
        for folder in (self.state_dir, self.artifact_root, self.logs_dir):
            folder.mkdir(parents=True, exist_ok=True)
        return self.state_dir


def load_settings() -> Settings:
    """Read settings from the environment (and `.env`), turning validation errors into hints."""
    from pydantic import ValidationError

    try:
        return Settings(_env_file=project_root() / ".env")
    except ValidationError as exc:
        first = exc.errors()[0]
        name = "MLSTACK_" + str(first["loc"][0]).upper() if first["loc"] else "MLSTACK_*"
        raise ConfigError(
            f"setting {name} is invalid: {first['msg']}", "fix the variable or unset it"
        ) from None

"""The registry facade: champion lookup, promotion, rollback and the alias history.

The MLflow registry is the one source of truth for which model is champion. The gate, the
build, the dashboard and the CLI all go through this class, which imports mlflow only when it
is first used, so importing `mlstack_core` stays cheap.
"""

from __future__ import annotations

import json
import socket
import tempfile
import urllib.error
import urllib.request
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict

from mlstack_core.artifacts import HOLDOUT_ARTIFACT, PROFILE_ARTIFACT, SPEC_ARTIFACT
from mlstack_core.endpoints import MLFLOW_HEALTH_PATH, mlflow_remote_url
from mlstack_core.errors import ModelNotFoundError, RegistryError, RegistryUnreachableError
from mlstack_core.registry_template import prepare_local_registry
from mlstack_core.settings import COMPOSE_HINT, Settings

if TYPE_CHECKING:
    from mlflow import MlflowClient

    from mlstack_core.profile import ReferenceProfile
    from mlstack_core.spec import DatasetSpec

CHAMPION = "champion"
CHALLENGER = "challenger"
STACK_TAG = "mlstack.champion_stack"
EVENT_PREFIX = "mlstack.event."
Action = Literal["promote", "rollback"]


class VersionInfo(BaseModel):
    """A registered model version as the rest of mlstack sees it (no mlflow types leak)."""

    model_config = ConfigDict(frozen=True)

    name: str
    version: int
    run_id: str
    aliases: tuple[str, ...]
    tags: dict[str, str]
    created_at: datetime
    source: str

    @property
    def uri(self) -> str:
        return f"models:/{self.name}/{self.version}"


class AliasEvent(BaseModel):
    """One move of the champion alias: when, which way, from where to where, and why."""

    model_config = ConfigDict(frozen=True)

    at: datetime
    action: Action
    version: int
    previous: int | None
    reason: str


PROBE_TIMEOUT_S = 3.0
# MLflow's own HTTP client retries 7 times with backoff over minutes; once the server answered
# the probe, two retries within 30 s cover a blip without hiding an outage.
MLFLOW_HTTP_RETRIES = 2
MLFLOW_HTTP_TIMEOUT_S = 30


def _unreachable_reason(url: str) -> str | None:
    """Why the tracking server at `url` cannot be used, or None when its health answers."""
    try:
        with urllib.request.urlopen(url + MLFLOW_HEALTH_PATH, timeout=PROBE_TIMEOUT_S):  # noqa: S310
            return None
    except urllib.error.HTTPError as exc:
        return f"HTTP {exc.code} ({exc.reason})" if exc.code in (401, 403) else None
    except urllib.error.URLError as exc:
        reason = exc.reason
    except (TimeoutError, OSError) as exc:
        reason = exc
    if isinstance(reason, socket.gaierror):
        return "its host name does not resolve"
    if isinstance(reason, ConnectionRefusedError):
        return "connection refused"
    if isinstance(reason, TimeoutError | socket.timeout):
        return f"no answer within {PROBE_TIMEOUT_S:.0f} s"
    return str(reason)


def ensure_reachable(settings: Settings) -> None:
    """Fail within seconds, with the reason and a hint, when the remote registry is not there.

    A local SQLite registry is always there. MLflow's client would otherwise retry for minutes
    and end in a traceback.
    """
    url = mlflow_remote_url(settings)
    if url is None:
        return
    reason = _unreachable_reason(url)
    if reason is None:
        return
    if settings.env == "docker":
        hint = COMPOSE_HINT
    else:
        hint = "check MLSTACK_TRACKING_URI and that the MLflow server is up"
    raise RegistryUnreachableError(f"the MLflow registry at {url} is unreachable: {reason}", hint)


def _is_missing(exc: Exception) -> bool:
    code = getattr(exc, "error_code", "")
    return code in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE", "NOT_FOUND")


class ModelRegistry:
    """Champion, challenger and history of one registered model."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.name = settings.model_name

    @cached_property
    def client(self) -> MlflowClient:
        from mlflow import MlflowClient
        from mlflow.environment_variables import (
            MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR,
            MLFLOW_HTTP_REQUEST_MAX_RETRIES,
            MLFLOW_HTTP_REQUEST_TIMEOUT,
        )

        ensure_reachable(self.settings)
        MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR.set("false")  # type: ignore[no-untyped-call]
        MLFLOW_HTTP_REQUEST_MAX_RETRIES.set(str(MLFLOW_HTTP_RETRIES))  # type: ignore[no-untyped-call]
        MLFLOW_HTTP_REQUEST_TIMEOUT.set(str(MLFLOW_HTTP_TIMEOUT_S))  # type: ignore[no-untyped-call]
        prepare_local_registry(self.settings)
        uri = self.settings.mlflow_tracking_uri
        return MlflowClient(tracking_uri=uri, registry_uri=uri)

    def _info(self, mv: Any) -> VersionInfo:
        return VersionInfo(
            name=mv.name,
            version=int(mv.version),
            run_id=mv.run_id or "",
            aliases=tuple(getattr(mv, "aliases", ()) or ()),
            tags=dict(mv.tags or {}),
            created_at=datetime.fromtimestamp(mv.creation_timestamp / 1000, tz=UTC),
            source=mv.source or "",
        )

    def _by_alias(self, alias: str) -> VersionInfo | None:
        from mlflow.exceptions import MlflowException

        try:
            return self._info(self.client.get_model_version_by_alias(self.name, alias))
        except MlflowException as exc:
            if _is_missing(exc):
                return None
            raise

    def champion(self) -> VersionInfo | None:
        return self._by_alias(CHAMPION)

    def require_champion(self) -> VersionInfo:
        champion = self.champion()
        if champion is None:
            raise ModelNotFoundError(
                f"no champion model {self.name!r} in the registry at "
                f"{self.settings.mlflow_tracking_uri}",
                "run `invoke train --seed-sample` (or `invoke up`, which bootstraps one)",
            )
        return champion

    def version(self, version: int) -> VersionInfo:
        from mlflow.exceptions import MlflowException

        try:
            return self._info(self.client.get_model_version(self.name, str(version)))
        except MlflowException as exc:
            if _is_missing(exc):
                raise RegistryError(
                    f"model {self.name!r} has no version {version}",
                    "list versions in the MLflow UI (`invoke mlflow`) or the dashboard",
                ) from None
            raise

    def versions(self) -> list[VersionInfo]:
        """Every version, newest first, with its aliases (a version search leaves them empty)."""
        found = self.client.search_model_versions(f"name='{self.name}'")
        if not found:
            return []
        aliases: dict[int, list[str]] = {}
        for alias, version in (self.client.get_registered_model(self.name).aliases or {}).items():
            aliases.setdefault(int(version), []).append(str(alias))
        infos = [self._info(mv) for mv in found]
        return sorted(
            (
                v.model_copy(update={"aliases": tuple(sorted(aliases.get(v.version, v.aliases)))})
                for v in infos
            ),
            key=lambda v: v.version,
            reverse=True,
        )

    def run_metrics(self, run_id: str) -> dict[str, float]:
        return dict(self.client.get_run(run_id).data.metrics)

    def run_started(self, run_id: str) -> datetime:
        """When the run that logged a version started: the model's training time."""
        return datetime.fromtimestamp(self.client.get_run(run_id).info.start_time / 1000, tz=UTC)

    def tag_version(self, version: int, tags: dict[str, str]) -> None:
        for key, value in tags.items():
            self.client.set_model_version_tag(self.name, str(version), key, value)

    def set_challenger(self, version: int) -> None:
        self.client.set_registered_model_alias(self.name, CHALLENGER, str(version))

    def _stack(self) -> list[int]:
        tags = self.client.get_registered_model(self.name).tags or {}
        raw = tags.get(STACK_TAG, "")
        return [int(v) for v in raw.split(",") if v]

    def _record(self, action: Action, version: int, previous: int | None, reason: str) -> None:
        event = AliasEvent(
            at=datetime.now(UTC), action=action, version=version, previous=previous, reason=reason
        )
        key = f"{EVENT_PREFIX}{event.at.strftime('%Y%m%dT%H%M%S%f')}"
        self.client.set_registered_model_tag(self.name, key, event.model_dump_json())

    def promote(self, version: int, reason: str) -> VersionInfo:
        """Make `version` the champion and push it on the history stack."""
        target = self.version(version)
        current = self.champion()
        previous = current.version if current else None
        self.client.set_registered_model_alias(self.name, CHAMPION, str(version))
        challenger = self._by_alias(CHALLENGER)
        if challenger is not None and challenger.version == version:
            self.client.delete_registered_model_alias(self.name, CHALLENGER)
        stack = [*self._stack(), version]
        self.client.set_registered_model_tag(self.name, STACK_TAG, ",".join(map(str, stack)))
        self._record("promote", version, previous, reason)
        return target

    def rollback(self) -> VersionInfo:
        """Give the champion alias back to the version that held it before the current one."""
        current = self.require_champion()
        stack = self._stack()
        while stack and stack[-1] == current.version:
            stack.pop()
        if not stack:
            raise RegistryError(
                f"version {current.version} is the first champion of {self.name!r}; "
                "there is no earlier champion",
                "promote a specific version with `invoke promote VERSION`",
            )
        target = stack[-1]
        self.client.set_registered_model_alias(self.name, CHAMPION, str(target))
        self.client.set_registered_model_tag(self.name, STACK_TAG, ",".join(map(str, stack)))
        self._record("rollback", target, current.version, f"rolled back from v{current.version}")
        return self.version(target)

    def history(self) -> list[AliasEvent]:
        """Every promotion and rollback, oldest first."""
        from mlflow.exceptions import MlflowException

        try:
            tags = self.client.get_registered_model(self.name).tags or {}
        except MlflowException as exc:
            if _is_missing(exc):
                return []
            raise
        events = [
            AliasEvent.model_validate_json(v) for k, v in tags.items() if k.startswith(EVENT_PREFIX)
        ]
        return sorted(events, key=lambda e: e.at)

    def _artifact_text(self, run_id: str, path: str) -> str:
        with tempfile.TemporaryDirectory() as tmp:
            local = self.client.download_artifacts(run_id, path, tmp)
            return Path(local).read_text(encoding="utf-8")

    def spec(self, info: VersionInfo) -> DatasetSpec:
        from mlstack_core.spec import DatasetSpec  # pandas: only for who reads a contract

        return DatasetSpec.from_json(self._artifact_text(info.run_id, SPEC_ARTIFACT))

    def profile(self, info: VersionInfo) -> ReferenceProfile:
        from mlstack_core.profile import ReferenceProfile

        return ReferenceProfile.model_validate(
            json.loads(self._artifact_text(info.run_id, PROFILE_ARTIFACT))
        )

    def holdout(self, info: VersionInfo) -> list[dict[str, Any]]:
        """Held-out rows of the version's training run, with the target: for simulated traffic."""
        document = json.loads(self._artifact_text(info.run_id, HOLDOUT_ARTIFACT))
        rows: list[dict[str, Any]] = document["rows"]
        return rows

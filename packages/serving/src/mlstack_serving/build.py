"""Champion → BentoML model store → Bento `mlstack:v<version>`; each step reuses what exists.

The Bento is the one deployable artifact: it carries the model, the code of mlstack_core and
mlstack_serving, pinned requirements and, as a Bento argument, the exact model tag it serves.
A Bento that holds other code than this checkout's is rebuilt (mlstack_core.bento_code).
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from mlstack_core.artifacts import BENTO_NAME
from mlstack_core.bento_code import (
    SOURCE_PACKAGES,
    SOURCES_LABEL,
    requirement_pins,
    source_folder,
    sources_digest,
)
from mlstack_core.registry import ModelRegistry, VersionInfo
from mlstack_core.settings import Settings
from mlstack_serving.home import use_bentoml_home

if TYPE_CHECKING:
    from mlstack_serving.inference import InferenceChoice

log = logging.getLogger(__name__)

SERVICE = "mlstack_serving.service:Mlstack"


def model_tag(settings: Settings, version: int) -> str:
    return f"{settings.model_name}:v{version}"


def bento_tag(version: int) -> str:
    return f"{BENTO_NAME}:v{version}"


@dataclass(frozen=True)
class BuildResult:
    version: int
    model_tag: str
    bento_tag: str
    model_reused: bool
    bento_reused: bool
    bento_path: str
    inference: str


class ModelImporter:
    """Copies a registry version into the BentoML model store, labelled with its origin."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.registry = ModelRegistry(settings)
        use_bentoml_home(settings.bentoml_home)

    def ensure(self, info: VersionInfo) -> tuple[str, bool]:
        """The model's tag in the store, and whether it was already there."""
        import bentoml
        import mlflow
        from bentoml.exceptions import NotFound

        tag = model_tag(self.settings, info.version)
        try:
            return str(bentoml.models.get(tag).tag), True
        except NotFound:
            pass
        mlflow.set_tracking_uri(self.settings.mlflow_tracking_uri)
        mlflow.set_registry_uri(self.settings.mlflow_tracking_uri)
        trained_at = self.registry.run_started(info.run_id).isoformat()
        metrics = self.registry.run_metrics(info.run_id)
        stored = bentoml.mlflow.import_model(
            tag,
            info.uri,
            labels={
                "registered_name": info.name,
                "registry_version": str(info.version),
                "run_id": info.run_id,
            },
            metadata={"trained_at": trained_at, "metrics": json.dumps(metrics)},
        )
        log.info("imported %s as %s", info.uri, stored.tag)
        return str(stored.tag), False

    def ensure_champion(self) -> str:
        tag, _ = self.ensure(self.registry.require_champion())
        return tag

    def inference(self, info: VersionInfo, tag: str) -> InferenceChoice:
        """The path the stored model `tag` is served with, checked on the version's held-out
        rows (the plain pipeline when the run logged none or the registry cannot give them)."""
        import bentoml
        from mlflow.exceptions import MlflowException

        from mlstack_serving.inference import InferenceChoice, choose
        from mlstack_serving.model import MLFLOW_FOLDER, PIPELINE, ModelCard, ServedModel

        card = ModelCard.from_store(tag)
        path = Path(bentoml.models.get(tag).path_of(MLFLOW_FOLDER))
        try:
            holdout = self.registry.holdout(info)
        except (MlflowException, OSError, KeyError, ValueError) as exc:
            reason = f"the held-out rows of v{info.version} are not readable ({exc})"
            log.warning("serving the plain scikit-learn pipeline: %s", reason)
            return InferenceChoice(PIPELINE, reason)
        return choose(ServedModel(path, card.spec, inference="numpy"), holdout)


class BentoBuilder:
    """Builds (or finds) the Bento for the current champion."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.importer = ModelImporter(settings)

    def _stage(self, folder: Path) -> None:
        """Copy the two packages' sources into the build context (the Bento needs no wheel)."""
        for name in SOURCE_PACKAGES:
            source = source_folder(name)
            assert source is not None, f"{name} builds this Bento, so it is installed"
            shutil.copytree(
                source, folder / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
            )

    def build(self) -> BuildResult:
        import bentoml
        from bentoml.exceptions import NotFound

        champion = self.importer.registry.require_champion()
        tag, model_reused = self.importer.ensure(champion)
        wanted = bento_tag(champion.version)
        sources = sources_digest()
        assert sources is not None, "this module is mlstack_serving: its sources are here"
        try:
            bento = bentoml.get(wanted)
        except NotFound:
            pass
        else:
            if bento.info.labels.get(SOURCES_LABEL) == sources:
                return BuildResult(
                    champion.version,
                    tag,
                    str(bento.tag),
                    model_reused,
                    True,
                    str(bento.path),
                    bento.info.labels.get("inference", "pipeline"),
                )
            log.warning(
                "rebuilding %s: it holds other mlstack code (sources %s, this checkout's %s)",
                wanted,
                bento.info.labels.get(SOURCES_LABEL) or "unlabelled",
                sources,
            )
            bentoml.delete(wanted)
        choice = self.importer.inference(champion, tag)
        log.info("inference path %s: %s", choice.path, choice.reason)
        with tempfile.TemporaryDirectory(prefix="mlstack-bento-") as tmp:
            context = Path(tmp)
            self._stage(context)
            bento = bentoml.bentos.build(
                SERVICE,
                name=BENTO_NAME,
                version=wanted.split(":", 1)[1],
                build_ctx=str(context),
                include=[f"{name}/**" for name in SOURCE_PACKAGES],
                labels={
                    "registered_name": champion.name,
                    "registry_version": str(champion.version),
                    "run_id": champion.run_id,
                    "inference": choice.path,
                    SOURCES_LABEL: sources,
                },
                args={
                    "model_tag": tag,
                    "inference": choice.path,
                    "inference_reason": choice.reason,
                },
                python={
                    "packages": requirement_pins(),
                    "lock_packages": False,
                },
            )
        log.info("built %s", bento.tag)
        return BuildResult(
            champion.version, tag, str(bento.tag), model_reused, False, str(bento.path), choice.path
        )

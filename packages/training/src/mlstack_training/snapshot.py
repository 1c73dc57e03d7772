"""What a version was trained on: its rows as Parquet in the run, or a path and a digest.

Every training run gets a data card (rows, time range, where the rows came from). Up to
`MLSTACK_SNAPSHOT_MAX_MB` the rows themselves are logged with the run; above it the card keeps
the source file's path and SHA-256, and a retrain that finds the file changed refuses to go on
instead of silently training on other data.
"""

from __future__ import annotations

import hashlib
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Literal

import pandas as pd
from pydantic import BaseModel, ConfigDict

from mlstack_core.artifacts import DATA_CARD_ARTIFACT, DATA_ORIGIN_TAG, DATA_SNAPSHOT_ARTIFACT
from mlstack_core.errors import DataError
from mlstack_core.registry import ModelRegistry, VersionInfo
from mlstack_core.settings import Settings
from mlstack_core.spec import DatasetSpec

OriginKind = Literal["seed sample", "file", "feedback"]


class DataOrigin(BaseModel):
    """One source of training rows: the bundled sample, a file, or labelled traffic."""

    model_config = ConfigDict(frozen=True)

    kind: OriginKind
    source: str
    rows: int
    first_at: datetime | None = None
    last_at: datetime | None = None

    def describe(self) -> str:
        text = f"{self.kind} {self.source} ({self.rows:,} rows"
        if self.first_at and self.last_at:
            text += f", {self.first_at:%Y-%m-%d %H:%M} to {self.last_at:%Y-%m-%d %H:%M} UTC"
        return text + ")"


class DataCard(BaseModel):
    """The training data of one run: how many rows, from when, from where, and where it is."""

    model_config = ConfigDict(frozen=True)

    rows: int
    origins: tuple[DataOrigin, ...]
    source: str
    digest: str
    snapshot: str | None

    @property
    def first_at(self) -> datetime | None:
        return min((o.first_at for o in self.origins if o.first_at), default=None)

    @property
    def last_at(self) -> datetime | None:
        return max((o.last_at for o in self.origins if o.last_at), default=None)

    def describe(self) -> str:
        return " + ".join(o.describe() for o in self.origins)


def file_digest(path: Path) -> str:
    """SHA-256 of a file's bytes (read in chunks: training files can be large)."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def training_columns(frame: pd.DataFrame, spec: DatasetSpec) -> pd.DataFrame:
    """The columns a model of `spec` trains on (features and target), in spec order."""
    return frame[[*spec.feature_names, spec.target]]


def record(
    settings: Settings,
    run_id: str,
    version: int,
    frame: pd.DataFrame,
    source: Path,
    origins: tuple[DataOrigin, ...],
) -> DataCard:
    """Log the data card (and the rows as Parquet when small enough) with the version's run."""
    registry = ModelRegistry(settings)
    limit = settings.snapshot_max_mb * 1024 * 1024
    with tempfile.TemporaryDirectory(prefix="mlstack-snapshot-") as tmp:
        parquet = Path(tmp) / Path(DATA_SNAPSHOT_ARTIFACT).name
        frame.to_parquet(parquet, index=False)
        small = parquet.stat().st_size <= limit
        if small:
            folder = Path(DATA_SNAPSHOT_ARTIFACT).parent.as_posix()
            registry.client.log_artifact(run_id, str(parquet), folder)
    card = DataCard(
        rows=len(frame),
        origins=origins,
        source=str(source.resolve()),
        digest=file_digest(source),
        snapshot=DATA_SNAPSHOT_ARTIFACT if small else None,
    )
    registry.client.log_dict(run_id, card.model_dump(mode="json"), DATA_CARD_ARTIFACT)
    registry.tag_version(version, {DATA_ORIGIN_TAG: card.describe()[:5000]})
    return card


def card_of(registry: ModelRegistry, version: VersionInfo) -> DataCard | None:
    """The version's data card; None for versions trained before cards were kept."""
    from mlflow.exceptions import MlflowException

    try:
        with tempfile.TemporaryDirectory(prefix="mlstack-card-") as tmp:
            local = registry.client.download_artifacts(version.run_id, DATA_CARD_ARTIFACT, tmp)
            return DataCard.model_validate_json(Path(local).read_text(encoding="utf-8"))
    except (MlflowException, OSError):
        return None


def load(
    registry: ModelRegistry, version: VersionInfo, spec: DatasetSpec
) -> tuple[pd.DataFrame, DataCard]:
    """The rows `version` was trained on: its snapshot, or its source file if unchanged."""
    card = card_of(registry, version)
    if card is None:
        raise DataError(
            f"v{version.version} has no record of its training data (trained before mlstack "
            "kept data cards)",
            "train it again with `invoke train`, then retrain",
        )
    if card.snapshot is not None:
        with tempfile.TemporaryDirectory(prefix="mlstack-snapshot-") as tmp:
            local = registry.client.download_artifacts(version.run_id, card.snapshot, tmp)
            return training_columns(pd.read_parquet(local), spec), card
    source = Path(card.source)
    if not source.is_file():
        raise DataError(
            f"the training data of v{version.version} ({source}) is gone",
            "restore the file, or train a new champion with `invoke train --data FILE`",
        )
    if file_digest(source) != card.digest:
        raise DataError(
            f"the training data of v{version.version} ({source}) changed since it was trained "
            f"(SHA-256 {card.digest[:12]}… then, {file_digest(source)[:12]}… now)",
            "restore the original file, or train on the new one with `invoke train --data FILE`",
        )
    from mlstack_training.loading import TableReader

    return training_columns(TableReader(source).read(), spec), card

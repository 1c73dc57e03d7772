"""Progressive training: the champion's data plus the labelled traffic since it was trained.

A retrain gathers the predictions that received ground truth since the champion's run, puts
them through the champion's contract, holds the newest of them out, and trains a challenger on
the champion's training rows plus the rest (plus a new file with `--data`). The gate decides
on the held-out recent traffic, rows neither model trained on, because what counts is the
world as it is now; both models' scores on the champion's old held-out rows are reported
beside it. Nothing is written before there are enough labelled rows.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mlstack_core.artifacts import RETRAIN_FROM_TAG
from mlstack_core.contract import validate_frame
from mlstack_core.errors import DataError
from mlstack_core.registry import ModelRegistry, VersionInfo
from mlstack_core.settings import Settings
from mlstack_core.spec import DatasetSpec
from mlstack_training import snapshot
from mlstack_training.evaluation import PrimaryMetric, score
from mlstack_training.feedback import PREDICTED_AT, LabelledRows, labelled_since, screen
from mlstack_training.gate import GateDecision, PromotionGate
from mlstack_training.job import TrainingJob, TrainingRequest, TrainingResult
from mlstack_training.loading import TableReader
from mlstack_training.pipeline import Estimator
from mlstack_training.snapshot import DataOrigin

log = logging.getLogger(__name__)

Step = Callable[[str], None]
DATA_FOLDER = "training-data"
BOOTSTRAP_ROUNDS = 300


class FixedPredictions:
    """A stand-in for a model that answers with predictions made once, by row position, so
    resampling rows for a bootstrap does not predict again."""

    def __init__(self, model: Any, x: pd.DataFrame) -> None:
        self.classes_ = getattr(model, "classes_", None)
        self.predicted = np.asarray(model.predict(x))

    def predict(self, frame: pd.DataFrame) -> Any:
        return self.predicted[frame.index.to_numpy()]


class FixedProbabilities(FixedPredictions):
    def __init__(self, model: Any, x: pd.DataFrame) -> None:
        super().__init__(model, x)
        self.probabilities = np.asarray(model.predict_proba(x))

    def predict_proba(self, frame: pd.DataFrame) -> Any:
        return self.probabilities[frame.index.to_numpy()]


def fixed(model: Any, x: pd.DataFrame) -> FixedPredictions:
    kind = FixedProbabilities if hasattr(model, "predict_proba") else FixedPredictions
    return kind(model, x)


@dataclass(frozen=True)
class RetrainRequest:
    extra_data: Path | None = None
    estimator: Estimator = "hist_gradient_boosting"


@dataclass(frozen=True)
class Gathered:
    """What a retrain trains and decides on, before anything is written."""

    champion: VersionInfo
    spec: DatasetSpec
    since: datetime
    old: pd.DataFrame
    old_card: snapshot.DataCard
    labelled: LabelledRows
    train_new: pd.DataFrame
    recent: pd.DataFrame
    extra: pd.DataFrame | None

    @property
    def first_at(self) -> datetime | None:
        times = self.labelled.rows[PREDICTED_AT]
        return times.min() if len(times) else None

    @property
    def last_at(self) -> datetime | None:
        times = self.labelled.rows[PREDICTED_AT]
        return times.max() if len(times) else None


@dataclass(frozen=True)
class RetrainResult:
    gathered: Gathered
    training: TrainingResult
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def decision(self) -> GateDecision:
        return self.training.decision


def _features_and_target(frame: pd.DataFrame, spec: DatasetSpec) -> pd.DataFrame:
    return frame[[*spec.feature_names, spec.target]]


def through_contract(frame: pd.DataFrame, spec: DatasetSpec) -> pd.DataFrame:
    """`frame` validated by the champion's contract, whatever its size (these rows join or
    score a training set; the spec's minimum applies to a whole training set)."""
    return validate_frame(frame, spec.model_copy(update={"min_rows": None}), min_rows=1)


class RecentTrafficGate(PromotionGate):
    """The gate of a retrain: recent labelled traffic decides, the old held-out rows inform.

    Both models are scored on the same rows: the newest labelled traffic, which neither
    trained on, and the champion's own held-out rows (the challenger never saw them either).
    """

    def __init__(
        self,
        registry: ModelRegistry,
        settings: Settings,
        metric: PrimaryMetric,
        challenger: Any,
        gathered: Gathered,
    ) -> None:
        super().__init__(registry, settings, metric)
        self.challenger = challenger
        self.gathered = gathered

    @cached_property
    def champion_model(self) -> Any:
        import mlflow.sklearn

        return mlflow.sklearn.load_model(self.gathered.champion.uri)

    def _old_scores(self, spec: DatasetSpec) -> tuple[float | None, float | None, int]:
        """(challenger, champion) on the champion's held-out rows, and how many there were."""
        rows = pd.DataFrame.from_records(self.registry.holdout(self.gathered.champion))
        if rows.empty:
            return None, None, 0
        old = through_contract(rows, spec)
        x, y = old[spec.feature_names], old[spec.target]
        name = self.metric.name
        return (
            score(self.challenger, x, y, spec).get(name),
            score(self.champion_model, x, y, spec).get(name),
            len(old),
        )

    def gain_interval(
        self, spec: DatasetSpec, x: pd.DataFrame, y: pd.Series
    ) -> tuple[float, float] | None:
        """A paired bootstrap of the challenger's gain on the recent rows: its lower and upper
        quantiles at MLSTACK_RETRAIN_CONFIDENCE (one-sided), or None if it cannot be computed.

        A hundred recent rows give a score that moves by a few hundredths from one sample to
        the next; promoting on a gain smaller than that would promote noise.
        """
        x, y = x.reset_index(drop=True), y.reset_index(drop=True)
        challenger, champion = fixed(self.challenger, x), fixed(self.champion_model, x)
        rng = np.random.default_rng(self.settings.seed)
        name, gains = self.metric.name, []
        for _ in range(BOOTSTRAP_ROUNDS):
            rows = rng.integers(0, len(x), len(x))
            new = score(challenger, x.iloc[rows], y.iloc[rows], spec).get(name)
            old = score(champion, x.iloc[rows], y.iloc[rows], spec).get(name)
            if new is not None and old is not None:
                gains.append(self.metric.improvement(new, old))
        if len(gains) < BOOTSTRAP_ROUNDS // 2:
            return None
        tail = 1.0 - self.settings.retrain_confidence
        return float(np.quantile(gains, tail)), float(np.quantile(gains, 1.0 - tail))

    def decide(
        self,
        spec: DatasetSpec,
        challenger_scores: dict[str, float],
        x_test: pd.DataFrame,
        y_test: pd.Series,
    ) -> GateDecision:
        recent = self.gathered.recent
        x, y = recent[spec.feature_names], recent[spec.target]
        now_scores = score(self.challenger, x, y, spec)
        decision = super().decide(spec, now_scores, x, y)
        window = ""
        if len(recent):
            first, last = recent[PREDICTED_AT].min(), recent[PREDICTED_AT].max()
            window = f", predicted {first:%H:%M:%S} to {last:%H:%M:%S} UTC"
        note = f"on recent labelled traffic ({len(recent)} rows{window}): {decision.reason}"
        promoted = decision.promoted
        if promoted and decision.champion_score is not None:
            interval = self.gain_interval(spec, x, y)
            confidence = f"{self.settings.retrain_confidence:.0%}"
            if interval is None or interval[0] <= 0:
                promoted = False
                bounds = f" [{interval[0]:+.4f}, {interval[1]:+.4f}]" if interval else ""
                note += (
                    f"; but the gain is not sure at {confidence} on {len(recent)} rows (paired "
                    f"bootstrap{bounds}): kept the champion; more labelled traffic settles it"
                )
            else:
                note += (
                    f" (paired bootstrap at {confidence}: [{interval[0]:+.4f}, {interval[1]:+.4f}])"
                )
        new_score, old_score, old_rows = self._old_scores(spec)
        if new_score is not None and old_score is not None:
            note += (
                f". On v{self.gathered.champion.version}'s old held-out rows ({old_rows}): "
                f"{self.metric.name} {new_score:.4f} vs {old_score:.4f}"
            )
            gain_now = (
                self.metric.improvement(now_scores[self.metric.name], decision.champion_score)
                if decision.champion_score is not None and self.metric.name in now_scores
                else None
            )
            gain_old = self.metric.improvement(new_score, old_score)
            if gain_now is not None and (gain_now > 0) != (gain_old > 0):
                better, worse = (
                    ("recent traffic", "old rows")
                    if gain_now > 0
                    else ("old rows", "recent traffic")
                )
                note += (
                    f"; the two disagree: the challenger is better on the {better} and "
                    f"worse on the {worse}, and the recent traffic decides"
                )
        return GateDecision(promoted, note, decision.champion_version, decision.champion_score)


class Retrainer:
    """Gathers labelled traffic, trains a challenger on it, and gates it on recent traffic."""

    def __init__(self, settings: Settings, on_step: Step | None = None) -> None:
        self.settings = settings
        self.registry = ModelRegistry(settings)
        self.on_step: Step = on_step or (lambda _step: None)

    def _trained_at(self, champion: VersionInfo) -> datetime:
        run = self.registry.client.get_run(champion.run_id)
        return datetime.fromtimestamp(run.info.start_time / 1000, tz=UTC)

    def gather(self, request: RetrainRequest) -> Gathered:
        """Everything the retrain will use; raises DataError (exit 2) when it cannot go on."""
        champion = self.registry.require_champion()
        spec = self.registry.spec(champion)
        since = self._trained_at(champion)
        labelled = screen(labelled_since(self.settings.store_url, since), spec)
        need = self.settings.retrain_min_rows
        if len(labelled.rows) < need:
            refused = (
                f" ({labelled.refused_total} more refused by the contract: "
                f"{_reasons(labelled.refused)})"
                if labelled.refused
                else ""
            )
            raise DataError(
                f"only {len(labelled.rows)} labelled predictions since v{champion.version} was "
                f"trained ({since:%Y-%m-%d %H:%M:%S} UTC){refused}; a retrain needs {need}",
                "send ground truth to /feedback (`invoke simulate-traffic` does), or lower "
                "MLSTACK_RETRAIN_MIN_ROWS",
            )
        old, card = snapshot.load(self.registry, champion, spec)
        extra = None
        if request.extra_data is not None:
            raw = TableReader(request.extra_data).read()
            extra = _features_and_target(through_contract(raw, spec), spec)
        held = max(1, math.ceil(len(labelled.rows) * self.settings.retrain_recent_share))
        return Gathered(
            champion=champion,
            spec=spec,
            since=since,
            old=old,
            old_card=card,
            labelled=labelled,
            train_new=labelled.rows.iloc[: len(labelled.rows) - held],
            recent=labelled.rows.iloc[len(labelled.rows) - held :],
            extra=extra,
        )

    def _write(self, gathered: Gathered) -> tuple[Path, Path]:
        """The challenger's training file and spec, under the state folder (kept: the data
        card of the new version points at it when it is too large to log)."""
        spec = gathered.spec
        parts = [gathered.old, _features_and_target(gathered.train_new, spec)]
        if gathered.extra is not None:
            parts.append(gathered.extra)
        frame = pd.concat(parts, ignore_index=True)
        folder = self.settings.state_dir / DATA_FOLDER
        folder.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
        data = folder / f"retrain-v{gathered.champion.version}-{stamp}.parquet"
        frame.to_parquet(data, index=False)
        spec_file = data.with_suffix(".spec.yaml")
        base = spec.model_dump(mode="json", exclude={"categories", "classes"})
        spec_file.write_text(json.dumps(base, indent=2), encoding="utf-8")
        return data, spec_file

    def origins(self, gathered: Gathered, extra_name: str | None) -> tuple[DataOrigin, ...]:
        new = gathered.train_new
        found = [
            *gathered.old_card.origins,
            DataOrigin(
                kind="feedback",
                source="labelled traffic",
                rows=len(new),
                first_at=new[PREDICTED_AT].min() if len(new) else None,
                last_at=new[PREDICTED_AT].max() if len(new) else None,
            ),
        ]
        if gathered.extra is not None and extra_name:
            found.append(DataOrigin(kind="file", source=extra_name, rows=len(gathered.extra)))
        return tuple(found)

    def run(self, request: RetrainRequest) -> RetrainResult:
        began = time.perf_counter()
        self.on_step("Gathering labelled traffic")
        gathered = self.gather(request)
        gathered_at = time.perf_counter()
        data, spec_file = self._write(gathered)

        def gate(metric: PrimaryMetric, model: Any) -> PromotionGate:
            return RecentTrafficGate(self.registry, self.settings, metric, model, gathered)

        job = TrainingJob(self.settings, self.on_step, gate=gate)
        origins = self.origins(
            gathered, request.extra_data.name if request.extra_data is not None else None
        )
        training = job.run(
            TrainingRequest(
                data=data,
                spec_path=spec_file,
                estimator=request.estimator,
                origins=origins,
            )
        )
        self.registry.tag_version(
            training.version,
            {
                RETRAIN_FROM_TAG: str(gathered.champion.version),
                "mlstack.retrain.refused": json.dumps(dict(gathered.labelled.refused)),
            },
        )
        done = time.perf_counter()
        return RetrainResult(
            gathered,
            training,
            {"gather": gathered_at - began, "train and gate": done - gathered_at},
        )


def _reasons(refused: Counter[str]) -> str:
    return "; ".join(f"{n} {reason}" for reason, n in refused.most_common())


def describe_refused(refused: Counter[str]) -> str:
    """How many rows the contract refused and why, in one line."""
    return _reasons(refused) if refused else "none"


def summary(result: RetrainResult) -> dict[str, Any]:
    """What a retrain used and decided, as JSON-ready values (the CLI, monitor and webhook)."""
    gathered, training = result.gathered, result.training
    return {
        "champion_before": gathered.champion.version,
        "challenger": training.version,
        "promoted": training.decision.promoted,
        "reason": training.decision.reason,
        "rows": {
            "old": len(gathered.old),
            "new": len(gathered.train_new),
            "recent_held_out": len(gathered.recent),
            "file": len(gathered.extra) if gathered.extra is not None else 0,
            "refused": gathered.labelled.refused_total,
        },
        "refused": dict(gathered.labelled.refused),
        "feedback_since": gathered.since.isoformat(),
        "window": [
            t.isoformat() if t is not None else None for t in (gathered.first_at, gathered.last_at)
        ],
        "old_data": gathered.old_card.describe(),
        "seconds": result.seconds,
    }

"""Simulated traffic: real requests to the running API, drawn from the champion's held-out rows.

With `drift`, a few features are shifted (numbers by two reference standard deviations, one
category forced to its rarest training value), so the Drift page and `mlstack-monitor check`
have something to find. Ground truth for a share of the answers goes to `/feedback`, which
is what the Quality page reads. With `changed_truth` as well, the ground truth of the shifted
rows follows a new rule (a real change in the world, not only in the inputs): the label
depends on the first shifted number, so a model retrained on the feedback can learn it.
Rows are replayed in a shuffled order without repeats, as distinct customers would come.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from mlstack_core.endpoints import API_READY_PATH, FEEDBACK_PATH, PREDICT_PATH
from mlstack_core.errors import DataError, ServiceError
from mlstack_core.profile import ReferenceProfile
from mlstack_core.registry import ModelRegistry
from mlstack_core.settings import Settings
from mlstack_core.spec import DatasetSpec

SHIFTED_NUMERIC = 3
SHIFT_STDS = 2.0
Progress = Callable[[int], None]


@dataclass(frozen=True)
class SimulationResult:
    """What was sent and what the API acknowledged."""

    requests: int
    predictions: int
    feedback: int
    failed: int
    seconds: float
    model_version: str | None
    shifted: tuple[str, ...]
    first_error: str | None = None


def shifted_features(spec: DatasetSpec) -> tuple[str, ...]:
    """Which features `--drift` moves: the first few numeric ones and one categorical."""
    return (*spec.numeric[:SHIFTED_NUMERIC], *spec.categorical[:1])


def changed_truth(
    record: dict[str, Any], truth: Any, profile: ReferenceProfile, features: tuple[str, ...]
) -> Any:
    """The ground truth of a shifted record in the changed world.

    Classifiers: the last class above the shifted median of the first shifted number, the
    first class below it. Regressors: the old value plus the target's interquartile range.
    """
    numeric = next((n for n in features if n in profile.numeric), None)
    if numeric is None or truth is None:
        return truth
    if not profile.spec.is_classification:
        spread = profile.target_distribution
        return float(truth) + spread.get("q75", 0.0) - spread.get("q25", 0.0)
    stats = profile.numeric[numeric]
    value = record.get(numeric)
    median = stats.quantiles.get("q50")
    classes = profile.spec.classes
    if value is None or median is None or stats.std is None or not classes:
        return truth
    above = float(value) > median + SHIFT_STDS * stats.std
    return classes[-1] if above else classes[0]


def shift_record(
    record: dict[str, Any], profile: ReferenceProfile, features: tuple[str, ...]
) -> dict[str, Any]:
    """A copy of `record` with `features` moved away from the reference distribution."""
    out = dict(record)
    for name in features:
        if name in profile.numeric:
            stats = profile.numeric[name]
            value = out.get(name)
            if value is None or stats.std is None:
                continue
            moved = float(value) + SHIFT_STDS * stats.std
            out[name] = round(moved) if isinstance(value, int) else moved
        elif name in profile.categorical and profile.categorical[name].frequencies:
            frequencies = profile.categorical[name].frequencies
            out[name] = min(frequencies, key=lambda k: frequencies[k])
    return out


class TrafficSimulator:
    """Sends `/predict` requests and `/feedback` to the API named by settings."""

    def __init__(self, settings: Settings, client: httpx.Client | None = None) -> None:
        self.settings = settings
        headers = {"Content-Type": "application/json"}
        if settings.api_token is not None:
            headers["Authorization"] = f"Bearer {settings.api_token.get_secret_value()}"
        self.client = client or httpx.Client(
            base_url=settings.api_base_url, headers=headers, timeout=30.0
        )

    def _check_api(self) -> None:
        try:
            response = self.client.get(API_READY_PATH, timeout=5.0)
        except httpx.HTTPError as exc:
            raise ServiceError(
                f"the API at {self.settings.api_base_url} is not reachable ({type(exc).__name__})",
                "start it with `uv run invoke up` (or `uv run invoke serve`), then retry",
            ) from None
        if response.status_code != httpx.codes.OK:
            raise ServiceError(
                f"the API at {self.settings.api_base_url} is not ready "
                f"(HTTP {response.status_code})",
                "wait for it to finish starting (`uv run invoke status`), then retry",
            )

    def run(
        self,
        requests: int,
        *,
        drift: bool = False,
        truth_changes: bool = False,
        feedback_share: float = 0.5,
        batch: int = 5,
        seed: int = 0,
        on_progress: Progress | None = None,
    ) -> SimulationResult:
        """Send `requests` requests of 1..`batch` records each; give feedback for a share."""
        registry = ModelRegistry(self.settings)
        champion = registry.require_champion()
        spec = registry.spec(champion)
        rows = registry.holdout(champion)
        if not rows:
            raise DataError(
                f"model version {champion.version} has no held-out rows to replay",
                "retrain with `uv run invoke train` so the run logs reference/holdout.json",
            )
        profile = registry.profile(champion) if drift or truth_changes else None
        moved = shifted_features(spec) if drift or truth_changes else ()
        self._check_api()
        rng = random.Random(seed)
        order = rows[:]
        rng.shuffle(order)
        cursor = 0
        started = time.perf_counter()
        predictions = feedback = failed = 0
        version: str | None = None
        first_error: str | None = None
        for sent in range(1, requests + 1):
            size = rng.randint(1, batch)
            picked = [order[(cursor + i) % len(order)] for i in range(size)]
            cursor += size
            records = [{k: row.get(k) for k in spec.feature_names} for row in picked]
            if profile is not None:
                records = [shift_record(r, profile, moved) for r in records]
            response = self.client.post(PREDICT_PATH, json={"records": records})
            if response.status_code != httpx.codes.OK:
                failed += 1
                first_error = first_error or f"HTTP {response.status_code}: {response.text[:200]}"
                continue
            answers: list[dict[str, Any]] = response.json()
            predictions += len(answers)
            for answer, row, record in zip(answers, picked, records, strict=True):
                version = str(answer.get("model_version", version))
                truth = row.get(spec.target)
                if truth_changes and profile is not None:
                    truth = changed_truth(record, truth, profile, moved)
                if truth is None or rng.random() >= feedback_share:
                    continue
                actual = str(truth) if spec.is_classification else float(truth)
                sent_feedback = self.client.post(
                    FEEDBACK_PATH, json={"prediction_id": answer["prediction_id"], "actual": actual}
                )
                if sent_feedback.status_code == httpx.codes.OK:
                    feedback += 1
            if on_progress is not None:
                on_progress(sent)
        return SimulationResult(
            requests=requests,
            predictions=predictions,
            feedback=feedback,
            failed=failed,
            seconds=time.perf_counter() - started,
            model_version=version,
            shifted=moved,
            first_error=first_error,
        )

    def close(self) -> None:
        self.client.close()

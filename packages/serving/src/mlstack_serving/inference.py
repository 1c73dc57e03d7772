"""Which inference path a model is served with, decided once, at build, on its held-out rows.

The numpy lowering is used only when it agrees with the scikit-learn pipeline on the rows the
version was evaluated on, sent through the request type as a client would send them:
probabilities within 1e-5 and the same labels (regressors: values within 1e-5, relative
above 1). Otherwise the plain pipeline is served and the reason is logged and recorded.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from pydantic import BaseModel, ValidationError

from mlstack_serving.model import PIPELINE, ServedModel
from mlstack_serving.schema import record_type

log = logging.getLogger(__name__)

TOLERANCE = 1e-5


@dataclass(frozen=True)
class InferenceChoice:
    """The path ("numpy", "numpy+sklearn" or "pipeline") and why it was chosen."""

    path: str
    reason: str


def _records(model: ServedModel, rows: Sequence[dict[str, Any]]) -> list[BaseModel]:
    """Held-out rows as validated requests; rows the API would refuse are left out."""
    record = record_type(model.spec)
    records = []
    for row in rows:
        try:
            records.append(record.model_validate(row))
        except ValidationError:
            continue
    return records


def _disagreement(model: ServedModel, records: list[BaseModel]) -> str | None:
    """Why the lowered path may not answer for these records, or None when it agrees."""
    plain = model.scores(records, plain=True)
    fast = model.scores(records)
    if fast.shape != plain.shape:
        return f"the numpy path answers shape {fast.shape}, the pipeline {plain.shape}"
    # Requests mostly carry one record: the one-row answer is checked as well as the batch.
    fast = np.concatenate([fast, model.scores(records[:1])])
    plain = np.concatenate([plain, plain[:1]])
    error = np.abs(fast - plain)
    if model.spec.is_classification:
        worst = float(error.max())
        if worst > TOLERANCE:
            return f"probabilities differ by up to {worst:.2e} (> {TOLERANCE:g})"
        if not np.array_equal(fast.argmax(axis=1), plain.argmax(axis=1)):
            return "a held-out row gets another label"
        return None
    worst = float((error / np.maximum(1.0, np.abs(plain))).max())
    if worst > TOLERANCE:
        return f"predictions differ by up to {worst:.2e} (> {TOLERANCE:g})"
    return None


def choose(model: ServedModel, holdout: Sequence[dict[str, Any]]) -> InferenceChoice:
    """The fastest path that agrees with the pipeline on `holdout`, the pipeline otherwise."""
    if model.lowered is None:
        return InferenceChoice(PIPELINE, "the pipeline has no numpy form (see the warning)")
    records = _records(model, holdout)
    if not records:
        reason = "no held-out row to check the numpy path against"
    else:
        try:
            reason = _disagreement(model, records) or ""
        except (ValueError, TypeError, IndexError, KeyError) as exc:
            reason = f"the numpy path failed on held-out rows: {exc!r}"
    if reason:
        log.warning("serving the plain scikit-learn pipeline: %s", reason)
        return InferenceChoice(PIPELINE, reason)
    return InferenceChoice(
        model.inference, f"agrees with the pipeline on {len(records)} held-out rows"
    )

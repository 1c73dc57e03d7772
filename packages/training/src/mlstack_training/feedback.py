"""Labelled traffic as training rows: the logged inputs of a prediction plus its ground truth.

Rows come back through the champion's data contract: a row the contract refuses (a feature
missing or malformed, a category or a class the model never saw) is counted with its reason
and left out, never silently coerced into the training data.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pandas as pd
from pandera.errors import SchemaErrors
from sqlalchemy import inspect, select

from mlstack_core.categories import normalize_category
from mlstack_core.contract import build_schema, normalize_categories
from mlstack_core.spec import DatasetSpec
from mlstack_core.store import Feedback, Prediction, make_engine

PREDICTED_AT = "__predicted_at"


@dataclass(frozen=True)
class LabelledRows:
    """Accepted rows (features, target, prediction time) and why the others were refused."""

    rows: pd.DataFrame
    refused: Counter[str]

    @property
    def refused_total(self) -> int:
        return sum(self.refused.values())


def labelled_since(store_url: str, since: datetime) -> pd.DataFrame:
    """Predictions whose ground truth arrived at or after `since`, oldest prediction first.

    Columns: the logged inputs, `actual` / `actual_value` and the prediction time.
    """
    engine = make_engine(store_url)
    try:
        names = set(inspect(engine).get_table_names())
        if not {Prediction.__tablename__, Feedback.__tablename__} <= names:
            return pd.DataFrame()
        query = (
            select(
                Prediction.created_at,
                Prediction.inputs,
                Feedback.actual,
                Feedback.actual_value,
            )
            .join(Feedback, Feedback.prediction_id == Prediction.id)
            .where(Feedback.received_at >= since)
            .order_by(Prediction.created_at)
        )
        with engine.connect() as conn:
            found = conn.execute(query).all()
    finally:
        engine.dispose()
    records: list[dict[str, Any]] = [
        {
            **dict(inputs or {}),
            "__actual": actual,
            "__actual_value": value,
            PREDICTED_AT: _utc(at),
        }
        for at, inputs, actual, value in found
    ]
    return pd.DataFrame.from_records(records)


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _target(raw: pd.DataFrame, spec: DatasetSpec) -> tuple[pd.Series, pd.Series]:
    """The target column and, per row, why it is refused (empty string when accepted)."""
    if spec.is_classification:
        labels = raw["__actual"].map(normalize_category)
        known = set(spec.classes)
        accepted = labels.map(lambda v: isinstance(v, str) and (not known or v in known))
        refused = "actual " + labels.astype(str) + " is not a class of the model"
        return labels, refused.where(~accepted.astype(bool), "")
    values = pd.to_numeric(raw["__actual_value"], errors="coerce").astype(float)
    accepted = values.map(math.isfinite)
    return values, pd.Series("actual is not a finite number", index=raw.index).where(
        ~accepted.astype(bool), ""
    )


def screen(raw: pd.DataFrame, spec: DatasetSpec) -> LabelledRows:
    """Apply the champion's contract to labelled traffic; keep the rows that pass."""
    columns = [*spec.feature_names, spec.target, PREDICTED_AT]
    if raw.empty:
        return LabelledRows(pd.DataFrame(columns=columns), Counter())
    raw = raw.reset_index(drop=True)
    reasons = pd.Series("", index=raw.index, dtype=object)
    for name in spec.feature_names:
        if name not in raw:
            raw[name] = None
            reasons[reasons.eq("")] = f"feature {name!r} is not in the logged inputs"
    features = raw[spec.feature_names].copy()
    for name in spec.categorical:
        features[name] = normalize_categories(features[name])
        allowed = set(spec.categories.get(name, ()))
        if allowed:
            unknown = features[name].notna() & ~features[name].isin(allowed) & reasons.eq("")
            reasons[unknown] = f"unknown category in {name!r}"
    try:
        features = build_schema(spec).validate(features, lazy=True)
    except SchemaErrors as exc:
        cases = exc.failure_cases.dropna(subset=["index"])
        for column, index in zip(cases["column"], cases["index"], strict=True):
            if reasons.get(index, "x") == "":
                check = "non-numeric" if column in spec.numeric else "invalid"
                reasons[index] = f"{check} value in {column!r}"
        features = features.loc[reasons.eq("")]
        features = build_schema(spec).validate(features, lazy=True)
    target, target_reasons = _target(raw, spec)
    reasons = reasons.where(reasons.ne(""), target_reasons)
    keep = reasons.eq("")
    rows = features.loc[keep[keep].index].copy()
    rows[spec.target] = target[keep].to_numpy()
    rows[PREDICTED_AT] = raw.loc[keep, PREDICTED_AT].to_numpy()
    return LabelledRows(rows[columns].reset_index(drop=True), Counter(reasons[~keep]))

"""The data contract: a pandera schema built from a dataset spec, and the frame it accepts.

Training validates whole files with it; serving and monitoring rely on the same column kinds
and the same normalisation of categorical values, so a value means the same thing everywhere.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pandera.pandas as pa
from pandera.errors import SchemaErrors

from mlstack_core.categories import normalize_category
from mlstack_core.errors import DataError
from mlstack_core.spec import DatasetSpec

log = logging.getLogger(__name__)

MAX_EXAMPLES = 3


def normalize_categories(series: pd.Series) -> pd.Series:
    return series.map(normalize_category).astype(object)


def _finite(series: pd.Series) -> pd.Series:
    return ~series.isin([np.inf, -np.inf])


def build_schema(spec: DatasetSpec) -> pa.DataFrameSchema:
    """Numeric features must coerce to finite floats; categorical ones are free text."""
    columns: dict[str, pa.Column] = {}
    for name in spec.numeric:
        columns[name] = pa.Column(
            float,
            coerce=True,
            nullable=True,
            checks=pa.Check(_finite, error="must be finite (no inf or -inf)"),
        )
    for name in spec.categorical:
        columns[name] = pa.Column(object, nullable=True)
    return pa.DataFrameSchema(columns, strict=False, name=spec.name)


def _describe_failures(error: SchemaErrors, spec: DatasetSpec) -> str:
    cases = error.failure_cases
    parts = []
    for column, group in cases.groupby("column", sort=False, dropna=False):
        examples = ", ".join(repr(v) for v in group["failure_case"].head(MAX_EXAMPLES))
        check = str(group["check"].iloc[0])
        if column in spec.numeric and check.startswith("coerce_dtype"):
            problem = f"is numeric in the spec but has non-numeric values ({examples})"
        elif "finite" in check:
            problem = f"has infinite values ({len(group)} rows)"
        else:
            problem = f"fails {check} ({examples})"
        parts.append(f"column {column!r} {problem}")
    return "; ".join(parts)


def _check_target(frame: pd.DataFrame, spec: DatasetSpec) -> pd.DataFrame:
    if spec.target not in frame.columns:
        raise DataError(
            f"target column {spec.target!r} is not in the data "
            f"(columns: {', '.join(map(str, frame.columns[:12]))})",
            "pass --target with one of the columns",
        )
    target = frame[spec.target]
    if target.isna().all():
        raise DataError(
            f"target column {spec.target!r} has no values (all missing)",
            "choose a target column with labels or values",
        )
    missing = int(target.isna().sum())
    if missing:
        log.warning("dropping %d rows whose target %r is missing", missing, spec.target)
        frame = frame.loc[target.notna()]
    if spec.is_classification and frame[spec.target].nunique() < 2:
        only = frame[spec.target].iloc[0]
        raise DataError(
            f"target column {spec.target!r} has a single class ({only!r})",
            "a classifier needs at least two classes; check the file or the target",
        )
    if spec.task == "regression":
        values = pd.to_numeric(frame[spec.target], errors="coerce")
        if values.isna().any() or not np.isfinite(values).all():
            raise DataError(
                f"target column {spec.target!r} has non-numeric or infinite values for regression",
                "clean the target or pass --task binary/multiclass",
            )
    return frame


def validate_frame(frame: pd.DataFrame, spec: DatasetSpec, *, min_rows: int) -> pd.DataFrame:
    """Return the frame the model trains on, or raise a DataError naming column and problem."""
    duplicated = frame.columns[frame.columns.duplicated()].unique().tolist()
    if duplicated:
        raise DataError(
            f"duplicate column names: {', '.join(map(repr, duplicated))}",
            "give every column a unique name",
        )
    frame = _check_target(frame, spec)
    absent = [c for c in spec.feature_names if c not in frame.columns]
    if absent:
        raise DataError(
            f"feature column(s) missing from the data: {', '.join(map(repr, absent))}",
            "add them, or remove them from the spec",
        )
    empty = [c for c in spec.feature_names if frame[c].isna().all()]
    if empty:
        raise DataError(
            f"feature column(s) with no values at all: {', '.join(map(repr, empty))}",
            "drop them or list them under `ignore` in a spec file (--spec)",
        )
    required = spec.min_rows or min_rows
    if len(frame) < required:
        raise DataError(
            f"only {len(frame)} usable rows; at least {required} are needed",
            "add data or lower MLSTACK_MIN_ROWS",
        )
    features = frame[spec.feature_names].copy()
    for column in spec.categorical:
        features[column] = normalize_categories(features[column])
    try:
        validated = build_schema(spec).validate(features, lazy=True)
    except SchemaErrors as exc:
        raise DataError(
            _describe_failures(exc, spec), "fix the values or change the column's kind in --spec"
        ) from None
    target = frame[spec.target]
    validated[spec.target] = (
        normalize_categories(target) if spec.is_classification else target.astype(float)
    ).to_numpy()
    return validated

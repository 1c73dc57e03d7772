"""Request and response types of the API, generated from the model's data contract.

Validation lives in these types: BentoML answers a 400 naming the field for anything they
refuse, before the model or the store is touched.

Unknown-category policy: a categorical value the model never saw in training is refused (400
listing the known values). The pipeline would silently encode it as "all zeros", giving a
prediction nobody can trust and hiding a schema change upstream. Columns whose category list
is empty (not recorded) accept any text.
"""

from __future__ import annotations

import math
from typing import Annotated, Any
from uuid import UUID

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, create_model

from mlstack_core.categories import normalize_category
from mlstack_core.spec import DatasetSpec

MAX_LISTED = 20
Finite = Annotated[float, Field(allow_inf_nan=False, strict=True)]


def _category_checker(column: str, known: tuple[str, ...]) -> BeforeValidator:
    allowed = frozenset(known)
    listed = ", ".join(repr(v) for v in known[:MAX_LISTED]) + (
        ", …" if len(known) > MAX_LISTED else ""
    )

    def check(value: Any) -> str | None:
        if value is None:
            return None
        if not isinstance(value, str | int | float | bool):
            raise ValueError(f"{column} must be text, a number or a boolean")
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"{column} must not be NaN or infinite")
        text: str = normalize_category(value)
        if allowed and text not in allowed:
            raise ValueError(f"unknown category {text!r} for {column}; known: {listed}")
        return text

    return BeforeValidator(check)


def field_names(spec: DatasetSpec) -> dict[str, str]:
    """Column name → attribute name in the record type.

    Columns may be called anything ("floor area (m2)", "json", "_id", "model_config"); the
    attributes are safe identifiers and the column names are their aliases on the wire.
    """
    return {column: f"f{i}" for i, column in enumerate(spec.feature_names)}


def record_type(spec: DatasetSpec) -> type[BaseModel]:
    """One input record: every feature is required; null means missing (the model imputes)."""
    names = field_names(spec)
    fields: dict[str, Any] = {}
    for column in spec.numeric:
        fields[names[column]] = (
            Finite | None,
            Field(alias=column, description=f"numeric feature {column}"),
        )
    for column in spec.categorical:
        known = spec.categories.get(column, ())
        extra: dict[str, Any] | None = {"enum": [*known, None]} if known else None
        fields[names[column]] = (
            Annotated[str | None, _category_checker(column, known)],
            Field(
                alias=column,
                description=f"categorical feature {column}",
                json_schema_extra=extra,
            ),
        )
    model: type[BaseModel] = create_model(
        "Record",
        __config__=ConfigDict(extra="ignore", frozen=True, serialize_by_alias=True),
        **fields,
    )
    return model


class PredictionOut(BaseModel):
    """One answered record; the id is the key for feedback."""

    prediction_id: str
    prediction: str | float
    model_version: str
    probabilities: dict[str, float] | None = None


class FeedbackResult(BaseModel):
    """Whether the ground truth was recorded; `error` says why not."""

    prediction_id: UUID
    recorded: bool
    error: str | None = None


class ModelMetadata(BaseModel):
    """What `/metadata` answers: which model is served and what it accepts."""

    name: str
    version: str
    run_id: str
    trained_at: str
    task: str | None
    classes: list[str]
    metrics: dict[str, float]
    bento_model: str
    inference: str = Field(
        description='"numpy" or "numpy+sklearn" (the pipeline lowered to numpy, checked at '
        'build on held-out rows) or "pipeline" (plain scikit-learn)'
    )
    inference_reason: str
    max_records: int
    unknown_categories: str = "rejected"
    input_schema: dict[str, Any]


def actual_type(spec: DatasetSpec) -> Any:
    """Ground truth as the model's target: one of the classes, or a finite number."""
    if spec.is_classification:
        return Annotated[str, _category_checker(spec.target, spec.classes)]
    return Finite

"""The dataset spec: which column is the target, which features are numeric or categorical.

It is inferred from the data when no spec file is given, can be written by hand (YAML or
TOML) to override the inference, and travels with every model version so that serving and
monitoring know the exact contract the model was trained on.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from mlstack_core.errors import DataError

if TYPE_CHECKING:
    import pandas as pd

Task = Literal["binary", "multiclass", "regression"]

MAX_CLASSES = 20
ID_UNIQUE_SHARE = 0.95


class FeatureSpec(BaseModel):
    """One input column: its name, kind and, for categories, the values seen in training."""

    model_config = ConfigDict(frozen=True)

    name: str
    kind: Literal["numeric", "categorical"]
    categories: tuple[str, ...] = ()


class DatasetSpec(BaseModel):
    """The contract between data, model, API and monitoring."""

    model_config = ConfigDict(frozen=True)

    name: str = "dataset"
    target: str
    task: Task | None = None
    numeric: tuple[str, ...] = ()
    categorical: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    classes: tuple[str, ...] = ()
    categories: dict[str, tuple[str, ...]] = Field(default_factory=dict)
    min_rows: int | None = None

    @model_validator(mode="after")
    def _columns_are_disjoint(self) -> DatasetSpec:
        seen: dict[str, str] = {}
        for group in ("numeric", "categorical", "ignore"):
            for column in getattr(self, group):
                if column == self.target:
                    raise ValueError(f"target column {column!r} is also listed under {group}")
                if column in seen:
                    raise ValueError(
                        f"column {column!r} is listed under {seen[column]} and {group}"
                    )
                seen[column] = group
        return self

    @property
    def features(self) -> tuple[FeatureSpec, ...]:
        """Features in training order: numeric first, then categorical."""
        numeric = tuple(FeatureSpec(name=c, kind="numeric") for c in self.numeric)
        categorical = tuple(
            FeatureSpec(name=c, kind="categorical", categories=self.categories.get(c, ()))
            for c in self.categorical
        )
        return numeric + categorical

    @property
    def feature_names(self) -> list[str]:
        return [*self.numeric, *self.categorical]

    @property
    def is_classification(self) -> bool:
        return self.task in ("binary", "multiclass")

    def to_json(self) -> str:
        return self.model_dump_json(indent=2)

    @classmethod
    def from_json(cls, text: str) -> DatasetSpec:
        return cls.model_validate(json.loads(text))

    @classmethod
    def from_file(cls, path: Path) -> DatasetSpec:
        """Read a hand-written spec (YAML or TOML); unknown keys and bad values are refused."""
        if not path.is_file():
            raise DataError(f"spec file {path} does not exist", "pass --spec with a YAML/TOML path")
        try:
            text = path.read_text(encoding="utf-8")
            raw: Any = tomllib.loads(text) if path.suffix == ".toml" else yaml.safe_load(text)
        except (UnicodeDecodeError, tomllib.TOMLDecodeError, yaml.YAMLError) as exc:
            raise DataError(
                f"spec file {path} cannot be parsed: {str(exc).splitlines()[0]}",
                "fix its syntax",
            ) from None
        if not isinstance(raw, dict):
            raise DataError(f"spec file {path} is not a mapping", "see the README for the format")
        try:
            return cls.model_validate(raw)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "spec"
            raise DataError(
                f"spec file {path}: {where}: {first['msg']}", "see the README for the format"
            ) from None


def _is_numeric(series: pd.Series) -> bool:
    import pandas as pd  # the spec itself is read by the API, which needs no pandas

    return pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)


def _is_datetime(series: pd.Series) -> bool:
    import pandas as pd

    return bool(pd.api.types.is_datetime64_any_dtype(series))


def infer_task(target: pd.Series) -> Task:
    """Binary or multiclass for labels and small integer sets, regression for the rest."""
    values = target.dropna()
    distinct = values.nunique()
    if not _is_numeric(values):
        return "binary" if distinct <= 2 else "multiclass"
    integral = bool((values == values.round()).all())
    if distinct <= 2:
        return "binary"
    if integral and distinct <= MAX_CLASSES:
        return "multiclass"
    return "regression"


def infer_spec(
    frame: pd.DataFrame,
    target: str,
    *,
    task: Task | None = None,
    base: DatasetSpec | None = None,
    name: str = "dataset",
) -> DatasetSpec:
    """Complete a spec from the data: every column not named by `base` gets an inferred kind.

    Text columns that are almost all distinct (identifiers) and date-like columns are ignored,
    since a model cannot generalise from them.
    """
    named = set()
    if base is not None:
        named = {*base.numeric, *base.categorical, *base.ignore}
    numeric = list(base.numeric) if base else []
    categorical = list(base.categorical) if base else []
    ignore = list(base.ignore) if base else []
    for column in frame.columns:
        if column == target or column in named:
            continue
        series = frame[column]
        if _is_numeric(series):
            numeric.append(column)
        elif _is_datetime(series):
            ignore.append(column)
        else:
            non_null = series.dropna()
            distinct_share = non_null.nunique() / max(len(non_null), 1)
            if len(non_null) > MAX_CLASSES and distinct_share >= ID_UNIQUE_SHARE:
                ignore.append(column)
            else:
                categorical.append(column)
    resolved_task = task or (base.task if base else None)
    if resolved_task is None and target in frame.columns:
        resolved_task = infer_task(frame[target])
    return DatasetSpec(
        name=base.name if base and base.name != "dataset" else name,
        target=target,
        task=resolved_task,
        numeric=tuple(numeric),
        categorical=tuple(categorical),
        ignore=tuple(ignore),
        min_rows=base.min_rows if base else None,
    )

"""The served pipeline lowered to numpy: the same arithmetic without pandas or per-call checks.

A one-row `predict_proba` of the seed pipeline costs about 4 ms, of which the ColumnTransformer
(pandas, column selection, validation) takes 3.3 ms and the loop over a hundred boosted trees
most of the rest. The request types already guarantee what those checks look for, so the
fitted parameters are read once and applied as array operations:

- numeric columns: fill missing with the imputer's statistics, then `(x - mean) / scale`;
- categorical columns: one table per column from each known value (and from missing and from
  an unknown value) to its one-hot output column, built by running the fitted step itself;
- HistGradientBoosting: every tree flattened into one node table, all trees walked together,
  one level per step; the link function is the estimator's own;
- any other estimator: its own `predict_proba`/`predict` on the array, checks off.

Anything outside these shapes raises `NotLowerableError` with the reason; the caller then serves
the plain pipeline. Agreement with the pipeline is checked on held-out rows before use.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from mlstack_core.spec import DatasetSpec

Array = np.ndarray[Any, Any]
_UNKNOWN = "\x00mlstack-unknown-category\x00"


class NotLowerableError(Exception):
    """The pipeline has a step the numpy path does not reproduce; the message says which."""


@dataclass(frozen=True)
class NumericBlock:
    """Imputation and scaling of the numeric columns, in the pipeline's output order."""

    columns: tuple[str, ...]
    fill: Array | None
    mean: Array | None
    scale: Array | None

    def apply(self, values: Array) -> Array:
        if self.fill is not None:
            values = np.where(np.isnan(values), self.fill, values)
        if self.mean is not None:
            values = values - self.mean
        if self.scale is not None:
            values = values / self.scale
        return values


@dataclass(frozen=True)
class CategoricalBlock:
    """One-hot encoding: per column, value (None = missing) → output column, -1 = all zeros."""

    columns: tuple[str, ...]
    tables: tuple[dict[str | None, int], ...]
    unknown: tuple[int, ...]
    width: int

    def apply(self, columns: Mapping[str, Sequence[Any]], rows: int) -> Array:
        out = np.zeros((rows, self.width))
        for name, table, unknown in zip(self.columns, self.tables, self.unknown, strict=True):
            for row, value in enumerate(columns[name]):
                index = table.get(value, unknown)
                if index >= 0:
                    out[row, index] = 1.0
        return out


def _numeric_block(step: Any, columns: list[str]) -> NumericBlock:
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    steps = [s for _, s in step.steps] if isinstance(step, Pipeline) else [step]
    fill = mean = scale = None
    for part in steps:
        if part == "passthrough" or part is None:
            continue
        if isinstance(part, SimpleImputer) and fill is None and mean is None:
            stats = np.asarray(part.statistics_, dtype=float)
            if part.add_indicator or stats.shape != (len(columns),) or not np.isfinite(stats).all():
                raise NotLowerableError("a numeric imputer adds indicators or drops empty columns")
            fill = stats
        elif isinstance(part, StandardScaler) and mean is None and scale is None:
            mean = None if part.mean_ is None else np.asarray(part.mean_, dtype=float)
            scale = None if part.scale_ is None else np.asarray(part.scale_, dtype=float)
        else:
            raise NotLowerableError(f"numeric step {type(part).__name__} has no numpy form here")
    return NumericBlock(tuple(columns), fill, mean, scale)


def _categorical_block(step: Any, columns: list[str], spec: DatasetSpec) -> CategoricalBlock:
    """Tables made by transforming each value through the fitted step, one column at a time."""
    import pandas as pd
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    encoder = step.steps[-1][1] if isinstance(step, Pipeline) else step
    if not isinstance(encoder, OneHotEncoder):
        raise NotLowerableError(f"categorical step {type(encoder).__name__} is not a OneHotEncoder")
    widths = [int(n) for n in encoder._n_features_outs]
    starts = np.concatenate([[0], np.cumsum(widths)])
    tables: list[dict[str | None, int]] = []
    unknowns: list[int] = []
    for j, name in enumerate(columns):
        known = {str(v) for v in encoder.categories_[j] if isinstance(v, str)}
        values: list[str | None] = [*sorted(known | set(spec.categories.get(name, ()))), None]
        probe = pd.DataFrame({c: [np.nan] * (len(values) + 1) for c in columns}, dtype=object)
        probe[name] = [np.nan if v is None else v for v in values] + [_UNKNOWN]
        try:
            block = np.asarray(step.transform(probe))[:, starts[j] : starts[j + 1]]
        except ValueError as exc:
            raise NotLowerableError(f"column {name}: {exc}") from None
        if not np.isin(block, (0.0, 1.0)).all() or (block.sum(axis=1) > 1).any():
            raise NotLowerableError(f"column {name} is not encoded one-hot")
        index = np.where(block.any(axis=1), block.argmax(axis=1) + starts[j], -1)
        tables.append({v: int(i) for v, i in zip(values, index[:-1], strict=True)})
        unknowns.append(int(index[-1]))
    return CategoricalBlock(tuple(columns), tuple(tables), tuple(unknowns), int(starts[-1]))


@dataclass(frozen=True)
class Features:
    """The ColumnTransformer as numpy: numeric block, then categorical block, or the reverse."""

    numeric: NumericBlock | None
    categorical: CategoricalBlock | None
    numeric_first: bool
    width: int

    def matrix(self, columns: Mapping[str, Sequence[Any]], rows: int) -> Array:
        parts: list[Array] = []
        if self.numeric is not None:
            raw = np.array([columns[c] for c in self.numeric.columns], dtype=float).T
            parts.append(self.numeric.apply(raw.reshape(rows, len(self.numeric.columns))))
        if self.categorical is not None:
            encoded = self.categorical.apply(columns, rows)
            parts.insert(len(parts) if self.numeric_first else 0, encoded)
        return np.ascontiguousarray(np.hstack(parts)) if len(parts) > 1 else parts[0]


def _features(transformer: Any, spec: DatasetSpec) -> Features:
    from sklearn.compose import ColumnTransformer

    if not isinstance(transformer, ColumnTransformer):
        kind = type(transformer).__name__
        raise NotLowerableError(f"the first step is {kind}, not a ColumnTransformer")
    numeric: NumericBlock | None = None
    categorical: CategoricalBlock | None = None
    order: list[str] = []
    for _, step, cols in transformer.transformers_:
        cols = list(cols)
        if step == "drop" or not cols:
            continue
        if set(cols) <= set(spec.numeric) and numeric is None:
            numeric = _numeric_block(step, cols)
            order.append("numeric")
        elif set(cols) <= set(spec.categorical) and categorical is None:
            categorical = _categorical_block(step, cols, spec)
            order.append("categorical")
        else:
            raise NotLowerableError("a transformer mixes numeric and categorical columns")
    width = (len(numeric.columns) if numeric else 0) + (categorical.width if categorical else 0)
    return Features(numeric, categorical, order[:1] != ["categorical"], width)


@dataclass(frozen=True)
class TreeTable:
    """All trees of a HistGradientBoosting model in flat arrays, walked level by level."""

    roots: Array
    feature: Array
    threshold: Array
    missing_left: Array
    left: Array
    right: Array
    value: Array
    depth: int
    per_iteration: int
    baseline: Array

    def raw(self, x: Array) -> Array:
        rows = x.shape[0]
        node = np.broadcast_to(self.roots, (rows, self.roots.size)).copy()
        row = np.arange(rows)[:, None]
        for _ in range(self.depth):
            values = x[row, self.feature[node]]
            below = values <= self.threshold[node]
            left = np.where(np.isnan(values), self.missing_left[node], below)
            node = np.where(left, self.left[node], self.right[node])
        leaves = self.value[node].reshape(rows, -1, self.per_iteration)
        raw: Array = np.zeros((rows, self.per_iteration)) + self.baseline
        for step in range(leaves.shape[1]):
            raw += leaves[:, step, :]
        return raw


def _tree_table(estimator: Any) -> TreeTable:
    nodes_of = [p.nodes for iteration in estimator._predictors for p in iteration]
    if any(n["is_categorical"].any() for n in nodes_of):
        raise NotLowerableError("the boosted trees use native categorical splits")
    sizes = np.array([len(n) for n in nodes_of])
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    nodes = np.concatenate(nodes_of)
    shift = np.repeat(offsets, sizes)
    own = np.arange(len(nodes))
    leaf = nodes["is_leaf"].astype(bool)
    # A leaf points at itself, so walking further keeps every finished row where it is.
    return TreeTable(
        roots=offsets.astype(np.intp),
        feature=np.where(leaf, 0, nodes["feature_idx"]).astype(np.intp),
        threshold=nodes["num_threshold"].astype(float),
        missing_left=nodes["missing_go_to_left"].astype(bool),
        left=np.where(leaf, own, nodes["left"].astype(np.intp) + shift),
        right=np.where(leaf, own, nodes["right"].astype(np.intp) + shift),
        value=nodes["value"].astype(float),
        depth=int(nodes["depth"].max()),
        per_iteration=int(estimator.n_trees_per_iteration_),
        baseline=np.asarray(estimator._baseline_prediction, dtype=float),
    )


class LoweredPipeline:
    """Columns of validated values in, probabilities (or values) out, as the pipeline would."""

    def __init__(self, pipeline: Any, spec: DatasetSpec) -> None:
        from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
        from sklearn.pipeline import Pipeline

        if not isinstance(pipeline, Pipeline) or len(pipeline.steps) != 2:
            raise NotLowerableError("the model is not a two-step Pipeline (features, estimator)")
        self.spec = spec
        self.features = _features(pipeline.steps[0][1], spec)
        self.estimator = pipeline.steps[-1][1]
        if getattr(self.estimator, "n_features_in_", self.features.width) != self.features.width:
            raise NotLowerableError("the estimator expects another number of features")
        self.trees: TreeTable | None = None
        boosted = HistGradientBoostingClassifier | HistGradientBoostingRegressor
        if isinstance(self.estimator, boosted):
            self.trees = _tree_table(self.estimator)

    @property
    def kind(self) -> str:
        """`numpy` when the estimator is lowered too, `numpy+sklearn` when it runs itself."""
        return "numpy" if self.trees is not None else "numpy+sklearn"

    def matrix(self, columns: Mapping[str, Sequence[Any]], rows: int) -> Array:
        return self.features.matrix(columns, rows)

    def predict_proba(self, columns: Mapping[str, Sequence[Any]], rows: int) -> Array:
        x = self.matrix(columns, rows)
        if self.trees is not None:
            proba: Array = self.estimator._loss.predict_proba(self.trees.raw(x))
            return proba
        return self._unchecked("predict_proba", x)

    def predict(self, columns: Mapping[str, Sequence[Any]], rows: int) -> Array:
        x = self.matrix(columns, rows)
        if self.trees is not None:
            values: Array = self.estimator._loss.link.inverse(self.trees.raw(x).ravel())
            return values
        return self._unchecked("predict", x)

    def _unchecked(self, method: str, x: Array) -> Array:
        import sklearn

        with sklearn.config_context(assume_finite=True, skip_parameter_validation=True):
            out: Array = getattr(self.estimator, method)(x)
        return out

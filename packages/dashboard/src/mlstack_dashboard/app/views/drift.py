"""Drift: each feature of recent requests against the champion's training reference."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from mlstack_dashboard import ui
from mlstack_dashboard.alerts import drift_alert
from mlstack_dashboard.drift import FeatureDrift, align

MAX_PLOTS = 30
HISTOGRAM_BINS = 30
SIDES = ("reference", "current")

st.title("Drift")
settings = ui.settings()
monitor = ui.monitor()
window = ui.window_picker(settings)

champion = monitor.champion()
check = monitor.drift(window, champion)
if check.result is None:
    st.info(f"Drift not checked: {check.reason}")
    st.stop()
result = check.result
assert champion.info is not None
spec = monitor.profile(champion.info).spec

alert = drift_alert(result, settings)
if alert is not None:
    st.error(f"ALERT drift: {alert.message}")
elif result.drifted:
    st.warning(
        f"{len(result.drifted)} of {len(result.features)} features drifted, below the alert "
        f"share {settings.drift_share_alert:.0%}"
    )
else:
    st.success(f"No feature drifted ({result.rule.describe()}) against v{champion.info.version}")

a, b, c = st.columns(3)
a.metric("Drifted features", f"{len(result.drifted)} / {len(result.features)}")
b.metric("Current rows", f"{result.current_rows:,}")
c.metric("Reference rows", f"{result.reference_rows:,}")
st.caption(
    f"{result.rule.measure.capitalize()} tests ({result.rule.numeric} for numbers, "
    f"{result.rule.categorical} for categories), drifted when {result.rule.describe()}: "
    f"distances above {settings.drift_distance_min_rows:,} rows on both sides, as Evidently's "
    "defaults do, so that tiny differences on many rows are not reported as drift"
)
st.dataframe(
    pd.DataFrame(
        [
            {
                "feature": f.name,
                "kind": f.kind,
                "test": f.method,
                result.rule.measure: f"{f.score:.3g}",
                "drifted": f.drifted,
            }
            for f in result.features
        ]
    ),
    hide_index=True,
    width="stretch",
)
if result.skipped:
    st.caption(f"Not tested (no values on one side): {', '.join(result.skipped)}")

reference = align(check.reference, spec)
current = align(check.current, spec)


def _numeric_figure(name: str) -> go.Figure:
    """Overlaid histograms on shared bins, binned here: plotly express would ship every raw
    value to the browser and bin it there (most of this page's time at a full window)."""
    ref = reference[name].dropna().to_numpy()
    cur = current[name].dropna().to_numpy()
    edges = np.histogram_bin_edges(np.concatenate([ref, cur]), bins=HISTOGRAM_BINS)
    fig = go.Figure()
    for label, values, colour in (
        ("reference", ref, ui.PALETTE[0]),
        ("current", cur, ui.PALETTE[1]),
    ):
        counts, _ = np.histogram(values, bins=edges)
        fig.add_bar(
            x=(edges[:-1] + edges[1:]) / 2,
            y=counts / max(len(values), 1),
            width=np.diff(edges),
            name=label,
            marker_color=colour,
            opacity=0.6,
        )
    fig.update_layout(barmode="overlay", xaxis_title="value", yaxis_title="share of rows")
    return fig


def _categorical_figure(name: str) -> go.Figure:
    """Share of each category value on both sides, side by side."""
    ref = reference[name].value_counts(normalize=True)
    cur = current[name].value_counts(normalize=True)
    values = sorted(set(ref.index) | set(cur.index))
    fig = go.Figure()
    for label, shares, colour in (
        ("reference", ref, ui.PALETTE[0]),
        ("current", cur, ui.PALETTE[1]),
    ):
        fig.add_bar(
            x=values, y=[float(shares.get(v, 0.0)) for v in values], name=label, marker_color=colour
        )
    fig.update_layout(barmode="group", xaxis_title="value", yaxis_title="share of rows")
    return fig


def figure(feature: FeatureDrift) -> go.Figure:
    """Reference against current, titled with the feature's score and verdict."""
    score = f"{'p' if feature.measure == 'p-value' else 'distance'} = {feature.score:.3g}"
    title = f"{feature.name} ({score}{', drifted' if feature.drifted else ''})"
    make = _numeric_figure if feature.kind == "numeric" else _categorical_figure
    fig = make(feature.name)
    fig.update_layout(title=title)
    return fig


ordered = sorted(
    result.features,
    key=lambda f: (not f.drifted, f.score if f.measure == "p-value" else -f.score),
)
columns = st.columns(2)
for i, feature in enumerate(ordered[:MAX_PLOTS]):
    columns[i % 2].plotly_chart(figure(feature), width="stretch")

"""Drift: each feature of recent requests against the champion's training reference."""

from __future__ import annotations

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
import streamlit as st

from mlstack_dashboard import ui
from mlstack_dashboard.alerts import drift_alert
from mlstack_dashboard.drift import FeatureDrift, align

MAX_PLOTS = 30

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


def figure(feature: FeatureDrift) -> go.Figure:
    """Reference against current: overlaid density histograms or category shares."""
    score = f"{'p' if feature.measure == 'p-value' else 'distance'} = {feature.score:.3g}"
    title = f"{feature.name} ({score}{', drifted' if feature.drifted else ''})"
    if feature.kind == "numeric":
        both = pd.concat(
            [
                pd.DataFrame({"value": reference[feature.name], "data": "reference"}),
                pd.DataFrame({"value": current[feature.name], "data": "current"}),
            ]
        ).dropna()
        return px.histogram(
            both,
            x="value",
            color="data",
            barmode="overlay",
            histnorm="probability",
            opacity=0.6,
            title=title,
            color_discrete_sequence=ui.PALETTE,
        )
    shares = pd.concat(
        [
            reference[feature.name].value_counts(normalize=True).rename("reference"),
            current[feature.name].value_counts(normalize=True).rename("current"),
        ],
        axis=1,
    ).fillna(0.0)
    shares.index.name = "value"
    long = shares.reset_index().melt(id_vars="value", var_name="data", value_name="share")
    return px.bar(
        long,
        x="value",
        y="share",
        color="data",
        barmode="group",
        title=title,
        color_discrete_sequence=ui.PALETTE,
    )


ordered = sorted(
    result.features,
    key=lambda f: (not f.drifted, f.score if f.measure == "p-value" else -f.score),
)
columns = st.columns(2)
for i, feature in enumerate(ordered[:MAX_PLOTS]):
    columns[i % 2].plotly_chart(figure(feature), width="stretch")

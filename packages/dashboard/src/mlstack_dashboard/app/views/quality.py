"""Quality: live accuracy (or error) from `/feedback` ground truth, against the offline score."""

from __future__ import annotations

import pandas as pd
import plotly.express as px
import streamlit as st

from mlstack_dashboard import ui
from mlstack_dashboard.alerts import quality_alert

st.title("Quality")
settings = ui.settings()
monitor = ui.monitor()
window = ui.window_picker(settings)

champion = monitor.champion()
if champion.info is None:
    st.info(f"Quality needs a champion: {champion.problem}: {champion.hint}")
    st.stop()
buckets = monitor.quality_buckets(window)
summary = monitor.quality(buckets, champion)
if summary is None or summary.live is None:
    st.info(
        f"No feedback in the last {window} minutes: run `uv run invoke simulate-traffic` "
        "(it sends ground truth for half of the requests)"
    )
    st.stop()

alert = quality_alert(summary, settings)
if alert is not None:
    st.error(f"ALERT quality: {alert.message}")
elif summary.labelled < settings.monitor_min_feedback:
    st.info(
        f"{summary.labelled} labelled predictions; alerts need {settings.monitor_min_feedback}: "
        "run `uv run invoke simulate-traffic`"
    )
else:
    st.success(f"Live {summary.metric} is within {settings.accuracy_drop_alert} of offline")

a, b, c = st.columns(3)
a.metric(f"Live {summary.metric}", f"{summary.live:.3f}")
b.metric(
    f"Offline {summary.metric}",
    f"{summary.reference:.3f}" if summary.reference is not None else "n/a",
)
c.metric("Labelled predictions", f"{summary.labelled:,}")

regression = summary.metric == "mae"
width = monitor.span_width(monitor.totals(window))
frame = pd.DataFrame(
    [
        {
            "time": b.start,
            summary.metric: b.mae if regression else b.accuracy,
            "labelled": b.labelled,
        }
        for b in buckets
    ]
)
starts = list(frame["time"])
step = f"buckets of {ui.bucket_label(width)}"
chart = px.line(
    frame,
    x="time",
    y=summary.metric,
    markers=True,
    title=f"Live {summary.metric} ({step})",
    color_discrete_sequence=ui.PALETTE,
)
if summary.reference is not None:
    chart.add_hline(
        y=summary.reference, line_dash="dash", annotation_text=f"offline {summary.reference:.3f}"
    )
st.plotly_chart(ui.time_axis(chart, width, starts), width="stretch")
labelled = px.bar(
    frame,
    x="time",
    y="labelled",
    title=f"Labelled predictions ({step})",
    color_discrete_sequence=ui.PALETTE,
)
st.plotly_chart(ui.time_axis(labelled, width, starts), width="stretch")

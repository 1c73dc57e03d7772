"""Traffic: predictions over time, latency over time and percentiles, what the model predicted.

Buckets follow the span of the data (seconds for a burst, minutes for an hour), so a short
burst still draws several bars and the latency line has points to join.
"""

from __future__ import annotations

import pandas as pd
import plotly.express as px
import streamlit as st

from mlstack_dashboard import ui

st.title("Traffic")
settings = ui.settings()
monitor = ui.monitor()
window = ui.window_picker(settings)

champion = monitor.champion()
regression = champion.info is not None and monitor.profile(champion.info).spec.task == "regression"
view = monitor.traffic(window, regression)
if view.totals.predictions == 0:
    ui.no_predictions(window)
    st.stop()

width = view.bucket_seconds
per, unit = (1, "second") if width < 60 else (60, "minute")
rate = f"predictions per {unit}"
buckets = pd.DataFrame(
    [
        {
            "time": b.start,
            rate: b.requests * per / width,
            "mean latency (ms)": b.mean_latency_ms,
            "max latency (ms)": b.max_latency_ms,
        }
        for b in view.buckets
    ]
)
latency = view.latency
a, b, c, d = st.columns(4)
a.metric(f"Predictions ({window} min)", f"{view.totals.predictions:,}")
b.metric("p50 latency", f"{latency.p50_ms:.1f} ms")
c.metric("p95 latency", f"{latency.p95_ms:.1f} ms")
d.metric("p99 latency", f"{latency.p99_ms:.1f} ms")

starts = list(buckets["time"])
step = f"buckets of {ui.bucket_label(width)}"
volume = px.bar(
    buckets,
    x="time",
    y=rate,
    title=f"Predictions per {unit} ({step})",
    color_discrete_sequence=ui.PALETTE,
)
st.plotly_chart(ui.time_axis(volume, width, starts), width="stretch")
latency_chart = px.line(
    buckets,
    x="time",
    y=["mean latency (ms)", "max latency (ms)"],
    markers=True,
    title=f"Latency over time ({step})",
    color_discrete_sequence=ui.PALETTE,
)
st.plotly_chart(ui.time_axis(latency_chart, width, starts), width="stretch")
histogram = pd.DataFrame(latency.histogram, columns=["latency (ms)", "predictions"])
st.plotly_chart(
    px.bar(
        histogram,
        x="latency (ms)",
        y="predictions",
        title="Latency distribution",
        color_discrete_sequence=ui.PALETTE,
    ),
    width="stretch",
)

st.subheader("Predictions")
if regression:
    values = pd.DataFrame(view.values, columns=["low", "high", "count"])
    values["prediction"] = (values["low"] + values["high"]) / 2
    chart = px.bar(
        values,
        x="prediction",
        y="count",
        title="Predicted values",
        color_discrete_sequence=ui.PALETTE,
    )
else:
    labels = pd.DataFrame(view.labels, columns=["prediction", "count"])
    chart = px.bar(
        labels,
        x="prediction",
        y="count",
        title="Predicted labels",
        color_discrete_sequence=ui.PALETTE,
    )
st.plotly_chart(chart, width="stretch")
st.dataframe(pd.DataFrame(view.versions, columns=["model version", "predictions"]), hide_index=True)

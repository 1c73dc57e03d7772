"""Traffic: predictions per minute, latency over time and percentiles, what the model predicted."""

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

buckets = pd.DataFrame(
    [
        {
            "time": b.start,
            "predictions per minute": b.requests * 60 / view.bucket_seconds,
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

st.plotly_chart(
    px.bar(buckets, x="time", y="predictions per minute", title="Predictions per minute"),
    width="stretch",
)
st.plotly_chart(
    px.line(
        buckets, x="time", y=["mean latency (ms)", "max latency (ms)"], title="Latency over time"
    ),
    width="stretch",
)
histogram = pd.DataFrame(latency.histogram, columns=["latency (ms)", "predictions"])
st.plotly_chart(
    px.bar(histogram, x="latency (ms)", y="predictions", title="Latency distribution"),
    width="stretch",
)

st.subheader("Predictions")
if regression:
    values = pd.DataFrame(view.values, columns=["low", "high", "count"])
    values["prediction"] = (values["low"] + values["high"]) / 2
    chart = px.bar(values, x="prediction", y="count", title="Predicted values")
else:
    labels = pd.DataFrame(view.labels, columns=["prediction", "count"])
    chart = px.bar(labels, x="prediction", y="count", title="Predicted labels")
st.plotly_chart(chart, width="stretch")
st.dataframe(pd.DataFrame(view.versions, columns=["model version", "predictions"]), hide_index=True)

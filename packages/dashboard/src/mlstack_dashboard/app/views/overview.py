"""Overview: which model is champion, whether the API and MLflow answer, what is alerting."""

from __future__ import annotations

import streamlit as st

from mlstack_dashboard import ui
from mlstack_dashboard.health import api_health, mlflow_health, registry_is_remote

st.title("Overview")
settings = ui.settings()
monitor = ui.monitor()
window = ui.window_picker(settings)

champion = monitor.champion()
left, middle, right = st.columns(3)
if champion.info is not None:
    left.metric("Champion", f"v{champion.info.version}", help=f"model {champion.info.name!r}")
    left.caption(f"{champion.info.name} v{champion.info.version} · {champion.info.uri}")
else:
    left.metric("Champion", "none")
    st.warning(f"{champion.problem}: {champion.hint}")

for column, health in ((middle, api_health(settings)), (right, mlflow_health(settings))):
    column.metric(health.name, "up" if health.ok else "down")
    column.caption(f"{health.url} · {health.detail}")
if not registry_is_remote(settings):
    st.caption(f"Registry: {settings.mlflow_tracking_uri} (read directly, no server needed)")

report = monitor.report(window, champion)
a, b, c = st.columns(3)
a.metric(f"Predictions ({window} min)", f"{report.totals.predictions:,}")
b.metric("Feedback", f"{report.feedback:,}")
c.metric("p99 latency", f"{report.latency.p99_ms:.1f} ms" if report.latency.count else "n/a")

st.subheader("Active alerts")
if report.totals.all_predictions == 0:
    st.info("No predictions yet: run `uv run invoke simulate-traffic`")
elif report.totals.predictions == 0:
    ui.no_predictions(window)
for alert in report.alerts:
    st.error(f"ALERT {alert.rule}: {alert.message}")
if report.totals.predictions and not report.alerts:
    st.success("No active alerts")
if report.drift_reason and champion.info is not None:
    st.caption(f"Drift not checked: {report.drift_reason}")

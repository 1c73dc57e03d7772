"""Overview: champion, health, counts and alerts first (fast SQL), then drift, then retrains.

It is the first page a person sees, so nothing slow comes before the health row, the counts
and the alerts: drift (Evidently over thousands of rows) is computed after they are drawn and
its alert is added to the list when it is ready.
"""

from __future__ import annotations

import streamlit as st

from mlstack_core.artifacts import RETRAIN_FROM_TAG
from mlstack_dashboard import ui
from mlstack_dashboard.alerts import drift_alert
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

report = monitor.report(window, champion, with_drift=False)
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
drift_slot = st.empty()
if report.totals.predictions and champion.info is not None:
    with drift_slot, st.spinner("Checking drift against the training reference…"):
        check = monitor.drift(window, champion)
    fired = drift_alert(check.result, settings)
    if fired is not None:
        drift_slot.error(f"ALERT drift: {fired.message}")
    elif not report.alerts:
        drift_slot.success("No active alerts")
    if check.reason:
        st.caption(f"Drift not checked: {check.reason}")
elif report.totals.predictions and not report.alerts:
    drift_slot.success("No active alerts")

st.subheader("Last retrain")
retrained = monitor.last_retrain() if champion.info is not None else None
if retrained is None:
    st.caption(
        "No retrain yet: `uv run invoke retrain` (or `uv run invoke monitor --retrain` on an "
        "alert) trains a challenger on the labelled traffic"
    )
else:
    decision = retrained.tags.get("mlstack.gate.decision", "undecided")
    verdict = "promoted to champion" if decision == "promoted" else "not promoted"
    st.markdown(
        f"**v{retrained.version}**, retrained from v{retrained.tags[RETRAIN_FROM_TAG]} at "
        f"{retrained.created_at:%Y-%m-%d %H:%M:%S} UTC: **{verdict}**"
    )
    st.caption(retrained.tags.get("mlstack.gate.reason", ""))

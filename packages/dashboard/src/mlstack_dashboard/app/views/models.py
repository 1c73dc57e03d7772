"""Models: registry versions, aliases, offline metrics, what each version was trained on, why
it was or was not promoted, and the promotion/rollback history."""

from __future__ import annotations

import pandas as pd
import plotly.express as px
import streamlit as st

from mlstack_core.artifacts import DATA_ORIGIN_TAG, RETRAIN_FROM_TAG
from mlstack_dashboard import ui
from mlstack_dashboard.monitoring import TRAIN_HINT

st.title("Models")
settings = ui.settings()
monitor = ui.monitor()

champion = monitor.champion()
if champion.info is None and champion.problem and "unreachable" in champion.problem:
    st.warning(f"{champion.problem}: {champion.hint}")
    st.stop()
try:
    versions = monitor.versions()
    history = monitor.history()
    metrics = {v.version: monitor.run_metrics(v) for v in versions}
except Exception as exc:  # the registry is an external service; say so, do not crash
    st.warning(
        f"MLflow registry at {settings.mlflow_tracking_uri} failed: {exc}: check "
        "MLSTACK_TRACKING_URI, or start MLflow with `uv run invoke mlflow`"
    )
    st.stop()

if not versions:
    st.info(f"No model versions of {settings.model_name!r} yet: {TRAIN_HINT}")
    st.stop()

st.subheader(f"Versions of {settings.model_name!r}")
names = sorted({name for m in metrics.values() for name in m if not name.startswith("baseline")})
table = pd.DataFrame(
    [
        {
            "version": v.version,
            "aliases": ", ".join(v.aliases),
            "created": v.created_at.strftime("%Y-%m-%d %H:%M:%S"),
            "dataset": v.tags.get("mlstack.dataset", ""),
            **{name: metrics[v.version].get(name) for name in names},
        }
        for v in versions
    ]
)
st.dataframe(table, hide_index=True, width="stretch")

st.subheader("Training data and promotion decisions")
st.dataframe(
    pd.DataFrame(
        [
            {
                "version": v.version,
                "trained on": v.tags.get(DATA_ORIGIN_TAG, "not recorded"),
                "retrained from": (
                    f"v{v.tags[RETRAIN_FROM_TAG]}" if RETRAIN_FROM_TAG in v.tags else ""
                ),
                "gate": v.tags.get("mlstack.gate.decision", ""),
                "why": v.tags.get("mlstack.gate.reason", ""),
            }
            for v in versions
        ]
    ),
    hide_index=True,
    width="stretch",
    column_config={
        "trained on": st.column_config.TextColumn(width="large"),
        "why": st.column_config.TextColumn(width="large"),
    },
)
primary = versions[0].tags.get("mlstack.primary_metric") or (names[0] if names else None)
if primary and primary in table:
    chart = px.bar(
        table.sort_values("version"),
        x="version",
        y=primary,
        color="aliases",
        title=f"{primary} by version (held-out data)",
        color_discrete_sequence=ui.PALETTE,
    )
    chart.update_xaxes(type="category")
    st.plotly_chart(chart, width="stretch")

st.subheader("Promotions and rollbacks")
if history:
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "at": e.at.strftime("%Y-%m-%d %H:%M:%S"),
                    "action": e.action,
                    "version": e.version,
                    "previous": e.previous,
                    "reason": e.reason,
                }
                for e in reversed(history)
            ]
        ),
        hide_index=True,
        width="stretch",
    )
else:
    st.info("No promotions recorded yet: `uv run invoke train` promotes when the gate passes")

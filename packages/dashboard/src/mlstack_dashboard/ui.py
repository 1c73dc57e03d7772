"""Streamlit helpers shared by the pages: the cached Monitor, the window picker, empty states."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, NoReturn

import streamlit as st

from mlstack_core.errors import MlstackError
from mlstack_core.settings import Settings, load_settings
from mlstack_core.store import display_url
from mlstack_dashboard.app import PALETTE_PRIMARY
from mlstack_dashboard.monitoring import TRAFFIC_HINT, Monitor

if TYPE_CHECKING:
    import plotly.graph_objects as go

WINDOWS = (15, 60, 360, 1440, 10080)
# Blues, teal and greys for data; red is kept for alerts (a person reads red as an error).
PALETTE = (PALETTE_PRIMARY, "#0d9488", "#64748b", "#7c3aed", "#0891b2", "#94a3b8", "#1e40af")


def _stop_with(exc: MlstackError) -> NoReturn:
    st.error(f"{exc.cause}: {exc.hint}" if exc.hint else exc.cause)
    st.stop()


def settings() -> Settings:
    try:
        return load_settings()
    except MlstackError as exc:
        _stop_with(exc)


@st.cache_resource(show_spinner=False)
def _monitor(key: str) -> Monitor:
    """One Monitor (engine, registry facade, profile cache) per distinct settings."""
    del key
    return Monitor(load_settings())


def monitor() -> Monitor:
    current = settings()
    return _monitor(current.model_dump_json())


def window_picker(current: Settings) -> int:
    """The look-back window in minutes, shared by all pages through the session state.

    The sidebar also names the store and registry read, so two parts of the stack that
    disagree show it at a glance.
    """
    options = sorted({*WINDOWS, current.monitor_window_minutes})
    st.sidebar.caption(f"Store: {display_url(current.store_url)}")
    st.sidebar.caption(f"Registry: {display_url(current.mlflow_tracking_uri)}")
    return int(
        st.sidebar.selectbox(
            "Window",
            options,
            index=options.index(current.monitor_window_minutes),
            format_func=_label,
            key="window_minutes",
        )
    )


def _label(minutes: int) -> str:
    if minutes % 1440 == 0:
        return f"last {minutes // 1440} day(s)"
    if minutes % 60 == 0:
        return f"last {minutes // 60} hour(s)"
    return f"last {minutes} minutes"


def no_predictions(window_minutes: int) -> None:
    st.info(f"No predictions in the last {window_minutes} minutes: {TRAFFIC_HINT}")


def time_format(bucket_seconds: int) -> str:
    """Tick labels that read like times for the bucket width (never sub-second ticks)."""
    if bucket_seconds < 60:
        return "%H:%M:%S"
    if bucket_seconds < 86400:
        return "%H:%M"
    return "%b %d"


def time_axis(figure: go.Figure, bucket_seconds: int, starts: list[datetime]) -> go.Figure:
    """Readable time ticks, and half a bucket of room either side so one bar is a bar."""
    figure.update_xaxes(tickformat=time_format(bucket_seconds), hoverformat="%Y-%m-%d %H:%M:%S")
    if starts:
        pad = timedelta(seconds=bucket_seconds)
        figure.update_xaxes(range=[min(starts) - pad, max(starts) + pad])
    return figure


def bucket_label(bucket_seconds: int) -> str:
    """'1 s', '5 min', '1 h': what one point of a time chart covers."""
    if bucket_seconds < 60:
        return f"{bucket_seconds} s"
    if bucket_seconds < 3600:
        return f"{bucket_seconds // 60} min"
    return f"{bucket_seconds // 3600} h"

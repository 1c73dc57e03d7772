"""Streamlit helpers shared by the pages: the cached Monitor, the window picker, empty states."""

from __future__ import annotations

from typing import NoReturn

import streamlit as st

from mlstack_core.errors import MlstackError
from mlstack_core.settings import Settings, load_settings
from mlstack_core.store import display_url
from mlstack_dashboard.monitoring import TRAFFIC_HINT, Monitor

WINDOWS = (15, 60, 360, 1440, 10080)


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

"""Entry point of `streamlit run`: five pages, Overview first."""

from __future__ import annotations

import streamlit as st

from mlstack_dashboard.app import VIEWS

st.set_page_config(page_title="mlstack monitoring", layout="wide")
navigation = st.navigation(
    [
        st.Page(VIEWS / "overview.py", title="Overview", url_path="overview", default=True),
        st.Page(VIEWS / "models.py", title="Models", url_path="models"),
        st.Page(VIEWS / "traffic.py", title="Traffic", url_path="traffic"),
        st.Page(VIEWS / "drift.py", title="Drift", url_path="drift"),
        st.Page(VIEWS / "quality.py", title="Quality", url_path="quality"),
    ]
)
navigation.run()

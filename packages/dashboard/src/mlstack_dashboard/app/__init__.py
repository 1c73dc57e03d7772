"""The Streamlit app's files, and the command that runs it (importing this needs no Streamlit)."""

from __future__ import annotations

import sys
from pathlib import Path

from mlstack_core.settings import Settings

APP_DIR = Path(__file__).resolve().parent
MAIN = APP_DIR / "main.py"
PALETTE_PRIMARY = "#2563eb"
VIEWS = APP_DIR / "views"


def streamlit_command(settings: Settings, port: int | None = None) -> list[str]:
    """`streamlit run` bound to 127.0.0.1, headless, no usage statistics, no file watcher,
    through `serve`, which loads what the pages need before the server listens."""
    return [
        sys.executable,
        "-m",
        "mlstack_dashboard.app.serve",
        str(MAIN),
        "--server.address",
        "127.0.0.1",
        "--server.port",
        str(port or settings.dashboard_port),
        "--server.headless",
        "true",
        "--server.fileWatcherType",
        "none",
        "--browser.gatherUsageStats",
        "false",
        # A product's dashboard: no "Deploy" (to Streamlit's cloud) in the toolbar.
        "--client.toolbarMode",
        "minimal",
        # Blue for data and controls; red stays the color of alerts.
        "--theme.primaryColor",
        PALETTE_PRIMARY,
    ]

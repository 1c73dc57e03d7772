"""The Streamlit app's files, and the command that runs it (importing this needs no Streamlit)."""

from __future__ import annotations

import sys
from pathlib import Path

from mlstack_core.settings import Settings

APP_DIR = Path(__file__).resolve().parent
MAIN = APP_DIR / "main.py"
VIEWS = APP_DIR / "views"


def streamlit_command(settings: Settings, port: int | None = None) -> list[str]:
    """`streamlit run` bound to 127.0.0.1, headless, no usage statistics, no file watcher."""
    return [
        sys.executable,
        "-m",
        "streamlit",
        "run",
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
    ]

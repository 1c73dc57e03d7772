"""The warm-up `mlstack-monitor dashboard` runs before Streamlit listens, in a fresh
interpreter as the server process runs it."""

from __future__ import annotations

import os
import subprocess
import sys

from conftest import Champion

WARMED = (
    "plotly.express",
    "mlstack_dashboard.ui",
    "mlstack_dashboard.monitoring",
    # imported only once the champion lookup opened the registry's SQLite store
    "mlflow.store.model_registry.sqlalchemy_store",
)
PROBE = (
    "import sys; from mlstack_dashboard.app.serve import warm_up; warm_up(); "
    f"print(' '.join(m for m in {WARMED!r} if m in sys.modules))"
)


def probe(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, timeout=120
    )


def test_warm_up_loads_the_pages_modules_and_opens_the_registry(champion: Champion) -> None:
    done = probe(dict(os.environ))
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == list(WARMED)


def test_warm_up_with_broken_settings_leaves_the_error_to_the_page() -> None:
    done = probe({**os.environ, "MLSTACK_MONITOR_WINDOW_MINUTES": "an hour"})
    assert done.returncode == 0
    assert "Traceback" not in done.stderr
    assert "mlflow.store.model_registry.sqlalchemy_store" not in done.stdout

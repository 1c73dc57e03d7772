"""The dashboard in a real browser: `streamlit run` on a free port, headless Chromium (Debian's
by default; `--chromium PATH` picks another, e.g. Google Chrome on GitHub's runners)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import Champion, churn_frame
from playwright.sync_api import BrowserContext, expect

from mlstack_core.endpoints import DASHBOARD_HEALTH_PATH
from mlstack_core.testing.servers import free_port, running

START_TIMEOUT_S = 60.0


@pytest.fixture
def dashboard_url(champion: Champion, tmp_path: Path) -> Iterator[str]:
    """The dashboard started as `invoke dashboard` starts it (`mlstack-monitor dashboard` execs
    `streamlit run`), in its own process group."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with running(
        ["mlstack-monitor", "dashboard", "--port", str(port)],
        f"{url}{DASHBOARD_HEALTH_PATH}",
        log=tmp_path / "streamlit.log",
        seconds=START_TIMEOUT_S,
    ):
        yield url


@pytest.mark.slow
def test_overview_shows_the_champion_in_chromium(
    champion: Champion, dashboard_url: str, tmp_path: Path, chromium: BrowserContext
) -> None:
    champion.write(churn_frame(150, seed=4))
    screenshot = tmp_path / "overview.png"
    page = chromium.new_page()
    page.goto(dashboard_url, wait_until="domcontentloaded")
    champion_metric = page.get_by_test_id("stMetric").filter(has_text="Champion")
    expect(champion_metric.get_by_test_id("stMetricValue")).to_have_text(
        f"v{champion.info.version}", timeout=60_000
    )
    expect(page.get_by_text("Predictions (60 min)")).to_be_visible(timeout=60_000)
    expect(page.get_by_text("No active alerts")).to_be_visible(timeout=60_000)
    page.screenshot(path=str(screenshot), full_page=True)
    assert screenshot.stat().st_size > 10_000

"""The dashboard in a real browser: Streamlit on a free port, headless Chromium (Debian's
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
    `mlstack_dashboard.app.serve`, which runs `streamlit run`), in its own process group."""
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


PAGES = {"overview": 0, "models": 1, "traffic": 4, "drift": 5, "quality": 2}
TIME_CHARTS = {"traffic": (0, 1), "quality": (0, 1)}
RED = {"#ff4b4b", "#ff2b2b", "red", "#d62728", "#ef553b"}
PLOT_DATA = """els => els.map(e => (e.data || []).map(t => ({
    points: (t.x || []).length,
    color: String((t.marker && t.marker.color) || (t.line && t.line.color) || '').toLowerCase(),
})))"""


@pytest.mark.slow
def test_every_page_after_a_burst_in_chromium(
    champion: Champion, dashboard_url: str, tmp_path: Path, chromium: BrowserContext
) -> None:
    """A burst of a few seconds, as `invoke simulate-traffic` gives: every page renders, the
    time charts have more than one bucket, no chart is red, and there is no Deploy button."""
    champion.write(churn_frame(300, seed=5), minutes_ago=6 / 60, feedback_share=0.5)
    page = chromium.new_page()
    for name, charts in PAGES.items():
        path = "" if name == "overview" else f"/{name}"  # the default page lives at /
        page.goto(f"{dashboard_url}{path}", wait_until="domcontentloaded")
        expect(page.get_by_role("heading", name=name.capitalize())).to_be_visible(timeout=60_000)
        plots = page.locator(".js-plotly-plot")
        if charts:
            expect(plots.nth(charts - 1)).to_be_visible(timeout=60_000)
        else:
            expect(page.get_by_text("No active alerts")).to_be_visible(timeout=60_000)
        page.wait_for_timeout(500)
        page.screenshot(path=str(tmp_path / f"{name}.png"), full_page=True)
        assert (tmp_path / f"{name}.png").stat().st_size > 10_000
        assert page.get_by_text("Deploy", exact=True).count() == 0
        assert page.get_by_text("Page not found").count() == 0
        traces = plots.evaluate_all(PLOT_DATA)
        assert len(traces) >= charts, name
        colors = {t["color"] for chart in traces for t in chart}
        assert not colors & RED, f"{name} draws data in red: {colors}"
        for index in TIME_CHARTS.get(name, ()):
            points = max(t["points"] for t in traces[index])
            assert points > 1, f"{name} chart {index} has a single bucket"

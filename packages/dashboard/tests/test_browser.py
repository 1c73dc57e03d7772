"""The dashboard in a real browser: `streamlit run` on a free port, headless Debian Chromium."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from conftest import Champion, churn_frame, free_port
from playwright.sync_api import Page, expect, sync_playwright

CLI = str(Path(sys.executable).parent / "mlstack-monitor")
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
START_TIMEOUT_S = 60.0


@pytest.fixture
def dashboard_url(champion: Champion, tmp_path: Path) -> Iterator[str]:
    """The dashboard started as `invoke dashboard` starts it (`mlstack-monitor dashboard` execs
    `streamlit run`), in its own process group."""
    port = free_port()
    log = (tmp_path / "streamlit.log").open("wb")
    process = subprocess.Popen(
        [CLI, "dashboard", "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if process.poll() is not None:
                pytest.fail(f"streamlit exited: {(tmp_path / 'streamlit.log').read_text()}")
            try:
                if httpx.get(f"{url}/_stcore/health", timeout=1.0).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"streamlit not healthy in {START_TIMEOUT_S:.0f} s")
            time.sleep(0.2)
        yield url
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
        log.close()


@contextmanager
def chromium(profile: Path) -> Iterator[Page]:
    """A page of a headless Debian Chromium (never a downloaded browser)."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch_persistent_context(
            str(profile),
            executable_path=CHROMIUM,
            headless=True,
            args=CHROMIUM_FLAGS,
            viewport={"width": 1400, "height": 1000},
        )
        try:
            yield browser.new_page()
        finally:
            browser.close()


@pytest.mark.slow
def test_overview_shows_the_champion_in_chromium(
    champion: Champion, dashboard_url: str, tmp_path: Path
) -> None:
    champion.write(churn_frame(150, seed=4))
    screenshot = tmp_path / "overview.png"
    with chromium(tmp_path / "chromium-profile") as page:
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
    champion: Champion, dashboard_url: str, tmp_path: Path
) -> None:
    """A burst of a few seconds, as `invoke simulate-traffic` gives: every page renders, the
    time charts have more than one bucket, no chart is red, and there is no Deploy button."""
    champion.write(churn_frame(300, seed=5), minutes_ago=6 / 60, feedback_share=0.5)
    with chromium(tmp_path / "chromium-profile") as page:
        for name, charts in PAGES.items():
            path = "" if name == "overview" else f"/{name}"  # the default page lives at /
            page.goto(f"{dashboard_url}{path}", wait_until="domcontentloaded")
            expect(page.get_by_role("heading", name=name.capitalize())).to_be_visible(
                timeout=60_000
            )
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

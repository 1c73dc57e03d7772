"""The dashboard in a real browser: `streamlit run` on a free port, headless Chromium (Debian's
by default; `--chromium PATH` picks another, e.g. Google Chrome on GitHub's runners)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from conftest import Champion, churn_frame, free_port
from playwright.sync_api import BrowserContext, expect

CLI = str(Path(sys.executable).parent / "mlstack-monitor")
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

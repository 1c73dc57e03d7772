"""The documentation site: `invoke docs` builds it in strict mode, and a tutorial page rendered
in headless Chromium shows the plots its notebook drew."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, expect

from mlstack_core.testing.servers import free_port, wait_healthy
from tests.conftest import ROOT

BIN = Path(sys.executable).parent
SITE = ROOT / "site"
# Tutorial 01 draws the run's two logged plots: performance and feature importance.
PAGE = "tutorials/01_train_and_track/"
PLOTS = 2


@pytest.fixture(scope="module")
def built_site() -> Path:
    """The site as `invoke docs` builds it: a warning fails the strict build."""
    done = subprocess.run(
        [str(BIN / "invoke"), "docs"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "WARNING" not in done.stderr, done.stderr
    return SITE


@pytest.fixture
def site_url(built_site: Path, tmp_path: Path) -> Iterator[str]:
    """The built site served over HTTP on 127.0.0.1, as a static host would serve it."""
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"],
        cwd=built_site,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        wait_healthy(url, server, seconds=30)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_every_page_of_the_nav_is_built(built_site: Path) -> None:
    tutorials = sorted(p.stem for p in (ROOT / "docs" / "tutorials").glob("[0-9]*.ipynb"))
    assert tutorials, "no tutorial notebooks"
    for name in tutorials:
        assert (built_site / "tutorials" / name / "index.html").is_file(), name
    assert "Quick start" in (built_site / "index.html").read_text(encoding="utf-8")
    reference = (built_site / "reference" / "index.html").read_text(encoding="utf-8")
    assert "ModelRegistry" in reference


def test_a_tutorial_page_shows_its_plots_in_chromium(
    site_url: str, tmp_path: Path, chromium: BrowserContext
) -> None:
    screenshot = tmp_path / "tutorial.png"
    page = chromium.new_page()
    page.goto(site_url + PAGE, wait_until="load")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Train a model")
    plots = page.locator(".jp-RenderedImage img")
    expect(plots).to_have_count(PLOTS)
    for index in range(PLOTS):
        plot = plots.nth(index)
        plot.scroll_into_view_if_needed()
        expect(plot).to_be_visible()
        decoded = plot.evaluate("img => img.complete && img.naturalWidth")
        assert decoded > 200, f"plot {index} did not decode ({decoded})"
    page.screenshot(path=str(screenshot), full_page=True)
    assert screenshot.stat().st_size > 50_000

"""Options every test run of the workspace understands, whichever package's tests it collects.

`--chromium` is the browser the browser tests drive. It defaults to Debian's Chromium, which
`.ci/run` installs; GitHub's Ubuntu runners have no working `chromium` package (it is a snap
stub there) but ship Google Chrome, so the workflow passes `--chromium=/usr/bin/google-chrome`
through `PYTEST_ADDOPTS`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext

DEFAULT_CHROMIUM = "/usr/bin/chromium"
# Headless, sandbox-free (root in CI), and quiet: no update checks or sync reaching out.
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--chromium",
        default=DEFAULT_CHROMIUM,
        help=f"Chromium-family browser for the browser tests (default {DEFAULT_CHROMIUM}).",
    )


@pytest.fixture
def chromium(pytestconfig: pytest.Config, tmp_path: Path) -> Iterator[BrowserContext]:
    """A headless browser (the one given by `--chromium`) with a fresh profile, closed after
    the test; `chromium.new_page()` opens a tab."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"),
            executable_path=str(pytestconfig.getoption("chromium")),
            headless=True,
            args=list(CHROMIUM_FLAGS),
            viewport={"width": 1400, "height": 1000},
        )
        try:
            yield context
        finally:
            context.close()

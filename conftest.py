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

from mlstack_core.testing.browser import DEFAULT_CHROMIUM, headless_chromium

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext


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
    with headless_chromium(
        str(pytestconfig.getoption("chromium")), tmp_path / "chromium-profile"
    ) as context:
        yield context

"""Options every test run of the workspace understands, whichever package's tests it collects.

`--chromium` is the browser the browser tests drive. It defaults to Debian's Chromium, which
`.ci/run` installs; GitHub's Ubuntu runners have no working `chromium` package (it is a snap
stub there) but ship Google Chrome, so the workflow passes `--chromium=/usr/bin/google-chrome`
through `PYTEST_ADDOPTS`.
"""

from __future__ import annotations

from typing import Any

import pytest

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


@pytest.fixture(scope="session")
def chromium_launch_options(pytestconfig: pytest.Config) -> dict[str, Any]:
    """Keyword arguments for playwright's `chromium.launch_persistent_context`: the browser
    given by `--chromium`, headless, with the flags above."""
    return {
        "executable_path": str(pytestconfig.getoption("chromium")),
        "headless": True,
        "args": list(CHROMIUM_FLAGS),
    }

"""The headless Chromium the browser tests and the start-up benchmark drive, launched one way.

Debian's Chromium by default (`.ci/run` installs it); GitHub's Ubuntu runners pass Google
Chrome's path instead, their `chromium` package being a snap stub.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

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


@contextmanager
def headless_chromium(executable: str, profile: Path) -> Iterator[BrowserContext]:
    """A browser with a fresh profile in `profile`, closed on exit; `.new_page()` opens a tab."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile),
            executable_path=executable,
            headless=True,
            args=list(CHROMIUM_FLAGS),
            viewport={"width": 1400, "height": 1000},
        )
        try:
            yield context
        finally:
            context.close()

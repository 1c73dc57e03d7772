"""Logging for entry points: one rich handler, installed by CLIs only, never at import."""

from __future__ import annotations

import logging

from rich.console import Console
from rich.logging import RichHandler


def setup_logging(level: str = "INFO", console: Console | None = None) -> None:
    """Route stdlib logging through one rich handler on stderr and quiet chatty libraries."""
    handler = RichHandler(
        console=console or Console(stderr=True),
        show_path=False,
        rich_tracebacks=True,
        markup=False,
    )
    logging.basicConfig(level=level, format="%(message)s", handlers=[handler], force=True)
    for noisy in ("mlflow", "alembic", "urllib3", "httpx", "git", "bentoml"):
        logging.getLogger(noisy).setLevel(logging.WARNING)

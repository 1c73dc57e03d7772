"""What every mlstack CLI does with a user's mistake: one red line, a hint, its exit code."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import NoReturn, TypeVar

import typer
from rich.console import Console

from mlstack_core.errors import MlstackError
from mlstack_core.logging import setup_logging
from mlstack_core.settings import Settings, load_settings

T = TypeVar("T")
stderr = Console(stderr=True)


def fail(exc: MlstackError) -> NoReturn:
    """Print `error: cause` and `hint: …` unwrapped on stderr and exit with the error's code."""
    stderr.print(f"[bold red]error:[/] {exc.cause}", highlight=False, soft_wrap=True)
    if exc.hint:
        stderr.print(f"[yellow]hint:[/] {exc.hint}", highlight=False, soft_wrap=True)
    sys.exit(exc.exit_code)


def guarded(action: Callable[[Settings], T], level: str = "WARNING") -> T:
    """Run `action` with the settings; any MlstackError (settings included) ends in `fail`."""
    setup_logging(level)
    try:
        return action(load_settings())
    except MlstackError as exc:
        fail(exc)


def make_app(help_text: str) -> typer.Typer:
    """A typer app as every mlstack CLI has it: help when called bare, plain tracebacks."""
    return typer.Typer(
        help=help_text, no_args_is_help=True, pretty_exceptions_enable=False, add_completion=False
    )

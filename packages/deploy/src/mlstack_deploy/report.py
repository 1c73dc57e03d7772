"""The services table and the problem lines that `up`, `status` and `compose-up` print.

A failing service is shown as which, why and what to do, and the command then exits with
DEGRADED: the one format and exit code of every command that starts the stack.
"""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from mlstack_deploy.supervisor import Outcome

DEGRADED = 3

_COLOUR = {"healthy": "green", "failed": "red", "unhealthy": "yellow", "stopped": "dim"}


def services_table(outcomes: list[Outcome]) -> Table:
    table = Table(title="mlstack", title_justify="left")
    for column in ("service", "URL", "status", "try first / fix"):
        table.add_column(column, overflow="fold")
    for outcome in outcomes:
        status = f"[{_COLOUR[outcome.status]}]{outcome.status}[/]"
        if outcome.detail:
            status += f"\n{outcome.detail}"
        action = outcome.service.try_first if outcome.status == "healthy" else outcome.fix
        table.add_row(outcome.service.title, outcome.service.url, status, action)
    return table


def report(console: Console, outcomes: list[Outcome]) -> None:
    """The table, then each problem on its own unwrapped lines (easy to read and to copy)."""
    console.print(services_table(outcomes))
    for outcome in outcomes:
        if outcome.status != "healthy":
            console.print(
                f"[red]✗[/] {outcome.service.title}: {outcome.status}"
                + (f": {outcome.detail}" if outcome.detail else ""),
                soft_wrap=True,
                highlight=False,
            )
            if outcome.fix:
                console.print(f"  fix: {outcome.fix}", soft_wrap=True, highlight=False)


def exit_code(outcomes: list[Outcome]) -> int:
    """0 when every service is healthy, DEGRADED otherwise."""
    return 0 if all(o.status == "healthy" for o in outcomes) else DEGRADED

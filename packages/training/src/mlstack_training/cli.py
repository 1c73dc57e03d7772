"""`mlstack-train`: train, promote, roll back. Errors a user caused end in one clean line."""

from __future__ import annotations

import atexit
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from mlstack_core.cli import guarded, make_app
from mlstack_core.errors import ServiceError
from mlstack_core.processes import console_script
from mlstack_core.settings import Settings
from mlstack_core.spec import Task
from mlstack_training.pipeline import ESTIMATORS, Estimator

app = make_app("Train models into the MLflow registry and manage the champion alias.")
console = Console()
err = Console(stderr=True)


@contextmanager
def steps() -> Iterator[Callable[[str], None]]:
    """A spinner on stderr showing the current step of a long job, and its elapsed time."""
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    ) as progress:
        task = progress.add_task("Starting", total=None)
        yield lambda description: progress.update(task, description=description)


@app.command()
def train(
    data: Annotated[Path | None, typer.Option(help="CSV or Parquet file to train on.")] = None,
    target: Annotated[str | None, typer.Option(help="Target column (or from --spec).")] = None,
    task: Annotated[Task | None, typer.Option(help="Override the inferred task.")] = None,
    spec: Annotated[Path | None, typer.Option(help="Dataset spec (YAML or TOML).")] = None,
    seed_sample: Annotated[bool, typer.Option(help="Train on the bundled seed sample.")] = False,
    estimator: Annotated[str, typer.Option(help=f"One of {', '.join(ESTIMATORS)}.")] = ESTIMATORS[
        0
    ],
    plots_later: Annotated[
        bool,
        typer.Option(
            help="Log the plots at exit, after the result (`invoke up` serves sooner this way)."
        ),
    ] = False,
) -> None:
    """Train, evaluate, log to MLflow, register a version and run the promotion gate."""
    from mlstack_training import seed
    from mlstack_training.job import TrainingJob, TrainingRequest

    if seed_sample == (data is not None):
        err.print("[bold red]error:[/] pass exactly one of --seed-sample or --data PATH")
        sys.exit(2)
    if estimator not in ESTIMATORS:
        err.print(f"[bold red]error:[/] unknown estimator {estimator!r} ({', '.join(ESTIMATORS)})")
        sys.exit(2)
    request = TrainingRequest(
        data=seed.seed_csv() if seed_sample else Path(str(data)),
        target=target,
        task=task,
        spec_path=seed.seed_spec() if seed_sample and spec is None else spec,
        estimator=Estimator.__args__[ESTIMATORS.index(estimator)],  # type: ignore[attr-defined]
        plots_later=plots_later,
    )

    def run(settings: Settings) -> None:
        from mlstack_core.registry import ensure_reachable

        ensure_reachable(settings)
        with steps() as step:
            result = TrainingJob(settings, step).run(request)
        table = Table(title=f"{settings.model_name} v{result.version}", show_header=False)
        table.add_row(
            "data", f"{request.data.name} ({result.spec.task}, target {result.spec.target})"
        )
        table.add_row("run", result.run_id)
        for name, value in sorted(result.metrics.items()):
            marker = " (gate metric)" if name == result.primary else ""
            table.add_row(name, f"{value:.4f}{marker}")
        verdict = (
            "[green]promoted to champion[/]"
            if result.decision.promoted
            else ("[yellow]not promoted (alias challenger)[/]")
        )
        table.add_row("decision", verdict)
        table.add_row("why", result.decision.reason)
        table.add_row("time", f"{result.seconds:.1f} s")
        console.print(table)
        if result.plots is not None:
            atexit.register(_plots_at_exit, result.plots, result.run_id)

    guarded(run)


def _plots_at_exit(plots: Callable[[], None], run_id: str) -> None:
    """Log the plots left for later, at a lower CPU priority than what runs beside them."""
    os.nice(10)
    try:
        plots()
    except Exception as exc:  # the version is registered: a missing plot is not worth a traceback
        err.print(f"[yellow]warning:[/] the plots of run {run_id} were not logged: {exc}")


def _step_command(settings: Settings, command: list[str]) -> tuple[int, str, str]:
    """Run another package's CLI (training never imports serving or deploy), with these
    settings resolved."""
    done = subprocess.run(
        command, capture_output=True, text=True, check=False, env=settings.child_env()
    )
    return done.returncode, done.stdout, done.stderr


def _build_and_move(settings: Settings, outcome: dict[str, Any]) -> None:
    """Build the new champion's Bento and move a running API to it, timing both."""
    seconds: dict[str, float] = outcome["seconds"]
    began = time.perf_counter()
    code, _out, error = _step_command(settings, [console_script("mlstack-serve"), "build"])
    seconds["build"] = time.perf_counter() - began
    if code != 0:
        raise ServiceError(
            f"the Bento of v{outcome['challenger']} could not be built: "
            f"{error.strip().splitlines()[-1] if error.strip() else f'exit code {code}'}",
            f"v{outcome['challenger']} is champion: `invoke build`, then `mlstack reload-api`",
        )
    began = time.perf_counter()
    code, out, error = _step_command(settings, [console_script("mlstack"), "reload-api", "--json"])
    seconds["move"] = time.perf_counter() - began
    try:
        outcome["api"] = json.loads(out)
    except ValueError:
        outcome["api"] = {"status": "failed", "detail": error.strip() or out.strip()}
    if code != 0:
        raise ServiceError(
            f"v{outcome['challenger']} is champion and built, but the API did not move: "
            f"{outcome['api'].get('detail', '')}",
            "see `invoke logs api`; `mlstack reload-api` retries the move",
        )


def _print_retrain(outcome: dict[str, Any]) -> None:
    rows = outcome["rows"]
    table = Table(title=f"retrain from champion v{outcome['champion_before']}", show_header=False)
    table.add_row("old rows", f"{rows['old']:,} ({outcome['old_data']})")
    first, last = outcome["window"]
    table.add_row("new rows", f"{rows['new']:,} labelled predictions, {first} to {last}")
    table.add_row("held out", f"{rows['recent_held_out']:,} newest labelled rows (the gate's)")
    if rows["file"]:
        table.add_row("file rows", f"{rows['file']:,}")
    refused = "; ".join(f"{n} {why}" for why, n in outcome["refused"].items()) or "none"
    table.add_row("refused", f"{rows['refused']:,} by the contract: {refused}")
    verdict = "[green]promoted to champion[/]" if outcome["promoted"] else "[yellow]not promoted[/]"
    table.add_row("decision", f"v{outcome['challenger']} {verdict}")
    table.add_row("why", outcome["reason"])
    api = outcome.get("api")
    if api:
        moved = api.get("refused_seconds")
        detail = api.get("detail", "")
        if moved is not None:
            detail += f" (requests refused for {moved:.1f} s)"
        table.add_row("API", detail)
    times = ", ".join(f"{k} {v:.1f} s" for k, v in outcome["seconds"].items())
    table.add_row("time", f"{sum(outcome['seconds'].values()):.1f} s ({times})")
    console.print(table)


@app.command()
def retrain(
    data: Annotated[
        Path | None, typer.Option(help="A new file of labelled rows to add (CSV or Parquet).")
    ] = None,
    estimator: Annotated[str, typer.Option(help=f"One of {', '.join(ESTIMATORS)}.")] = ESTIMATORS[
        0
    ],
    move: Annotated[
        bool, typer.Option(help="When promoted, build the Bento and move the running API.")
    ] = True,
    as_json: Annotated[bool, typer.Option("--json", help="Print the outcome as JSON.")] = False,
) -> None:
    """Train a challenger on the champion's data plus the labelled traffic since, and gate it
    on recent traffic; exit 2 (nothing changed) when there are too few labelled rows."""
    from mlstack_training.retrain import Retrainer, RetrainRequest, summary

    if estimator not in ESTIMATORS:
        err.print(f"[bold red]error:[/] unknown estimator {estimator!r} ({', '.join(ESTIMATORS)})")
        sys.exit(2)
    request = RetrainRequest(
        extra_data=data,
        estimator=Estimator.__args__[ESTIMATORS.index(estimator)],  # type: ignore[attr-defined]
    )

    def run(settings: Settings) -> dict[str, Any]:
        with steps() as step:
            outcome = summary(Retrainer(settings, step).run(request))
            if outcome["promoted"] and move:
                step("Building the Bento and moving the API")
                _build_and_move(settings, outcome)
        return outcome

    outcome = guarded(run)
    if as_json:
        sys.stdout.write(json.dumps(outcome, default=str, indent=2) + "\n")
    else:
        _print_retrain(outcome)


@app.command()
def promote(
    version: int,
    reason: Annotated[str, typer.Option(help="Why, recorded in the alias history.")] = "manual",
) -> None:
    """Make VERSION the champion, whatever the gate said (recorded in the history)."""
    from mlstack_core.registry import ModelRegistry

    def run(settings: Settings) -> None:
        info = ModelRegistry(settings).promote(version, f"manual promotion: {reason}")
        console.print(f"{info.name} v{info.version} is now [green]champion[/]")

    guarded(run)


@app.command()
def rollback() -> None:
    """Give the champion alias back to the previous champion."""
    from mlstack_core.registry import ModelRegistry

    def run(settings: Settings) -> None:
        info = ModelRegistry(settings).rollback()
        console.print(f"{info.name} v{info.version} is champion again")

    guarded(run)


@app.command("seed-sample")
def seed_sample_command(
    out: Annotated[Path | None, typer.Option(help="Where to write (default: the package)")] = None,
) -> None:
    """Regenerate the bundled seed sample from its generator."""
    from mlstack_training import seed

    console.print(f"wrote {seed.write(out)}")

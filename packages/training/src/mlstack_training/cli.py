"""`mlstack-train`: train, promote, roll back. Errors a user caused end in one clean line."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from mlstack_core.cli import guarded, make_app
from mlstack_core.settings import Settings
from mlstack_core.spec import Task
from mlstack_training.pipeline import ESTIMATORS, Estimator

app = make_app("Train models into the MLflow registry and manage the champion alias.")
console = Console()
err = Console(stderr=True)


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
    )

    def run(settings: Settings) -> None:
        from mlstack_core.registry import ensure_reachable

        ensure_reachable(settings)
        with Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            TimeElapsedColumn(),
            console=err,
            transient=True,
        ) as progress:
            step = progress.add_task("Starting", total=None)
            result = TrainingJob(settings, lambda s: progress.update(step, description=s)).run(
                request
            )
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

    guarded(run)


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

"""`mlstack-monitor`: check the live model (exit 1 on alert), simulate traffic, run the app."""

from __future__ import annotations

import json
import os
import sys
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn
from rich.table import Table

from mlstack_core.cli import guarded, make_app
from mlstack_core.settings import Settings

if TYPE_CHECKING:
    from mlstack_dashboard.monitoring import MonitoringReport

app = make_app("Monitor the served model: drift, latency, live quality and alerts.")
console = Console()
err = Console(stderr=True)


@app.command()
def check(
    window: Annotated[
        int | None,
        typer.Option(min=1, help="Minutes to look back (MLSTACK_MONITOR_WINDOW_MINUTES)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    retrain: Annotated[
        bool,
        typer.Option(help="On a drift or quality alert, retrain (and serve the new champion)."),
    ] = False,
) -> None:
    """Print the monitoring report; exit 0 when healthy, 1 when an alert fires."""
    from mlstack_dashboard.alerts import post_webhook
    from mlstack_dashboard.monitoring import Monitor
    from mlstack_dashboard.retraining import retrain_on_alert

    def run(settings: Settings) -> tuple[MonitoringReport, dict[str, Any]]:
        from mlstack_core.registry import ensure_reachable

        ensure_reachable(settings)
        monitor = Monitor(settings)
        try:
            report = monitor.report(window)
        finally:
            monitor.close()
        payload = report.to_dict()
        if retrain:
            payload["retrain"] = retrain_on_alert(report, settings)
        if report.alerts and settings.alert_webhook_url:
            post_webhook(settings.alert_webhook_url, json.dumps(payload, default=str))
        return report, payload

    report, payload = guarded(run)
    if as_json:
        sys.stdout.write(json.dumps(payload, indent=2, default=str) + "\n")
    else:
        _print_report(report)
        if "retrain" in payload:
            _print_retrain(payload["retrain"])
    raise typer.Exit(0 if report.healthy else 1)


def _print_retrain(outcome: dict[str, Any]) -> None:
    status = outcome["status"]
    line = f"[bold]retrain[/]: {status}"
    if "challenger" in outcome:
        line += f" (v{outcome['challenger']}): {outcome['reason']}"
    elif "detail" in outcome:
        line += f": {outcome['detail']}"
    console.print(line, highlight=False, soft_wrap=True)
    api = outcome.get("api")
    if api:
        console.print(f"API: {api.get('detail', '')}", highlight=False, soft_wrap=True)


def _print_report(report: MonitoringReport) -> None:
    champion = (
        f"v{report.champion_version}"
        if report.champion_version
        else f"none ({report.champion_problem})"
    )
    console.print(
        f"[bold]mlstack monitor[/]  window {report.window_minutes} min  champion {champion}"
    )
    console.print(f"store {report.store}  registry {report.registry}", highlight=False)
    lat = report.latency
    console.print(
        f"predictions {report.totals.predictions}  feedback {report.feedback}  "
        f"latency p50 {lat.p50_ms:.1f} ms  p95 {lat.p95_ms:.1f} ms  p99 {lat.p99_ms:.1f} ms"
    )
    if report.quality is not None and report.quality.live is not None:
        reference = f"{report.quality.reference:.3f}" if report.quality.reference else "n/a"
        console.print(
            f"live {report.quality.metric} {report.quality.live:.3f} "
            f"(offline {reference}, {report.quality.labelled} labelled)"
        )
    if report.drift is not None:
        rule = report.drift.rule
        table = Table(
            "feature", "kind", "test", rule.measure, "drifted", title=f"Drift ({rule.describe()})"
        )
        for f in report.drift.features:
            table.add_row(
                f.name, f.kind, f.method, f"{f.score:.3g}", "[red]yes[/]" if f.drifted else "no"
            )
        console.print(table)
    elif report.drift_reason:
        console.print(f"drift: not checked ({report.drift_reason})", highlight=False)
    if report.healthy:
        console.print("[green]healthy[/]: no alert fired")
    for alert in report.alerts:
        console.print(f"[bold red]ALERT[/] {alert.rule}: {alert.message}", highlight=False)


@app.command()
def simulate(
    requests: Annotated[
        int, typer.Option("-n", "--requests", min=1, help="Requests to send.")
    ] = 200,
    drift: Annotated[bool, typer.Option(help="Shift a few features away from training.")] = False,
    truth_changes: Annotated[
        bool,
        typer.Option(
            help="The ground truth of the shifted rows follows a new rule (implies --drift)."
        ),
    ] = False,
    feedback_share: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Share of answers that get ground truth.")
    ] = 0.5,
    seed: Annotated[int, typer.Option(help="Random seed for the replayed rows.")] = 0,
) -> None:
    """Send realistic requests (held-out rows of the champion) and feedback to the API."""
    from mlstack_dashboard.simulate import SimulationResult, TrafficSimulator

    def run(settings: Settings) -> SimulationResult:
        simulator = TrafficSimulator(settings)
        try:
            with Progress(
                *Progress.get_default_columns()[:1],
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=err,
                transient=True,
            ) as progress:
                bar = progress.add_task("Sending requests", total=requests)
                return simulator.run(
                    requests,
                    drift=drift,
                    truth_changes=truth_changes,
                    feedback_share=feedback_share,
                    seed=seed,
                    on_progress=lambda done: progress.update(bar, completed=done),
                )
        finally:
            simulator.close()

    result = guarded(run)
    console.print(
        f"sent {result.requests} requests: {result.predictions} predictions "
        f"(model v{result.model_version}), {result.feedback} feedback, {result.failed} failed, "
        f"in {result.seconds:.1f} s"
    )
    if result.shifted:
        console.print(f"shifted features: {', '.join(result.shifted)}")
    if result.first_error:
        err.print(f"[yellow]first failure:[/] {result.first_error}", highlight=False)
    if result.failed == result.requests:
        raise typer.Exit(1)
    console.print("see it with `uv run invoke dashboard` or `uv run invoke monitor`")


@app.command()
def dashboard(
    port: Annotated[int | None, typer.Option(help="Port (MLSTACK_DASHBOARD_PORT).")] = None,
) -> None:
    """Run the Streamlit dashboard on 127.0.0.1, headless (this process becomes Streamlit)."""
    from mlstack_dashboard.app import streamlit_command

    settings = guarded(lambda s: s)
    command = streamlit_command(settings, port)
    os.execve(command[0], command, settings.child_env())  # noqa: S606 - our own argv, no shell

"""`mlstack up|down|status|logs|run`: the whole local stack, one command, degraded not dead.

`up` bootstraps what is missing (a champion trained on the seed sample, the champion's Bento),
starts the MLflow UI, the API and the dashboard, waits for their health, and prints one table.
A service that fails is reported with its reason and fix while the others keep running; the
exit code is then DEGRADED.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from mlstack_core.artifacts import BENTO_NAME, bento_versions_folder
from mlstack_core.bento_code import bento_is_current
from mlstack_core.cli import fail, guarded, make_app
from mlstack_core.endpoints import is_healthy
from mlstack_core.errors import MlstackError, RegistryUnreachableError
from mlstack_core.processes import stop_groups
from mlstack_core.settings import Settings
from mlstack_deploy.chain import FAILED, THEN
from mlstack_deploy.report import DEGRADED, exit_code, report
from mlstack_deploy.services import (
    Service,
    all_services,
    api_service,
    example_request,
    predict_curl,
)
from mlstack_deploy.supervisor import Outcome, Supervisor

HEALTH_TIMEOUT = {"mlflow": 60.0, "api": 120.0, "dashboard": 60.0}

app = make_app("Run the local mlstack: MLflow UI, prediction API and dashboard.")
console = Console()
err = Console(stderr=True)


def _settings() -> Settings:
    return guarded(lambda settings: settings)


@dataclass(frozen=True)
class Step:
    """One bootstrap step: what it does (said before it runs) and its console script's argv."""

    what: str
    argv: list[str]


def bootstrap(
    settings: Settings, steps: list[Step], finished: Callable[[int], None]
) -> tuple[int, str] | None:
    """Run `steps` in one process (mlstack_deploy.chain), calling `finished` with each step's
    index as it ends; the failed step's index and its error line, or None.

    Returns as soon as the last step has ended: what a step leaves for its exit (the plots of
    `train --plots-later`) goes on beside the services. The chain's stderr is the log
    `bootstrap`; on a failure it is printed here as well.
    """
    for step in steps:
        console.print(f"[bold]{step.what}[/] ({' '.join(step.argv)})")
    argv: list[str] = []
    for step in steps:
        argv += [THEN, *step.argv] if argv else step.argv
    log = settings.logs_dir / "bootstrap.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    progress, progress_writer = os.pipe()
    with log.open("w") as errors:
        chain = [sys.executable, "-m", "mlstack_deploy.chain", "--progress-fd"]
        process = subprocess.Popen(
            [*chain, str(progress_writer), *argv],
            stderr=errors,
            pass_fds=(progress_writer,),
            env=settings.child_env(),
        )
    os.close(progress_writer)
    with os.fdopen(progress) as done:
        for line in done:
            index = int(line)
            finished(index)
            if index == len(steps) - 1:
                return None
    code = process.wait()
    output = log.read_text(errors="replace")
    lines = [ln.strip() for ln in output.splitlines() if ln.strip()]
    failed = next((ln for ln in reversed(lines) if ln.startswith(FAILED)), "")
    sys.stderr.write("".join(ln + "\n" for ln in output.splitlines() if ln.strip() != failed))
    failed_step = int(failed.removeprefix(FAILED)) if failed else 0
    cause = next((ln for ln in reversed(lines) if ln.startswith("error:")), "")
    causes = [ln for ln in lines if ln != failed]
    return failed_step, cause or (causes[-1] if causes else f"exit code {code}")


def _champion_version(settings: Settings) -> int | None:
    """The champion's version: one SQL query on a database registry, else MLflow's client."""
    from mlstack_core.champion_lookup import RegistryNotReadableError, champion_version_from_db

    try:
        return champion_version_from_db(settings)
    except RegistryNotReadableError:
        from mlstack_core.registry import ModelRegistry

        champion = ModelRegistry(settings).champion()
        return champion.version if champion else None


def bento_current(settings: Settings, version: int) -> bool:
    """Whether the Bento `mlstack:v<version>` is in the local BentoML store and holds this
    checkout's code (read from its bento.yaml: no bentoml import)."""
    return bento_is_current(settings, f"{BENTO_NAME}:v{version}")


def any_bento(settings: Settings) -> bool:
    """Whether any Bento of the model was built here (what the API can serve offline)."""
    return any(bento_versions_folder(settings, BENTO_NAME).glob("v*/bento.yaml"))


def _write_example(settings: Settings, version: int) -> None:
    """A row of the served model's input example (in its Bento model) as the printed curl's body.

    MLflow saved the example with the model ("split" orient); reading it needs no registry.
    """
    model = settings.bentoml_home / "models" / settings.model_name / f"v{version}"
    example = json.loads((model / "mlflow_model" / "input_example.json").read_text())
    row = {
        column: None if isinstance(value, float) and math.isnan(value) else value
        for column, value in zip(example["columns"], example["data"][0], strict=True)
    }
    example_request(settings).write_text(json.dumps({"records": [row]}, indent=2) + "\n")


class StackRun:
    """One `up`: what was started by this process and how each service ended up."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.supervisor = Supervisor(settings)
        self.started: dict[str, subprocess.Popen[bytes]] = {}
        self.outcomes: dict[str, Outcome] = {}

    def start(self, service: Service) -> None:
        if not service.local:
            self.outcomes[service.name] = self.supervisor.check(service)
            return
        if self.supervisor.running(service) is not None:
            self.outcomes[service.name] = self.supervisor.check(service)
            return
        launched = self.supervisor.launch(service)
        if isinstance(launched, Outcome):
            self.outcomes[service.name] = launched
        else:
            self.started[service.name] = launched

    def start_once(self, service: Service) -> None:
        """`start`, unless this `up` has already started or checked `service`."""
        if service.name not in self.started and service.name not in self.outcomes:
            self.start(service)

    def prepare_api(self, registry_ready: Callable[[], None]) -> Service | Outcome:
        """The API to start, on the champion's Bento (bootstrapped when missing), or the
        outcome of a bootstrap that failed.

        `registry_ready` runs once the registry's schema exists (training creates it on a
        fresh clone), so the MLflow server never races training to create it.
        """
        service = api_service(self.settings)
        try:
            champion = _champion_version(self.settings)
        except MlstackError as exc:
            registry_ready()
            if isinstance(exc, RegistryUnreachableError) and any_bento(self.settings):
                return service  # the API serves its newest Bento without the registry
            return Outcome(service, "failed", detail=exc.cause, fix=exc.hint)
        train = Step(
            "No champion yet: training one on the seed sample",
            ["mlstack-train", "train", "--seed-sample", "--plots-later"],
        )
        steps = [train] if champion is None else []
        if champion is None or not bento_current(self.settings, champion):
            steps.append(Step("Building the champion's Bento", ["mlstack-serve", "build"]))
        if champion is not None:
            registry_ready()
        failure = (
            bootstrap(
                self.settings,
                steps,
                lambda index: registry_ready() if steps[index] is train else None,
            )
            if steps
            else None
        )
        if champion is None:
            champion = _champion_version(self.settings)
            if champion is None or (failure is not None and steps[failure[0]] is train):
                registry_ready()
                cause = failure[1] if failure else "no champion was promoted"
                return Outcome(
                    service,
                    "failed",
                    detail=f"bootstrap training failed: {cause}",
                    fix="fix the error above, then `uv run invoke up` again",
                )
        if failure is not None:
            return Outcome(
                service,
                "failed",
                detail=f"Bento build failed: {failure[1]}",
                fix="see the error above; `uv run invoke build` retries it",
            )
        with contextlib.suppress(OSError, KeyError, IndexError, ValueError):
            _write_example(self.settings, champion)
        return api_service(self.settings, bento=f"{BENTO_NAME}:v{champion}")

    def wait(self) -> list[Outcome]:
        for name, process in self.started.items():
            service = next(s for s in all_services(self.settings) if s.name == name)
            self.outcomes[name] = self.supervisor.wait_healthy(
                service, process, HEALTH_TIMEOUT[name]
            )
        order = [s.name for s in all_services(self.settings)]
        return [self.outcomes[name] for name in order if name in self.outcomes]

    def stop_started(self) -> None:
        """Stop every service this `up` started, all at once."""
        stop_groups([process.pid for process in self.started.values()])
        for name in self.started:
            self.supervisor.stop(next(s for s in all_services(self.settings) if s.name == name))


@app.command()
def up(
    detach: Annotated[bool, typer.Option(help="Return once everything is healthy.")] = False,
) -> None:
    """Bootstrap what is missing, start every service, wait for health, print where they are."""
    settings = _settings()
    if settings.env == "local":
        settings.ensure_state_dir()
    began = time.perf_counter()
    run = StackRun(settings)
    # A shell's background job starts with Ctrl-C ignored, and Python then never raises
    # KeyboardInterrupt: `up` must stop what it started on Ctrl-C however it was launched.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        _start_all(run, settings, began, detach)
    except KeyboardInterrupt:
        console.print("interrupted: stopping what was started…")
        run.stop_started()
        raise typer.Exit(130) from None


def _start_all(run: StackRun, settings: Settings, began: float, detach: bool) -> None:
    services = {s.name: s for s in all_services(settings)}
    run.start(services["dashboard"])
    api_port_busy = run.supervisor.busy_port(services["api"])
    if api_port_busy is not None and run.supervisor.running(services["api"]) is None:
        run.outcomes["api"] = api_port_busy
        run.start(services["mlflow"])
    else:
        prepared = run.prepare_api(lambda: run.start_once(services["mlflow"]))
        if isinstance(prepared, Outcome):
            run.outcomes["api"] = prepared
        else:
            run.start(prepared)
    outcomes = run.wait()
    report(console, outcomes)
    if run.outcomes.get("api") and run.outcomes["api"].status == "healthy":
        console.print(f"try: {predict_curl(settings)}", soft_wrap=True, highlight=False)
    degraded = any(o.status != "healthy" for o in outcomes)
    console.print(
        f"ready in {time.perf_counter() - began:.1f} s"
        + (
            " — [yellow]degraded[/]: the services above that are not healthy need a fix"
            if degraded
            else ""
        )
    )
    if detach:
        console.print("`uv run invoke status` shows them, `uv run invoke down` stops them")
        raise typer.Exit(DEGRADED if degraded else 0)
    _supervise(run, degraded)


def _supervise(run: StackRun, degraded: bool) -> None:
    """Foreground: report services that die, stop everything on Ctrl-C or SIGTERM."""
    stopping = False

    def request_stop(_signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    console.print("Ctrl-C stops everything")
    alive = dict(run.started)
    while alive and not stopping:
        for name, process in list(alive.items()):
            if process.poll() is not None and _moved(run, name, process):
                console.print(f"{name} was moved to a new process (`mlstack reload-api`)")
                del alive[name]
            elif process.poll() is not None:
                err.print(
                    f"[red]{name} exited with code {process.returncode}[/]: "
                    f"`uv run invoke logs {name}` shows why"
                )
                degraded = True
                del alive[name]
        time.sleep(0.5)
    # Ctrl-C reaches every process of the terminal: the invoke (and uv) in front of this one
    # may already be gone with the pipe our output went to. Stopping must not depend on it.
    with contextlib.suppress(OSError):
        console.print("stopping…")
    run.stop_started()
    raise typer.Exit(DEGRADED if degraded else 0)


def _moved(run: StackRun, name: str, process: subprocess.Popen[bytes]) -> bool:
    """Whether the service that `process` was now runs in another recorded process."""
    state = run.supervisor.state(name)
    return state is not None and state.pid != process.pid


@app.command("reload-api")
def reload_api(
    as_json: Annotated[bool, typer.Option("--json", help="Print the outcome as JSON.")] = False,
) -> None:
    """Move the running API to the champion's Bento (after a promotion); no-op when it is down.

    Exit 0 when moved or nothing was running, 3 when the new API did not become healthy.
    """
    from mlstack_deploy.swap import swap_api

    settings = _settings()
    result = swap_api(settings)
    failed = result.status == "failed"
    if as_json:
        sys.stdout.write(json.dumps(result.to_dict(), indent=2) + "\n")
    elif result.status == "moved":
        console.print(
            f"{result.detail}: requests were refused for {result.refused_seconds:.1f} s "
            f"(total {result.seconds:.1f} s)"
        )
    else:
        (err if failed else console).print(result.detail, highlight=False, soft_wrap=True)
    raise typer.Exit(DEGRADED if failed else 0)


@app.command()
def down() -> None:
    """Stop every service that `up` started (by their recorded process groups)."""
    settings = _settings()
    supervisor = Supervisor(settings)
    for service in all_services(settings):
        if service.local and supervisor.stop(service):
            console.print(f"stopped {service.title} ({service.url})")
    console.print("all mlstack services are stopped")


@app.command()
def status() -> None:
    """Show each service's URL and health; exit 0 only when all are healthy."""
    settings = _settings()
    supervisor = Supervisor(settings)
    outcomes = [supervisor.check(s) for s in all_services(settings)]
    report(console, outcomes)
    raise typer.Exit(exit_code(outcomes))


@app.command()
def logs(
    service: Annotated[str | None, typer.Argument(help="mlflow, api or dashboard")] = None,
    lines: Annotated[int, typer.Option(help="How many lines from the end.")] = 40,
) -> None:
    """Print the end of a service's log (all services when none is named)."""
    settings = _settings()
    supervisor = Supervisor(settings)
    names = [s.name for s in all_services(settings)]
    if service is not None and service not in names:
        err.print(f"[bold red]error:[/] unknown service {service!r} (one of {', '.join(names)})")
        raise typer.Exit(2)
    for name in [service] if service else names:
        path = supervisor.log_path(name)
        console.rule(f"{name}: {path}")
        if not path.exists():
            console.print("no log yet: the service has not been started", style="dim")
            continue
        tail = path.read_text(errors="replace").splitlines()[-lines:]
        console.print("\n".join(tail), markup=False, highlight=False)


@app.command()
def run(service: Annotated[str, typer.Argument(help="mlflow, api or dashboard")]) -> None:
    """Run one service in the foreground (what `invoke mlflow` does)."""
    settings = _settings()
    chosen = {s.name: s for s in all_services(settings)}.get(service)
    if chosen is None:
        err.print(f"[bold red]error:[/] unknown service {service!r}")
        raise typer.Exit(2)
    if not chosen.local:
        console.print(
            f"{chosen.title} is remote: {chosen.url} "
            f"({'up' if is_healthy(chosen.health_url) else 'not answering'})"
        )
        raise typer.Exit(0)
    busy = Supervisor(settings).busy_port(chosen)
    if busy is not None:
        err.print(f"[bold red]error:[/] {busy.detail}", highlight=False, soft_wrap=True)
        err.print(f"[yellow]hint:[/] {busy.fix}", highlight=False, soft_wrap=True)
        raise typer.Exit(DEGRADED)
    if settings.env == "local":
        settings.ensure_state_dir()
    console.print(f"{chosen.title} on {chosen.url}")
    raise typer.Exit(subprocess.call(chosen.command, env=settings.child_env(chosen.env)))


InventoryOption = Annotated[
    Path, typer.Option("--inventory", "-i", help="Ansible inventory (file or folder).")
]
LimitOption = Annotated[
    str | None, typer.Option("--limit", help="Only these hosts or groups (Ansible's --limit).")
]


@app.command()
def deploy(
    inventory: InventoryOption,
    limit: LimitOption = None,
    offline: Annotated[
        bool, typer.Option(help="Hosts install from a pushed wheelhouse (no internet there).")
    ] = False,
    bento: Annotated[
        str | None, typer.Option(help="Bento tag to deploy (default: the champion's).")
    ] = None,
    wheelhouse: Annotated[Path | None, typer.Option(help="Folder of wheels for --offline.")] = None,
) -> None:
    """Roll the champion's Bento out to servers with Ansible (rolling, rolled back if not ready)."""
    from mlstack_deploy import ansible

    settings = _settings()
    try:
        tag = ansible.deploy(
            settings, inventory, limit=limit, offline=offline, bento=bento, wheelhouse=wheelhouse
        )
    except MlstackError as exc:
        fail(exc)
    console.print(f"deployed {tag}")


@app.command("deploy-rollback")
def deploy_rollback(inventory: InventoryOption, limit: LimitOption = None) -> None:
    """Switch every API host back to the release it ran before the last deploy."""
    from mlstack_deploy import ansible

    try:
        ansible.rollback(inventory, limit=limit)
    except MlstackError as exc:
        fail(exc)

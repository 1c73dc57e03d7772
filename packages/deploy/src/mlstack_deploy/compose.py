"""`invoke compose-up`: the containerized stack from nothing, its registry the one truth.

PostgreSQL and MLflow start first; when that MLflow has no champion one is trained on the seed
sample into it; that champion's Bento is built and containerized (in the state folder's
`compose/` BentoML home, apart from the local stack's), then the API and the dashboard start.
Every container's health check is awaited and the same table as `invoke up` is printed; a
failing container is reported with the telling line of its log and what to do.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from mlstack_core.endpoints import API_READY_PATH, DASHBOARD_HEALTH_PATH, MLFLOW_HEALTH_PATH
from mlstack_core.processes import console_script as tool
from mlstack_core.settings import Settings
from mlstack_deploy.base_image import ensure_base_image
from mlstack_deploy.containers import ImageResult, containerize, docker_client
from mlstack_deploy.images import DASHBOARD, MLFLOW, build_support_image, project_root
from mlstack_deploy.services import Service
from mlstack_deploy.steps import run_checked
from mlstack_deploy.supervisor import Outcome, Status, failure_from_log

PROJECT = "mlstack"
COMPOSE_FILE = "deployment/docker-compose.yml"
MLFLOW_IMAGE = "mlstack-mlflow:latest"
DASHBOARD_IMAGE = "mlstack-dashboard:latest"
# Long enough for a slow start on a loaded host: a container that fails is reported as soon as
# it stops, restarts or logs a cause no retry fixes, not when this runs out.
HEALTH_TIMEOUT = {"postgres": 90.0, "mlflow": 240.0, "api": 300.0, "dashboard": 240.0}


def compose_services(settings: Settings) -> list[Service]:
    """The stack's containers as the table shows them (published on 127.0.0.1)."""

    def published(name: str, title: str, port: int, path: str, setting: str, first: str) -> Service:
        return Service(name, title, [], "127.0.0.1", port, path, setting, first)

    return [
        Service(
            "postgres",
            "PostgreSQL",
            [],
            "postgres",
            5432,
            "",
            "",
            "inside the stack only: docker-compose -p mlstack exec postgres psql -U mlstack",
            remote_url="postgres:5432 (compose network)",
        ),
        published(
            "mlflow",
            "MLflow server",
            settings.mlflow_port,
            MLFLOW_HEALTH_PATH,
            "MLSTACK_MLFLOW_PORT",
            "open it: the stack's registry, the one truth for the champion",
        ),
        published(
            "api",
            "Prediction API",
            settings.api_port,
            API_READY_PATH,
            "MLSTACK_API_PORT",
            "POST a record to /predict; /docs has the schema",
        ),
        published(
            "dashboard",
            "Dashboard",
            settings.dashboard_port,
            DASHBOARD_HEALTH_PATH,
            "MLSTACK_DASHBOARD_PORT",
            "open it: champion, traffic, drift, quality",
        ),
    ]


@dataclass(frozen=True)
class ComposeProject:
    """docker-compose over `deployment/docker-compose.yml` as the project `mlstack`."""

    settings: Settings
    root: Path
    images: dict[str, str]

    def _compose(self) -> list[str]:
        if shutil.which("docker-compose"):
            return ["docker-compose"]
        return [docker_client(), "compose"]

    def env(self) -> dict[str, str]:
        # The containers' settings are the compose file's (MLSTACK_ENV=docker), not this
        # process's resolved local ones: compose interpolates only what the user exported.
        return {
            **os.environ,
            "MLSTACK_API_PORT": str(self.settings.api_port),
            "MLSTACK_DASHBOARD_PORT": str(self.settings.dashboard_port),
            "MLSTACK_MLFLOW_PORT": str(self.settings.mlflow_port),
            **{f"MLSTACK_{name.upper()}_IMAGE": image for name, image in self.images.items()},
        }

    def command(self, *args: str) -> list[str]:
        env_file = self.root / "deployment" / ".env"
        return [
            *self._compose(),
            "-p",
            PROJECT,
            "-f",
            str(self.root / COMPOSE_FILE),
            *(["--env-file", str(env_file)] if env_file.is_file() else []),
            *args,
        ]

    def run(self, *args: str, what: str, timeout: float = 600) -> str:
        return run_checked(
            self.command(*args),
            what,
            "check deployment/.env (copy deployment/.env.example) and `docker info`",
            timeout=timeout,
            env=self.env(),
            cwd=self.root,
        )

    def container(self, service: str) -> str | None:
        found = self.run("ps", "-q", service, what=f"docker-compose ps {service}").strip()
        return found.splitlines()[0] if found else None


# Causes that no retry and no restart will fix. A starting container whose log shows one has
# failed now: MLflow, refused by PostgreSQL, retries for most of an hour and stays "starting".
PERMANENT_CAUSES = (
    (
        re.compile(r"password authentication failed", re.IGNORECASE),
        "the database volume keeps the password it was created with: put that POSTGRES_PASSWORD "
        "back in deployment/.env, or start over with `invoke compose-down --volumes` (deletes "
        "the data)",
    ),
    (
        re.compile(r'(database|role) "[^"]+" does not exist', re.IGNORECASE),
        "the volume was made with other POSTGRES_USER/POSTGRES_DB values: set them back in "
        "deployment/.env, or start over with `invoke compose-down --volumes`",
    ),
)


@dataclass(frozen=True)
class ContainerState:
    """What `docker inspect` says about a container: its status, health and restarts."""

    status: str
    health: str
    restarts: int

    @property
    def healthy(self) -> bool:
        return self.health == "healthy" or (self.status == "running" and not self.health)

    @property
    def crashed(self) -> bool:
        """Stopped, or restarted by its policy at least once (a crash loop)."""
        gone = self.status in ("exited", "dead", "restarting", "missing")
        return gone or self.health == "unhealthy" or self.restarts > 0


def _inspect(docker: str, container: str) -> ContainerState:
    done = subprocess.run(
        [docker, "inspect", container], capture_output=True, text=True, check=False, timeout=30
    )
    if done.returncode != 0:
        return ContainerState("missing", "", 0)
    found = json.loads(done.stdout)[0]
    state = found["State"]
    health = str((state.get("Health") or {}).get("Status", ""))
    return ContainerState(str(state["Status"]), health, int(found.get("RestartCount", 0)))


def _log(docker: str, container: str) -> str:
    done = subprocess.run(
        [docker, "logs", "--tail", "200", container],
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )
    return done.stdout + done.stderr


def permanent_cause(log: str) -> tuple[str, str] | None:
    """The log line naming a cause no retry fixes, and what to do about it; None if none."""
    for line in reversed(log.splitlines()):
        for pattern, hint in PERMANENT_CAUSES:
            found = pattern.search(line)
            if found:
                return _cause_text(line, found.start()), hint
    return None


def _cause_text(line: str, at: int) -> str:
    """The cause from its line: from the FATAL or error word before it (no log prefixes)."""
    head = line[:at]
    starts = [head.rfind(word) for word in ("FATAL", "ERROR", "Error", "error:")]
    begin = max([0, *starts])
    return line[begin:].strip()[:300]


def wait_healthy(project: ComposeProject, service: Service, timeout: float) -> Outcome:
    """Wait for a container's health check. A container that stopped, restarts, turns
    unhealthy or logs a cause no retry fixes is reported at once with the telling line."""
    docker = docker_client()
    deadline = time.monotonic() + timeout
    state = ContainerState("missing", "", 0)
    container = None
    while time.monotonic() < deadline:
        container = container or project.container(service.name)
        if container:
            state = _inspect(docker, container)
            if state.healthy:
                return Outcome(service, "healthy")
            if state.crashed or permanent_cause(_log(docker, container)):
                break
        time.sleep(1)
    if container is None:
        return Outcome(service, "failed", "no container was created", _logs_fix(service, None))
    return _failure(project, service, container, state, timeout)


def _logs_fix(service: Service, log: Path | None) -> str:
    where = f" ({log})" if log else ""
    return f"see `docker-compose -p {PROJECT} logs {service.name}`{where}"


def _failure(
    project: ComposeProject,
    service: Service,
    container: str,
    state: ContainerState,
    timeout: float,
) -> Outcome:
    """Which container, why (the telling line of its log, kept in the logs folder), what to do."""
    log = project.settings.logs_dir / f"compose-{service.name}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    text = _log(docker_client(), container)
    log.write_text(text)
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    fatal = next((ln[:300] for ln in reversed(lines) if "fatal" in ln.lower()), None)
    telling, printed_hint = failure_from_log(log)
    detail, hint = permanent_cause(text) or (fatal or telling, printed_hint)
    label: Status = "failed"
    if state.restarts and state.status == "running":
        what = f"restarting (restarted {state.restarts}x)"
    elif state.crashed:
        what = state.health or state.status
    elif permanent_cause(text):
        what = "cannot start"
    else:
        what, label = f"not healthy after {timeout:.0f} s", "unhealthy"
    fix = f"{hint}; {_logs_fix(service, log)}" if hint else _logs_fix(service, log)
    return Outcome(service, label, detail=f"container {what}: {detail}", fix=fix)


def stack_settings(settings: Settings) -> Settings:
    """Settings of the host-side steps: the stack's MLflow, a BentoML home of their own."""
    return Settings(
        **{
            **settings.model_dump(),
            "tracking_uri": f"http://127.0.0.1:{settings.mlflow_port}",
            "home": settings.state_dir / "compose",
        }
    )


def bootstrap_champion(settings: Settings, say: Callable[[str], None]) -> int:
    """Train into the stack's registry when it has no champion; the champion's version."""
    from mlstack_core.registry import ModelRegistry

    registry = ModelRegistry(settings)
    champion = registry.champion()
    env = settings.child_env({"MLSTACK_TRACKING_URI": settings.mlflow_tracking_uri})
    if champion is None:
        say("No champion in the stack's registry: training one on the seed sample")
        run_checked(
            [tool("mlstack-train"), "train", "--seed-sample"],
            "bootstrap training into the stack's MLflow",
            "see the training output above",
            env=env,
        )
        champion = registry.require_champion()
    say(f"Building the Bento of champion v{champion.version}")
    run_checked(
        [tool("mlstack-serve"), "build"], "the Bento build", "see the output above", env=env
    )
    return champion.version


def compose_up(
    settings: Settings, offline: bool, say: Callable[[str], None]
) -> tuple[list[Outcome], list[ImageResult]]:
    """Bring the whole stack up from nothing; each service's outcome and the images built.

    What does not wait on another step runs beside it: PostgreSQL starts while the MLflow
    image builds, and the dashboard image builds while MLflow starts and the champion is
    trained, built and containerized. The dashboard builds on the MLflow image's venv (its
    requirements are a subset of the dashboard's): built side by side, the two installed and
    compiled the same packages twice on a loaded machine.
    """
    root = project_root()
    host = stack_settings(settings)
    host.ensure_state_dir()
    images = {"mlflow": MLFLOW_IMAGE, "dashboard": DASHBOARD_IMAGE}
    project = ComposeProject(settings, root, images)
    services = {s.name: s for s in compose_services(settings)}
    say("Starting PostgreSQL; building the MLflow and dashboard images")
    project.run("up", "-d", "postgres", what="docker-compose up postgres")
    if offline:  # once, before the builds that need it
        ensure_base_image(host, docker_client())
    built = [build_support_image(host, MLFLOW, MLFLOW_IMAGE, offline, root)]
    with ThreadPoolExecutor(max_workers=1) as pool:
        dashboard = pool.submit(
            build_support_image, host, DASHBOARD, DASHBOARD_IMAGE, offline, root, MLFLOW_IMAGE
        )
        say("Starting MLflow")
        project.run("up", "-d", "mlflow", what="docker-compose up mlflow")
        outcomes = {
            name: wait_healthy(project, services[name], HEALTH_TIMEOUT[name])
            for name in ("postgres", "mlflow")
        }
        if outcomes["mlflow"].status != "healthy":
            return list(outcomes.values()), [*built, dashboard.result()]
        version = bootstrap_champion(host, say)
        say(f"Containerizing mlstack:v{version}")
        api = containerize(host, f"mlstack:v{version}", offline=offline)
        built += [dashboard.result(), api]
    project = ComposeProject(settings, root, {**images, "api": api.image})
    say("Starting the API and the dashboard")
    project.run("up", "-d", what="docker-compose up")
    for name in ("api", "dashboard"):
        outcomes[name] = wait_healthy(project, services[name], HEALTH_TIMEOUT[name])
    return [outcomes[s] for s in services], built


def compose_down(settings: Settings, volumes: bool) -> None:
    project = ComposeProject(settings, project_root(), {})
    project.run(
        "down", "--remove-orphans", *(["--volumes"] if volumes else []), what="docker-compose down"
    )

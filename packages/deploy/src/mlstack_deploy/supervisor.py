"""Start services in their own process groups, wait for their health, and stop them cleanly.

State lives in `<home>/run/<service>.json` (PID, port, log file), so `down`, `status` and
`logs` work from another shell, and a second `up` reuses what is already healthy. A service
that cannot start is reported with why and how to fix it; the others keep running.
"""

from __future__ import annotations

import json
import subprocess
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from mlstack_core.endpoints import is_healthy
from mlstack_core.errors import RegistryUnreachableError
from mlstack_core.processes import POLL_SECONDS, group_alive, stop_group
from mlstack_core.registry import ensure_reachable
from mlstack_core.settings import Settings
from mlstack_deploy.ports import port_in_use, port_owner
from mlstack_deploy.services import Service

Status = Literal["healthy", "failed", "stopped", "unhealthy"]


@dataclass(frozen=True)
class RunState:
    """What `up` recorded about a running service."""

    name: str
    pid: int
    port: int
    url: str
    log: str
    started_at: str


@dataclass(frozen=True)
class Outcome:
    """A service's state as shown to the user: status, and for failures why and the fix."""

    service: Service
    status: Status
    detail: str = ""
    fix: str = ""
    pid: int | None = None


def failure_from_log(log: Path) -> tuple[str, str]:
    """The most telling line of a crashed service's log, and the hint it printed if any."""
    try:
        lines = [line.strip() for line in log.read_text(errors="replace").splitlines()]
    except OSError:
        return "it exited before writing a log", ""
    lines = [line for line in lines if line]
    hint = next((ln.split("hint:", 1)[1].strip() for ln in reversed(lines) if "hint:" in ln), "")
    for line in reversed(lines):
        lowered = line.lower()
        if "error" in lowered or "exception" in lowered:
            return line[:300], hint
    return (lines[-1][:300] if lines else "it exited without output"), hint


class Supervisor:
    """Launches and tracks the stack's services for one state folder."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.run_dir = settings.state_dir / "run"
        self.logs_dir = settings.logs_dir

    def log_path(self, name: str) -> Path:
        return self.logs_dir / f"{name}.log"

    def _state_path(self, name: str) -> Path:
        return self.run_dir / f"{name}.json"

    def state(self, name: str) -> RunState | None:
        path = self._state_path(name)
        try:
            return RunState(**json.loads(path.read_text()))
        except (OSError, ValueError, TypeError):
            return None

    def _forget(self, name: str) -> None:
        self._state_path(name).unlink(missing_ok=True)

    def running(self, service: Service) -> RunState | None:
        """The recorded process of `service`, if it is still alive."""
        state = self.state(service.name)
        if state is None:
            return None
        if not group_alive(state.pid):
            self._forget(service.name)
            return None
        return state

    def busy_port(self, service: Service) -> Outcome | None:
        """A failure outcome when someone else already listens on the service's port."""
        if not port_in_use(service.host, service.port):
            return None
        owner = port_owner(service.port)
        who = f" by PID {owner}" if owner else ""
        return Outcome(
            service,
            "failed",
            detail=f"port {service.port} is in use{who}",
            fix=f"set {service.port_setting} to a free port, or stop that process",
        )

    def launch(
        self, service: Service, *, port_may_be_busy: bool = False
    ) -> subprocess.Popen[bytes] | Outcome:
        """Start `service` in a new session (its own process group), logging to a file.

        `port_may_be_busy` is for a replacement that waits for the port itself.
        """
        busy = None if port_may_be_busy else self.busy_port(service)
        if busy is not None:
            return busy
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.logs_dir.mkdir(parents=True, exist_ok=True)
        log = self.log_path(service.name)
        with log.open("ab") as handle:
            handle.write(
                f"\n=== {datetime.now(UTC).isoformat()} {' '.join(service.command)}\n".encode()
            )
            handle.flush()
            try:
                process = subprocess.Popen(
                    service.command,
                    stdin=subprocess.DEVNULL,
                    stdout=handle,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                    env=self.settings.child_env(service.env),
                )
            except OSError as exc:
                return Outcome(
                    service,
                    "failed",
                    detail=f"cannot run {service.command[0]}: {exc}",
                    fix="run `uv sync` so the workspace tools are installed",
                )
        state = RunState(
            name=service.name,
            pid=process.pid,
            port=service.port,
            url=service.url,
            log=str(log),
            started_at=datetime.now(UTC).isoformat(),
        )
        self.record(state)
        return process

    def record(self, state: RunState) -> None:
        """Remember `state` as the running process of its service."""
        self._state_path(state.name).write_text(json.dumps(asdict(state)))

    def wait_healthy(
        self, service: Service, process: subprocess.Popen[bytes], timeout: float
    ) -> Outcome:
        """Poll the health endpoint until it answers, the process dies, or time runs out."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if process.poll() is not None:
                self._forget(service.name)
                stop_group(process.pid, timeout=2)
                detail, hint = failure_from_log(self.log_path(service.name))
                return Outcome(
                    service,
                    "failed",
                    detail=f"exited with code {process.returncode}: {detail}",
                    fix=hint or f"see `uv run invoke logs {service.name}`",
                )
            if is_healthy(service.health_url):
                return Outcome(service, "healthy", pid=process.pid)
            time.sleep(POLL_SECONDS)
        return Outcome(
            service,
            "unhealthy",
            detail=f"no answer from {service.health_url} after {timeout:.0f} s",
            fix=f"see `uv run invoke logs {service.name}`; `uv run invoke down` stops it",
            pid=process.pid,
        )

    def check(self, service: Service) -> Outcome:
        """Status of a service without touching it (for `status`, and reuse by `up`)."""
        if not service.local:
            try:
                ensure_reachable(self.settings)
            except RegistryUnreachableError as exc:
                return Outcome(service, "failed", detail=exc.cause, fix=exc.hint)
            return Outcome(service, "healthy", detail="remote")
        state = self.running(service)
        if state is None:
            return Outcome(service, "stopped", fix="start it with `uv run invoke up`")
        if is_healthy(service.health_url):
            return Outcome(service, "healthy", pid=state.pid)
        return Outcome(
            service,
            "unhealthy",
            detail="running but its health check fails",
            fix=f"see `uv run invoke logs {service.name}`",
            pid=state.pid,
        )

    def stop(self, service: Service) -> bool:
        """Stop the recorded process group of `service`; False when nothing was running."""
        state = self.running(service)
        if state is None:
            return False
        stop_group(state.pid)
        self._forget(service.name)
        return True

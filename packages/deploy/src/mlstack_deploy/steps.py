"""Run one build or deployment step as a process; its failure as a DeployError with the cause."""

from __future__ import annotations

import subprocess
import sys

from mlstack_deploy.errors import DeployError


def _telling_line(output: str) -> str:
    lines = [ln.strip() for ln in output.splitlines() if ln.strip()]
    telling = [ln for ln in lines if "error" in ln.lower() or "failed" in ln.lower()]
    return (telling or lines or ["no output"])[-1][:400]


def run_checked(
    command: list[str],
    what: str,
    hint: str = "see the output above",
    timeout: float = 1800,
    **kw: object,
) -> str:
    """Run a step and return its stdout; on failure echo its output and raise with the cause."""
    try:
        done = subprocess.run(  # type: ignore[call-overload]
            command, capture_output=True, text=True, timeout=timeout, check=False, **kw
        )
    except FileNotFoundError:
        raise DeployError(
            f"{what}: {command[0]} is not installed",
            "install Docker, docker-compose and debootstrap (Debian: apt-get install docker.io "
            "docker-compose debootstrap)",
        ) from None
    if done.returncode != 0:
        sys.stderr.write(str(done.stdout)[-4000:] + str(done.stderr)[-4000:])
        raise DeployError(f"{what} failed: {_telling_line(done.stdout + done.stderr)}", hint)
    return str(done.stdout)

"""`invoke containerize --offline`: the champion's image, built with nothing pulled, serves it."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from mlstack_core.registry import ModelRegistry
from mlstack_core.settings import Settings
from mlstack_core.testing.servers import VENV_BIN as BIN
from mlstack_core.testing.servers import free_port
from tests.conftest import ROOT
from tests.deploy.champion import state_env
from tests.deploy.docker_engine import DockerEngine

pytestmark = [pytest.mark.deploy, pytest.mark.slow]


def example_records(home: Path) -> dict[str, list[dict[str, object]]]:
    """A held-out row of the champion without its target: a request the API must accept."""
    registry = ModelRegistry(Settings(home=home))
    champion = registry.require_champion()
    target = registry.spec(champion).target
    return {"records": [{k: v for k, v in registry.holdout(champion)[0].items() if k != target}]}


def http(engine: DockerEngine, url: str, body: object | None = None) -> str:
    """curl inside the engine's namespace (where the published ports are)."""
    data = ["-H", "Content-Type: application/json", "-d", json.dumps(body)] if body else []
    done = engine.inside("curl", "-sS", "--fail-with-body", "--max-time", "10", *data, url)
    assert done.returncode == 0, f"{url}: {done.stdout} {done.stderr}"
    return done.stdout


def wait_until(check: object, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return
        time.sleep(1)
    pytest.fail(f"{what} within {seconds:.0f} s")


def test_offline_image_serves_the_champion_as_non_root(
    offline_inputs: Path, docker_engine: DockerEngine
) -> None:
    bento_home = offline_inputs
    env = docker_engine.env(state_env(bento_home))
    began = time.perf_counter()
    built = docker_engine.inside(
        str(BIN / "invoke"), "containerize", "--offline", env=env, cwd=ROOT, timeout=1500
    )
    assert built.returncode == 0, built.stdout + built.stderr
    print(f"containerize --offline: {time.perf_counter() - began:.1f} s")
    config = json.loads(docker_engine.docker("image", "inspect", "mlstack:v1"))[0]["Config"]
    assert config["User"] == "bentoml"
    assert "/readyz" in " ".join(config["Healthcheck"]["Test"])

    port = free_port()
    name = f"mlsc-api-{os.getpid()}"
    docker_engine.docker("run", "-d", "--name", name, "-p", f"127.0.0.1:{port}:3000", "mlstack:v1")
    try:
        began = time.perf_counter()
        wait_until(
            lambda: (
                docker_engine.inside("curl", "-sf", f"http://127.0.0.1:{port}/readyz").returncode
                == 0
            ),
            120,
            "the API in the container answered /readyz",
        )
        print(f"image start to ready: {time.perf_counter() - began:.1f} s")
        answer = json.loads(
            http(docker_engine, f"http://127.0.0.1:{port}/predict", example_records(bento_home))
        )
        assert answer[0]["model_version"] == "1"
        assert answer[0]["prediction"] in ("yes", "no")
        status = docker_engine.docker("exec", name, "cat", "/proc/1/status")
        uid = next(line.split()[1] for line in status.splitlines() if line.startswith("Uid:"))
        assert uid != "0"
        assert docker_engine.docker("exec", name, "id", "-un").strip() == "bentoml"
        wait_until(
            lambda: (
                docker_engine.docker("inspect", "-f", "{{.State.Health.Status}}", name).strip()
                == "healthy"
            ),
            60,
            "Docker's health check reported healthy",
        )
    finally:
        print(docker_engine.docker("logs", "--tail", "30", name, check=False))
        docker_engine.docker("rm", "-f", name, check=False)

"""`invoke compose-up --offline` from nothing, the stack's behaviour, and `compose-down`.

The stack runs on the session's own dockerd (its own network namespace); `compose-up` runs
inside that namespace too, so it reaches the published ports on 127.0.0.1 as a user's shell
does. The public postgres image is a local stand-in (no registry is reachable here).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from mlstack_core.settings import Settings
from mlstack_core.testing.servers import VENV_BIN as BIN
from mlstack_core.testing.servers import free_port
from tests.conftest import ROOT
from tests.deploy.champion import state_env
from tests.deploy.docker_engine import DockerEngine
from tests.deploy.standins import postgres_standin
from tests.deploy.test_containers import example_records, http

pytestmark = [pytest.mark.deploy, pytest.mark.slow]
PROJECT_LABEL = "label=com.docker.compose.project=mlstack"
PASSWORD = "mlsc-test-only"  # pragma: allowlist secret
OVERVIEW = "/opt/venv/lib/python3.11/site-packages/mlstack_dashboard/app/views/overview.py"


@dataclass
class ComposeStack:
    engine: DockerEngine
    home: Path
    env: dict[str, str]
    api_port: int
    mlflow_port: int
    up_output: str
    up_code: int
    records: dict[str, list[dict[str, object]]]

    def invoke(self, *args: str, **extra: str) -> tuple[int, str]:
        done = self.engine.inside(
            str(BIN / "invoke"), *args, env={**self.env, **extra}, cwd=ROOT, timeout=1800
        )
        return done.returncode, done.stdout + done.stderr

    def container(self, service: str) -> str:
        found = self.engine.docker(
            "ps",
            "-q",
            "--filter",
            PROJECT_LABEL,
            "--filter",
            f"label=com.docker.compose.service={service}",
        ).split()
        assert found, f"no {service} container"
        return found[0]

    def overview(self) -> str:
        """The dashboard's Overview page rendered in its container (its settings and network)."""
        script = (
            "import json; from streamlit.testing.v1 import AppTest; "
            f"a = AppTest.from_file({OVERVIEW!r}, default_timeout=60); a.run(); "
            "print(json.dumps([f'{m.label}: {m.value}' for m in a.metric] "
            "+ [c.value for c in a.caption] + [w.value for w in a.warning]))"
        )
        return self.engine.docker(
            "exec", self.container("dashboard"), "python", "-c", script, timeout=120
        )


@pytest.fixture(scope="module")
def compose_stack(
    docker_engine: DockerEngine, offline_inputs: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ComposeStack]:
    home = tmp_path_factory.mktemp("compose-home")
    postgres_standin(docker_engine, Settings(home=home))
    api_port, mlflow_port = free_port(), free_port()
    env = docker_engine.env(
        state_env(
            home,
            MLSTACK_API_PORT=str(api_port),
            MLSTACK_MLFLOW_PORT=str(mlflow_port),
            MLSTACK_DASHBOARD_PORT=str(free_port()),
            POSTGRES_PASSWORD=PASSWORD,
        )
    )
    # A held-out row of the local champion: the stack's is trained on the same seed sample.
    records = example_records(offline_inputs)
    stack = ComposeStack(docker_engine, home, env, api_port, mlflow_port, "", 0, records)
    began = time.perf_counter()
    stack.up_code, stack.up_output = stack.invoke("compose-up", "--offline")
    print(f"compose-up --offline: {time.perf_counter() - began:.1f} s\n{stack.up_output}")
    try:
        yield stack
    finally:
        if docker_engine.docker("ps", "-aq", "--filter", PROJECT_LABEL).split():
            stack.invoke("compose-down", "--volumes")  # test_compose_down did not run or failed


def stack_champion(stack: ComposeStack) -> str:
    answer = http(
        stack.engine,
        f"http://127.0.0.1:{stack.mlflow_port}/api/2.0/mlflow/registered-models/alias"
        "?name=mlstack&alias=champion",
    )
    return str(json.loads(answer)["model_version"]["version"])


def test_compose_up_serves_the_stack_registry_champion(compose_stack: ComposeStack) -> None:
    assert compose_stack.up_code == 0, compose_stack.up_output
    assert "No champion in the stack's registry: training one" in compose_stack.up_output
    assert compose_stack.up_output.count("healthy") >= 4
    champion = stack_champion(compose_stack)
    answer = json.loads(
        http(
            compose_stack.engine,
            f"http://127.0.0.1:{compose_stack.api_port}/predict",
            compose_stack.records,
        )
    )
    assert answer[0]["model_version"] == champion
    pid = answer[0]["prediction_id"]
    query = f"SELECT model_version FROM predictions WHERE id = '{pid}'"
    stored = compose_stack.engine.docker(
        "exec",
        "-e",
        f"PGPASSWORD={PASSWORD}",
        compose_stack.container("postgres"),
        "psql",
        "-h",
        "127.0.0.1",
        "-U",
        "mlstack",
        "-d",
        "mlstack",
        "-tAc",
        query,
    )
    assert stored.strip() == champion
    assert f"Champion: v{champion}" in compose_stack.overview()


def test_api_keeps_answering_when_mlflow_dies(compose_stack: ComposeStack) -> None:
    compose_stack.engine.docker("kill", compose_stack.container("mlflow"))
    answer = json.loads(
        http(
            compose_stack.engine,
            f"http://127.0.0.1:{compose_stack.api_port}/predict",
            compose_stack.records,
        )
    )
    assert answer[0]["prediction"] in ("yes", "no")
    overview = json.loads(compose_stack.overview())
    assert "MLflow: down" in overview, overview


def test_a_failing_container_is_named_with_its_cause(compose_stack: ComposeStack) -> None:
    """The database volume keeps its password: a changed one in .env breaks MLflow's login."""
    began = time.perf_counter()
    code, output = compose_stack.invoke("compose-up", "--offline", POSTGRES_PASSWORD="wrong")
    print(f"compose-up with a wrong password: {time.perf_counter() - began:.1f} s\n{output}")
    assert code == 3, output
    flat = " ".join(output.split())
    assert "✗ MLflow server:" in flat
    assert "password authentication failed" in flat
    assert "docker-compose -p mlstack logs mlflow" in flat


def test_compose_down_leaves_nothing_behind(compose_stack: ComposeStack) -> None:
    began = time.perf_counter()
    code, output = compose_stack.invoke("compose-down", "--volumes")
    print(f"compose-down --volumes: {time.perf_counter() - began:.1f} s")
    assert code == 0, output
    engine = compose_stack.engine
    assert engine.docker("ps", "-aq", "--filter", PROJECT_LABEL).split() == []
    assert engine.docker("volume", "ls", "-q", "--filter", PROJECT_LABEL).split() == []
    assert engine.docker("network", "ls", "-q", "--filter", PROJECT_LABEL).split() == []

"""The README's own path, exactly as a new user follows it: a fresh clone, no `MLSTACK_`
variable anywhere (ports only, through `.env`), tasks run from the root and from a subfolder.

The stack tests elsewhere set an absolute `MLSTACK_HOME`; these do not, which is how a served
Bento writing its predictions inside the BentoML store once went unnoticed.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from mlstack_core.endpoints import API_READY_PATH
from mlstack_core.processes import stop_group
from mlstack_core.store import PredictionStore
from mlstack_core.testing.servers import free_port, port_answers, wait_healthy
from tests.conftest import ROOT

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
SYSTEM_PYTHON_MARKER = Path("/usr/lib/python3.11/EXTERNALLY-MANAGED")


def user_env(**extra: str) -> dict[str, str]:
    """This machine's environment as a user's shell has it: nothing of mlstack's, no venv."""
    dropped = ("MLSTACK_", "BENTOML_", "VIRTUAL_ENV", "UV_PROJECT_ENVIRONMENT", "NOX_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(dropped)}
    env.pop("UV_COMPILE_BYTECODE", None)
    return {**env, **extra}


def clone_to(target: Path) -> Path:
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(target)], check=True)
    return target


def run(
    clone: Path, *args: str, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        list(args),
        cwd=cwd or clone,
        env=env or user_env(),
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )


def write_ports(clone: Path, **more: str) -> dict[str, int]:
    ports = {"api": free_port(), "dashboard": free_port(), "mlflow": free_port()}
    lines = [
        f"MLSTACK_API_PORT={ports['api']}",
        f"MLSTACK_DASHBOARD_PORT={ports['dashboard']}",
        f"MLSTACK_MLFLOW_PORT={ports['mlflow']}",
        *(f"{k}={v}" for k, v in more.items()),
    ]
    (clone / ".env").write_text("\n".join(lines) + "\n")
    return ports


@pytest.fixture(scope="module")
def clone(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One fresh clone for the module; the first test bootstraps its model."""
    path = clone_to(tmp_path_factory.mktemp("user") / "mlstack")
    yield path
    run(path, "./mlstack", "down")


def test_readme_path_logs_where_monitoring_reads(clone: Path) -> None:
    write_ports(clone)
    up = run(clone, "./mlstack", "up", "--detach")
    assert up.returncode == 0, up.stdout + up.stderr
    try:
        sent = run(clone, "./mlstack", "simulate-traffic", "-n", "20")
        assert sent.returncode == 0, sent.stdout + sent.stderr
        predictions = int(re.search(r"(\d+) predictions", sent.stdout).group(1))  # type: ignore[union-attr]
        assert predictions >= 20

        report = run(clone, "./mlstack", "monitor", "--json")
        assert report.returncode in (0, 1), report.stdout + report.stderr
        seen = json.loads(report.stdout)
        assert seen["predictions"] == predictions
        store = clone / ".mlstack" / "predictions.db"
        assert str(store) in seen["store"]
        assert store.is_file()
        assert not list((clone / ".mlstack" / "bentoml").rglob("predictions.db*"))

        below = run(clone, "uv", "run", "invoke", "monitor", "--json", cwd=clone / "packages")
        assert below.returncode in (0, 1), below.stdout + below.stderr
        assert json.loads(below.stdout)["predictions"] == predictions
    finally:
        run(clone, "./mlstack", "down")


def test_dotenv_production_profile_reaches_the_api_worker(clone: Path) -> None:
    token = uuid.uuid4().hex
    ports = write_ports(
        clone,
        MLSTACK_ENV="production",
        MLSTACK_API_TOKEN=token,
        MLSTACK_TRACKING_URI="sqlite:///.mlstack/mlflow.db",
        MLSTACK_PREDICTION_STORE_URL="sqlite:///production/predictions.db",
    )
    server = subprocess.Popen(
        ["./mlstack", "serve"],
        cwd=clone,
        env=user_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{ports['api']}"
    try:
        wait_healthy(f"{base}{API_READY_PATH}", server, seconds=600)
        body = json.loads((clone / ".mlstack" / "example-request.json").read_text())
        refused = httpx.post(f"{base}/predict", json=body, timeout=30)
        assert refused.status_code == 401
        answered = httpx.post(
            f"{base}/predict", json=body, headers={"Authorization": f"Bearer {token}"}, timeout=30
        )
        assert answered.status_code == 200, answered.text
        prediction_id = answered.json()[0]["prediction_id"]
    finally:
        stop_group(server.pid)
        (clone / ".env").unlink()
    store = PredictionStore(f"sqlite:///{clone / 'production' / 'predictions.db'}")
    assert prediction_id in store.ids()


@pytest.mark.skipif(
    not (SYSTEM_PYTHON_MARKER.exists() and Path("/usr/bin/python3").exists()),
    reason="needs Debian's externally managed /usr/bin/python3",
)
def test_first_command_on_an_externally_managed_python(tmp_path: Path) -> None:
    """`./mlstack up` with Debian's own Python (PEP 668), no uv on PATH and an empty HOME.

    Ctrl-C of a foreground `up` is tested in test_up.py; here `./mlstack down` ends it."""
    clone = clone_to(tmp_path / "mlstack")
    ports = write_ports(clone)
    uv_cache = subprocess.run(
        ["uv", "cache", "dir"], capture_output=True, text=True, check=True
    ).stdout.strip()
    (tmp_path / "home").mkdir()
    # This machine's settings (TLS certificates, pip's configuration) stay: they are the user's.
    env = user_env(
        PATH="/usr/bin:/bin",
        HOME=str(tmp_path / "home"),
        UV_CACHE_DIR=uv_cache,  # packages come from the warm cache; the rest is a new user's
    )
    transcript = tmp_path / "up.out"
    with transcript.open("wb") as sink:
        up = subprocess.Popen(
            ["./mlstack", "up"],
            cwd=clone,
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_healthy(
            f"http://127.0.0.1:{ports['api']}{API_READY_PATH}", up, seconds=600, log=transcript
        )
        body = json.loads((clone / ".mlstack" / "example-request.json").read_text())
        answer = httpx.post(f"http://127.0.0.1:{ports['api']}/predict", json=body, timeout=30)
        assert answer.status_code == 200
        assert answer.json()[0]["model_version"] == "1"
        assert (clone / ".mlstack" / "tools").is_dir(), "uv was not installed privately"
        stopped = subprocess.run(
            ["./mlstack", "down"], cwd=clone, env=env, timeout=300, check=False
        )
        assert stopped.returncode == 0
        assert not port_answers(ports["api"]), "the API still answers after down"
    finally:
        stop_group(up.pid)
        subprocess.run(["./mlstack", "down"], cwd=clone, env=env, timeout=300, check=False)

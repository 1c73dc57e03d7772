"""`invoke deploy` with real ansible-playbook to three test hosts that behave like VMs.

Two API hosts and one nginx load balancer that also runs the dashboard (systemd-nspawn machines
in network namespaces, sshd on their own addresses, no internet: they install from the pushed
wheelhouses), a real PostgreSQL prediction store on this machine's side. The steps run in order
on one fleet: deploy, rerun, rolling update under load, a release that crashes at start,
deploy-rollback.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import re
import shlex
import ssl
import subprocess
import tarfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest
import sqlalchemy as sa
from tornado.httpclient import HTTPRequest
from tornado.websocket import websocket_connect

from mlstack_core.registry import ModelRegistry
from mlstack_core.settings import Settings
from mlstack_core.spec import DatasetSpec
from mlstack_core.testing.champion import register_champion
from mlstack_core.testing.postgres import postgres_server
from mlstack_core.testing.servers import VENV_BIN as BIN
from mlstack_training.seed import seed_csv, seed_spec
from tests.conftest import ROOT
from tests.deploy.champion import run_tool, state_env
from tests.deploy.dashboard_page import overview_script
from tests.deploy.vm_hosts import GATEWAY, SUBNET, VmFleet, vm_fleet

pytestmark = [pytest.mark.deploy, pytest.mark.slow, pytest.mark.timeout(3600)]

HOSTS = {"api1": 2, "api2": 3, "lb1": 4}
API_HOSTS = ("api1", "api2")
LB = f"https://{SUBNET}.4"
TOKEN = "deploy-test-token"  # pragma: allowlist secret
DASHBOARD_PASSWORD = "dashboard-test-password"  # pragma: allowlist secret
DASHBOARD_AUTH = ("mlstack", DASHBOARD_PASSWORD)
DASHBOARD_PYTHON = "/opt/mlstack/dashboard/current/venv/bin/python"
BROKEN = "RuntimeError: this release is broken on purpose"
ROLLING_SECONDS_MAX = 900
NGINX_RELOADS_PER_ROLLING_UPDATE = 2 * len(API_HOSTS)  # drain, then return, each host
LATER_RELEASES_NICENESS = 10


def _break_release(env: dict[str, str], bentoml_home: Path, work: Path) -> None:
    """mlstack:v3: the v2 Bento with a service module that raises at import."""
    good, broken = work / "v2.bento", work / "v3.bento"
    bento_env = {**env, "BENTOML_HOME": str(bentoml_home)}
    run_tool("bentoml", "export", "mlstack:v2", str(good), env=bento_env)
    unpacked = work / "v3"
    with tarfile.open(good) as tar:
        tar.extractall(unpacked, filter="data")
    service = unpacked / "src" / "mlstack_serving" / "service.py"
    service.write_text(
        service.read_text() + "\nraise RuntimeError('this release is broken on purpose')\n"
    )
    manifest = unpacked / "bento.yaml"
    manifest.write_text(re.sub(r"(?m)^version: v2$", "version: v3", manifest.read_text()))
    with tarfile.open(broken, "w:xz") as tar:
        tar.add(unpacked, arcname=".")
    run_tool("bentoml", "import", str(broken), env=bento_env)


@dataclass
class Site:
    """The fleet, its inventory, the models to deploy and the production store."""

    fleet: VmFleet
    inventory: Path
    env: dict[str, str]
    store: sa.Engine
    records: list[dict[str, Any]]
    cert: Path
    later: Future[None]
    timings: list[tuple[str, float]] = field(default_factory=list)

    def invoke(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(BIN / "invoke"), *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=1800,
            check=False,
        )

    def deploy(self, bento: str) -> subprocess.CompletedProcess[str]:
        """`invoke deploy` of `bento`; the releases after v1 are made while v1 deploys."""
        if bento != "mlstack:v1":
            self.later.result()
        started = time.monotonic()
        done = self.invoke(
            "deploy", "--inventory", str(self.inventory), "--offline", "--bento", bento
        )
        self.timings.append((bento, round(time.monotonic() - started, 1)))
        return done

    def client(self) -> httpx.Client:
        return httpx.Client(
            verify=str(self.cert), timeout=30, headers={"Authorization": f"Bearer {TOKEN}"}
        )

    def served_versions(self) -> dict[str, str]:
        """The model version behind each API host and behind the load balancer."""
        with self.client() as client:
            urls = {name: f"http://{self.fleet.hosts[name].address}:3000" for name in API_HOSTS}
            return {
                name: client.get(f"{url}/metadata").json()["version"]
                for name, url in {**urls, "lb": LB}.items()
            }

    def predict(self, base_url: str) -> dict[str, Any]:
        with self.client() as client:
            answer = client.post(f"{base_url}/predict", json={"records": self.records[:1]})
        assert answer.status_code == 200, answer.text
        return dict(answer.json()[0])


def _register(settings: Settings, reason: str) -> None:
    """A new registry version of a classifier on the seed sample, promoted to champion."""
    spec = DatasetSpec.from_file(seed_spec())
    frame = pd.read_csv(seed_csv())
    holdout = frame.sample(frac=0.2, random_state=0)
    register_champion(settings, spec, frame.drop(holdout.index), holdout, reason=reason)


def _first_release(home: Path, env: dict[str, str]) -> list[dict[str, Any]]:
    """Bento mlstack:v1 and the records the tests send (the champion's held-out rows).

    The versions are registered in this process with the code training registers with (the
    training CLI is tested elsewhere); the Bentos are built by the real `mlstack-serve build`.
    """
    settings = Settings(home=home)
    _register(settings, "deploy test: first release")
    run_tool("mlstack-serve", "build", env=env)
    registry = ModelRegistry(settings)
    return registry.holdout(registry.require_champion())


def _later_releases(home: Path, env: dict[str, str], work: Path) -> None:
    """Bento mlstack:v2 (a second registry version) and a broken mlstack:v3.

    Made while v1 deploys, at a lower CPU priority (this thread and the tools it starts), so
    the deploy the tests wait on is not slowed: it is needed only by the later tests.
    """
    os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), LATER_RELEASES_NICENESS)
    settings = Settings(home=home)
    _register(settings, "deploy test: second release")
    run_tool("mlstack-serve", "build", env=env)
    _break_release(env, settings.bentoml_home, work)


def _certificate(work: Path) -> tuple[Path, Path]:
    cert, key = work / "tls.crt", work / "tls.key"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=mlstack-test",
            "-addext",
            f"subjectAltName=IP:{SUBNET}.4",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


def _inventory(work: Path, fleet: VmFleet, store_port: int, cert: Path, key: Path) -> Path:
    hosts = {name: {"ansible_host": host.address} for name, host in fleet.hosts.items()}
    inventory = {
        "all": {
            "vars": {
                "ansible_user": "root",
                "ansible_ssh_private_key_file": str(fleet.key),
                "ansible_ssh_common_args": "-o StrictHostKeyChecking=no "
                "-o UserKnownHostsFile=/dev/null",
                "ansible_python_interpreter": "/usr/bin/python3",
                "mlstack_api_token": TOKEN,
                "mlstack_api_prediction_store_url": (
                    f"postgresql+psycopg://mlstack@{GATEWAY}:{store_port}/postgres"
                ),
                # The API does not talk to MLflow; production settings still name a server.
                "mlstack_api_tracking_uri": f"http://{GATEWAY}:5000",
                # A crash is caught at once; this only bounds a release that hangs.
                "mlstack_api_readiness_timeout": 300,
                "mlstack_lb_tls_certificate": str(cert),
                "mlstack_lb_tls_key": str(key),
                "mlstack_lb_dashboard_password": DASHBOARD_PASSWORD,
            },
            "children": {
                "api": {"hosts": {name: hosts[name] for name in API_HOSTS}},
                "lb": {"hosts": {"lb1": hosts["lb1"]}},
                "dashboard": {"hosts": {"lb1": {}}},
            },
        }
    }
    path = work / "inventory.yml"
    path.write_text(json.dumps(inventory, indent=2))
    return path


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    work = tmp_path_factory.mktemp("ansible")
    home = work / "home"
    env = state_env(home)
    began = time.monotonic()
    cert, key = _certificate(work)
    # The first Bento is made while the hosts boot and the store starts, the later ones (one
    # after the other, on the same worker) while the first deploys.
    with ThreadPoolExecutor(max_workers=1) as pool:
        first = pool.submit(_first_release, home, env)
        later = pool.submit(_later_releases, home, env, work)
        with (
            vm_fleet(HOSTS, work / "hosts") as fleet,
            postgres_server(("127.0.0.1", GATEWAY), f"{SUBNET}.0/24") as port,
        ):
            booted = time.monotonic()
            records = first.result()
            print(
                f"setup: hosts and store {booted - began:.1f} s, "
                f"first Bento ready at {time.monotonic() - began:.1f} s"
            )
            store = sa.create_engine(f"postgresql+psycopg://mlstack@127.0.0.1:{port}/postgres")
            try:
                yield Site(
                    fleet,
                    _inventory(work, fleet, port, cert, key),
                    env,
                    store,
                    records,
                    cert,
                    later,
                )
            finally:
                store.dispose()


def _recap(output: str) -> dict[str, dict[str, int]]:
    """PLAY RECAP lines: host → {ok, changed, failed, ...}."""
    recap = {}
    for host, counts in re.findall(r"(?m)^(\S+)\s+:\s+(ok=.*)$", output):
        recap[host] = {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", counts)}
    return recap


def test_deploy_serves_the_release_on_every_host_and_through_the_lb(site: Site) -> None:
    done = site.deploy("mlstack:v1")
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]

    with site.client() as client:
        for name in API_HOSTS:
            ready = client.get(f"http://{site.fleet.hosts[name].address}:3000/readyz")
            assert ready.status_code == 200
            user = site.fleet.ssh(
                name, "ps -o user= -p $(systemctl show -P MainPID mlstack-api)"
            ).stdout.strip()
            assert user == "mlstack"
        assert client.get(f"{LB}/readyz").status_code == 200
    assert site.served_versions() == {"api1": "1", "api2": "1", "lb": "1"}
    for name in API_HOSTS:
        assert site.predict(f"http://{site.fleet.hosts[name].address}:3000")["model_version"] == "1"

    with site.client() as client:
        redirect = client.get(f"http://{SUBNET}.4/readyz")
        assert redirect.status_code == 301
        assert redirect.headers["location"].startswith("https://")
    listeners = [line.split() for line in site.fleet.ssh("lb1", "ss -Hltnp").stdout.splitlines()]
    public = [f for f in listeners if not f[3].startswith(("127.", "[::1]", "[::ffff:127."))]
    assert {f[3] for f in public} == {f"{SUBNET}.4:22", f"{SUBNET}.4:80", f"{SUBNET}.4:443"}
    assert all('"nginx"' in f[-1] or '"sshd"' in f[-1] for f in public), public
    assert "127.0.0.1:8501" in {f[3] for f in listeners}

    answer = site.predict(LB)
    assert answer["model_version"] == "1"
    with site.store.connect() as connection:
        stored = connection.execute(
            sa.text("SELECT model_version FROM predictions WHERE id = :id"),
            {"id": answer["prediction_id"]},
        ).scalar_one()
    assert stored == "1"


def _open_dashboard_stream(cert: Path, headers: dict[str, str]) -> None:
    """Open the dashboard's websocket through nginx (the upgrade must pass), then close it."""

    async def connect() -> None:
        request = HTTPRequest(
            f"wss://{SUBNET}.4/dashboard/_stcore/stream",
            headers={"Origin": LB, **headers},
            ssl_options=ssl.create_default_context(cafile=str(cert)),
            request_timeout=30,
        )
        connection = await websocket_connect(request)
        connection.close()

    asyncio.run(connect())


def test_dashboard_behind_basic_auth_shows_the_production_traffic(site: Site) -> None:
    with site.client() as client:
        health = client.get(f"{LB}/dashboard/_stcore/health", auth=DASHBOARD_AUTH)
        assert (health.status_code, health.text) == (200, "ok")
        page = client.get(f"{LB}/dashboard/", auth=DASHBOARD_AUTH)
        assert page.status_code == 200
        assert "<title>" in page.text
        assert client.get(f"{LB}/dashboard/").status_code == 401
        assert client.get(f"{LB}/dashboard/_stcore/health").status_code == 401
    basic = base64.b64encode(":".join(DASHBOARD_AUTH).encode()).decode()
    _open_dashboard_stream(site.cert, {"Authorization": f"Basic {basic}"})
    user = site.fleet.ssh(
        "lb1", "ps -o user= -p $(systemctl show -P MainPID mlstack-dashboard)"
    ).stdout.strip()
    assert user == "mlstack"

    # The Overview page, rendered as the service user with the service's settings, counts
    # the predictions in the production store.
    with site.store.connect() as connection:
        count = connection.execute(sa.text("SELECT count(*) FROM predictions")).scalar_one()
    assert count > 0
    command = shlex.join(
        [
            "systemd-run",
            "--wait",
            "--pipe",
            "--quiet",
            "--property=User=mlstack",
            "--property=EnvironmentFile=/etc/mlstack/dashboard.env",
            "--property=WorkingDirectory=/var/lib/mlstack",
            DASHBOARD_PYTHON,
            "-c",
            overview_script(),
        ]
    )
    rendered = site.fleet.ssh("lb1", command)
    assert rendered.returncode == 0, rendered.stderr[-2000:]
    overview = json.loads(rendered.stdout.strip().splitlines()[-1])
    assert f"Predictions (60 min): {count:,}" in overview, overview


def test_rerun_changes_nothing(site: Site) -> None:
    done = site.deploy("mlstack:v1")
    assert done.returncode == 0, done.stdout[-4000:]
    recap = _recap(done.stdout)
    assert set(recap) == {"api1", "api2", "lb1"}
    assert all(counts["changed"] == 0 for counts in recap.values()), recap


@dataclass
class Load:
    """A bounded request loop against the load balancer, counting answers and failures.

    Each drain and return of an API host reloads nginx, and a reload closes the idle
    keep-alive connections at once: a request sent on one at that instant is never read (so
    never reaches an API or its log), and the client sees the connection close with no
    response. Like Go's HTTP client with an idempotent request, this client sends it again,
    once, on a new connection; it counts those, and a second loss is a failure.
    """

    site: Site
    answered: int = 0
    resent: int = 0
    failures: list[str] = field(default_factory=list)
    versions: set[str] = field(default_factory=set)
    stop: threading.Event = field(default_factory=threading.Event)

    def post(self, client: httpx.Client) -> httpx.Response:
        body = {"records": self.site.records[:1]}
        try:
            return client.post(f"{LB}/predict", json=body)
        except httpx.RemoteProtocolError as exc:
            if "without sending a response" not in str(exc):
                raise
            self.resent += 1
            return client.post(f"{LB}/predict", json=body)

    def run(self) -> None:
        deadline = time.monotonic() + ROLLING_SECONDS_MAX
        with self.site.client() as client:
            while not self.stop.is_set() and time.monotonic() < deadline:
                try:
                    answer = self.post(client)
                except httpx.HTTPError as exc:
                    self.failures.append(repr(exc))
                    continue
                if answer.status_code == 200:
                    self.answered += 1
                    self.versions.add(answer.json()[0]["model_version"])
                else:
                    self.failures.append(f"{answer.status_code} {answer.text[:200]}")


def test_rolling_update_answers_every_request(site: Site) -> None:
    load = Load(site)
    loop = threading.Thread(target=load.run)
    loop.start()
    try:
        done = site.deploy("mlstack:v2")
    finally:
        load.stop.set()
        loop.join(timeout=60)
    print(
        f"rolling update: {load.answered} answered, {load.resent} sent again after a reload, "
        f"{len(load.failures)} failed; deploy times (s): {site.timings}"
    )
    assert done.returncode == 0, done.stdout[-4000:]
    assert load.failures == []
    assert load.resent <= NGINX_RELOADS_PER_ROLLING_UPDATE
    assert load.answered > 0
    assert load.versions == {"1", "2"}
    assert site.served_versions() == {"api1": "2", "api2": "2", "lb": "2"}


def test_release_that_crashes_is_rolled_back_at_once(site: Site) -> None:
    done = site.deploy("mlstack:v3")
    assert done.returncode != 0
    output = " ".join((done.stdout + done.stderr).split())
    assert "api1: release mlstack:v3 did not become ready" in output
    assert BROKEN in output
    # Caught at its first crash, not after the readiness timeout.
    assert "mlstack-api crashed before it answered" in output
    assert "Rolled back to mlstack-v2" in output
    assert site.served_versions() == {"api1": "2", "api2": "2", "lb": "2"}
    site.predict(LB)


def test_deploy_rollback_returns_every_host_to_the_first_release(site: Site) -> None:
    done = site.invoke("deploy-rollback", "--inventory", str(site.inventory))
    assert done.returncode == 0, done.stdout[-4000:]
    assert site.served_versions() == {"api1": "1", "api2": "1", "lb": "1"}
    assert site.predict(LB)["model_version"] == "1"

"""A Docker engine of the test session's own: dockerd inside a network namespace `mlsc-<pid>`.

Inside the namespace the daemon has real bridge networks, service-name DNS and published
ports, exactly as on a user's machine, and this machine's own network stays untouched.
Commands that must see the published ports on 127.0.0.1 (curl, `invoke compose-up`) run
under `nsenter --net`. Debian's docker.io, docker-compose and debootstrap are installed when
missing. Everything is stopped by PID and the namespace deleted at the end.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from mlstack_core.settings import Settings

DEBIAN_PACKAGES = {
    "dockerd": "docker.io",
    "docker-compose": "docker-compose",
    "debootstrap": "debootstrap",
}
DOCKER_CLI = "/usr/bin/docker"  # Debian's client: BentoML needs its built-in BuildKit


def install_missing() -> None:
    """Install Debian's container tools when missing (root with apt, as on CI)."""
    missing = [pkg for tool, pkg in DEBIAN_PACKAGES.items() if shutil.which(tool) is None]
    if not Path(DOCKER_CLI).exists():
        missing.append("docker.io")
    if not missing:
        return
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        pytest.fail(f"the deploy tests need Debian packages: {' '.join(sorted(set(missing)))}")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for attempt in range(30):
        subprocess.run(["apt-get", "update", "-qq"], env=env, check=False, capture_output=True)
        done = subprocess.run(
            ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *sorted(set(missing))],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode == 0:
            return
        if "lock" not in done.stderr or attempt == 29:
            pytest.fail(f"apt-get install {' '.join(missing)} failed:\n{done.stderr}")
        time.sleep(10)


# Room for every image's layers of two consecutive versions (a rerun after a change reuses them).
BUILD_CACHE_KEPT = "6GB"


@dataclass(frozen=True)
class DockerEngine:
    """A running dockerd in namespace `netns`, reachable through `socket`."""

    netns: str
    root: Path
    process: subprocess.Popen[bytes]

    @property
    def socket(self) -> Path:
        return self.root / "docker.sock"

    @property
    def host(self) -> str:
        return f"unix://{self.socket}"

    @property
    def nsenter(self) -> list[str]:
        return ["nsenter", f"--net=/run/netns/{self.netns}"]

    def env(self, base: dict[str, str] | None = None) -> dict[str, str]:
        """An environment whose `docker` is Debian's client talking to this engine."""
        base = dict(os.environ if base is None else base)
        path = f"{self.root / 'bin'}{os.pathsep}{base.get('PATH', '')}"
        return {**base, "DOCKER_HOST": self.host, "PATH": path}

    def docker(self, *args: str, timeout: float = 120, check: bool = True) -> str:
        done = subprocess.run(
            [DOCKER_CLI, *args],
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check:
            assert done.returncode == 0, f"docker {' '.join(args)}: {done.stderr}"
        return done.stdout

    def inside(
        self, *command: str, env: dict[str, str] | None = None, timeout: float = 600, **kw: object
    ) -> subprocess.CompletedProcess[str]:
        """Run `command` in the engine's network namespace (sees its published ports)."""
        return subprocess.run(  # type: ignore[call-overload, no-any-return]
            [*self.nsenter, *command],
            env=self.env(env),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            **kw,
        )


def _start(root: Path, data: Path, netns: str) -> DockerEngine:
    subprocess.run(["ip", "netns", "add", netns], check=True)
    subprocess.run(["ip", "-n", netns, "link", "set", "lo", "up"], check=True)
    data.mkdir(parents=True, exist_ok=True)
    (root / "exec").mkdir(parents=True, exist_ok=True)
    (root / "bin").mkdir(exist_ok=True)
    (root / "bin" / "docker").symlink_to(DOCKER_CLI)
    log = (root / "dockerd.log").open("wb")
    process = subprocess.Popen(
        [
            "nsenter",
            f"--net=/run/netns/{netns}",
            "dockerd",
            "--data-root",
            str(data),
            "--exec-root",
            str(root / "exec"),
            "-H",
            f"unix://{root / 'docker.sock'}",
            "--pidfile",
            str(root / "dockerd.pid"),
        ],
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    engine = DockerEngine(netns, root, process)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        ping = subprocess.run(
            [DOCKER_CLI, "-H", engine.host, "version"], capture_output=True, check=False
        )
        if ping.returncode == 0:
            _clear(engine)
            return engine
        time.sleep(0.5)
    _stop(engine)
    pytest.fail(f"dockerd did not start:\n{(root / 'dockerd.log').read_text()[-3000:]}")


def _clear(engine: DockerEngine) -> None:
    """Start from no container, network or volume: an interrupted run may have left some in
    the kept data root. Tagged images and the most recently used build cache stay (they are
    the cache). Untagged images, each replaced by a rebuild of its tag, go: kept, they filled
    36 GB of disk over a day of reruns. So does the build cache beyond BUILD_CACHE_KEPT: every
    rebuild of a changed Bento adds layers, and it had reached 16.6 GB."""
    leftovers = engine.docker("ps", "-aq").split()
    if leftovers:
        engine.docker("rm", "-f", *leftovers)
    engine.docker("network", "prune", "-f")
    engine.docker("volume", "prune", "-f")
    engine.docker("image", "prune", "-f", timeout=600)
    engine.docker("builder", "prune", "-f", "--keep-storage", BUILD_CACHE_KEPT, timeout=600)


def _stop(engine: DockerEngine) -> None:
    """SIGTERM to dockerd (nsenter execs it: same PID), then SIGKILL to its group after 30 s."""
    engine.process.terminate()
    try:
        engine.process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(engine.process.pid, signal.SIGKILL)
        engine.process.wait(timeout=30)
    subprocess.run(["ip", "netns", "del", engine.netns], check=False)


@pytest.fixture(scope="session")
def docker_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DockerEngine]:
    """dockerd in a namespace of its own for the session; stopped by PID, namespace removed."""
    install_missing()
    # Images and build cache live across runs (a rerun reuses base images and layers); one
    # daemon at a time may use them, so a second test session waits for the first.
    data = Settings().cache_root / "dockerd"
    data.parent.mkdir(parents=True, exist_ok=True)
    with (data.parent / "dockerd.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        engine = _start(tmp_path_factory.mktemp("dockerd"), data, f"mlsc-{os.getpid()}")
        try:
            yield engine
        finally:
            _stop(engine)

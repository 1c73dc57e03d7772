"""`bentoml containerize` of a Bento into the image `mlstack:v<N>`, online or air-gapped.

Online it is the plain BentoML path (base image and packages from their registries). Offline
nothing is fetched: the base image is the local Debian stand-in (`base_image.py`) tagged as the
Bento's base image, and the packages come from the Bento's wheelhouse, served for the build on
127.0.0.1 (the build runs on the host network). Either way a last layer adds a HEALTHCHECK on
`/readyz`; BentoML's image already runs as the non-root user `bentoml`.
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import shutil
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import yaml

from mlstack_core.endpoints import API_READY_PATH
from mlstack_core.settings import Settings
from mlstack_deploy.base_image import ensure_base_image
from mlstack_deploy.errors import DeployError
from mlstack_deploy.steps import run_checked
from mlstack_deploy.wheelhouse import Wheelhouse, bento_folder, bento_wheelhouse

API_PORT_IN_IMAGE = 3000
# The base image BentoML names, and the Dockerfiles under deployment/ default to.
ONLINE_BASE_IMAGE = "python:3.11-slim"
HEALTHCHECK = (
    "HEALTHCHECK --interval=10s --timeout=3s --start-period=90s --retries=3 "
    'CMD ["python", "-c", "import urllib.request; '
    f"urllib.request.urlopen('http://127.0.0.1:{API_PORT_IN_IMAGE}{API_READY_PATH}', timeout=2)\"]"
)


@dataclass(frozen=True)
class ImageResult:
    image: str
    seconds: float
    offline: bool
    wheelhouse: Wheelhouse | None = None
    reused: bool = False


def docker_client() -> str:
    found = shutil.which("docker")
    if found is None:
        raise DeployError(
            "docker is not installed (or not on PATH)",
            "install Docker (on Debian: apt-get install docker.io) and start its daemon",
        )
    return found


@contextlib.contextmanager
def served(house: Wheelhouse) -> Iterator[str]:
    """Serve the wheelhouse over HTTP on 127.0.0.1 for the time of a build.

    The port follows from the wheelhouse's key: the URL is a build argument, and the same URL
    on every build keeps Docker's layer cache valid (another port when that one is taken).
    """
    handler = functools.partial(_QuietHandler, directory=str(house.path))
    preferred = 20000 + int(house.key, 16) % 20000
    try:
        server = http.server.ThreadingHTTPServer(("127.0.0.1", preferred), handler)
    except OSError:
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        """No access log on the terminal."""


def bento_base_image(folder: Path) -> str:
    manifest = yaml.safe_load((folder / "bento.yaml").read_text()) or {}
    return str((manifest.get("image") or {}).get("base_image") or ONLINE_BASE_IMAGE)


def add_healthcheck(docker: str, image: str) -> None:
    """Rebuild `image` with a HEALTHCHECK layer on top (no RUN: offline and instant)."""
    dockerfile = f"FROM {image}\n{HEALTHCHECK}\n"
    run_checked(
        [docker, "build", "-q", "-t", image, "-"],
        f"adding the health check to {image}",
        "see the docker output above",
        input=dockerfile,
    )


def containerize(settings: Settings, bento: str, offline: bool) -> ImageResult:
    """Build the image of `bento` tagged like the Bento; offline from local things only."""
    began = time.perf_counter()
    docker = docker_client()
    folder = bento_folder(settings, bento)
    tag = f"{folder.parent.name}:{folder.name}"
    command = [sys.executable, "-m", "bentoml", "containerize", tag, "--image-tag", tag]
    env = {"BENTOML_HOME": str(settings.bentoml_home), "BENTOML_DO_NOT_TRACK": "true"}
    house = None
    hint = "see the build output above; `docker info` must answer"
    if offline:
        house = bento_wheelhouse(settings, tag)
        ensure_base_image(settings, docker, tags=(bento_base_image(folder),))
        hint = "see the build output above: an offline build installs only from the wheelhouse"
    with served(house) if house else contextlib.nullcontext("") as links:
        if links:
            command += ["--opt", "network=host", "--opt", f"build-arg=UV_FIND_LINKS={links}"]
        run_checked(command, f"bentoml containerize {tag}", hint, env=settings.child_env(env))
    add_healthcheck(docker, tag)
    return ImageResult(tag, time.perf_counter() - began, offline, house)

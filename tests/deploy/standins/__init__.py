"""Local stand-ins for the public images a user pulls (no registry is reachable here)."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import tempfile
from pathlib import Path

from mlstack_core.settings import Settings
from mlstack_deploy.base_image import debootstrap, ensure_base_image, image_exists
from mlstack_deploy.containers import bento_base_image
from tests.deploy.docker_engine import DockerEngine

HERE = Path(__file__).resolve().parent
POSTGRES_IMAGE = "postgres:16"
POSTGRES_BIN = "/usr/lib/postgresql/15/bin"


def postgres_standin(engine: DockerEngine, settings: Settings) -> str:
    """Debian's PostgreSQL behind the official image's entrypoint contract, as `postgres:16`."""
    if image_exists(str(engine.root / "bin" / "docker"), POSTGRES_IMAGE):
        return POSTGRES_IMAGE
    entrypoint = HERE / "postgres-entrypoint.sh"
    key = hashlib.sha256(entrypoint.read_bytes()).hexdigest()[:12]
    tarball = settings.cache_root / "base" / f"postgres-standin-{key}.tar"
    if not tarball.is_file():
        tarball.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=tarball.parent) as tmp:
            root = Path(tmp) / "root"
            debootstrap(root, ("postgresql",))
            shutil.copy2(entrypoint, root / "usr/local/bin/docker-entrypoint.sh")
            data = root / "var/lib/postgresql/data"
            data.mkdir(parents=True, exist_ok=True)
            (root / "docker-entrypoint-initdb.d").mkdir(exist_ok=True)
            subprocess.run(
                ["chroot", str(root), "chown", "-R", "postgres:postgres", "/var/lib/postgresql"],
                check=True,
            )
            data.chmod(0o700)
            partial = tarball.with_suffix(".partial")
            subprocess.run(["tar", "-C", str(root), "-cf", str(partial), "."], check=True)
            partial.rename(tarball)
    changes = [
        f"ENV PATH={POSTGRES_BIN}:/usr/local/bin:/usr/bin:/bin",
        "ENV PGDATA=/var/lib/postgresql/data",
        "USER postgres",
        'ENTRYPOINT ["/usr/local/bin/docker-entrypoint.sh"]',
    ]
    engine.docker(
        "import",
        *(a for c in changes for a in ("--change", c)),
        str(tarball),
        POSTGRES_IMAGE,
        timeout=600,
    )
    return POSTGRES_IMAGE


def standin_images(engine: DockerEngine, settings: Settings, bento_folder: Path | None) -> None:
    """Every public image the compose stack names, made locally (postgres, python base)."""
    postgres_standin(engine, settings)
    tags = (bento_base_image(bento_folder),) if bento_folder else ("python:3.11-slim",)
    ensure_base_image(settings, str(engine.root / "bin" / "docker"), tags=tags)

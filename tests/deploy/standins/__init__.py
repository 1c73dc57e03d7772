"""Local stand-ins for the public images a user pulls (no registry is reachable here)."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import tempfile
from pathlib import Path

from mlstack_core.settings import Settings
from mlstack_deploy.base_image import debootstrap, image_exists
from tests.deploy.docker_engine import DockerEngine

HERE = Path(__file__).resolve().parent
POSTGRES_IMAGE = "postgres:16"
POSTGRES_BIN = "/usr/lib/postgresql/15/bin"


def postgres_tarball(settings: Settings) -> Path:
    """Debian's PostgreSQL behind the official image's entrypoint contract, as a root fs."""
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
    return tarball


def postgres_standin(engine: DockerEngine, settings: Settings) -> str:
    """The stand-in imported into the engine as `postgres:16` (what the compose file names)."""
    if image_exists(str(engine.root / "bin" / "docker"), POSTGRES_IMAGE):
        return POSTGRES_IMAGE
    tarball = postgres_tarball(settings)
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

"""Local stand-ins for the public images a user pulls (no registry is reachable here)."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import tempfile
from pathlib import Path

from mlstack_core.settings import Settings
from mlstack_deploy.base_image import cached_rootfs
from tests.deploy.docker_engine import DockerEngine

HERE = Path(__file__).resolve().parent
POSTGRES_IMAGE = "postgres:16"
POSTGRES_BIN = "/usr/lib/postgresql/15/bin"
PACKAGES = ("postgresql",)


def _postgres_data(root: Path) -> None:
    """A data folder the postgres user owns, and the init scripts' folder."""
    data = root / "var/lib/postgresql/data"
    data.mkdir(parents=True, exist_ok=True)
    (root / "docker-entrypoint-initdb.d").mkdir(exist_ok=True)
    subprocess.run(
        ["chroot", str(root), "chown", "-R", "postgres:postgres", "/var/lib/postgresql"],
        check=True,
    )
    data.chmod(0o700)


def postgres_tarball(settings: Settings) -> Path:
    """A Debian root file system with PostgreSQL (debootstrap'd once, cached)."""
    key = hashlib.sha256(" ".join(PACKAGES).encode()).hexdigest()[:12]
    tarball = settings.cache_root / "base" / f"postgres-rootfs-{key}.tar"
    return cached_rootfs(tarball, PACKAGES, _postgres_data)


def postgres_standin(engine: DockerEngine, settings: Settings) -> str:
    """The stand-in, built in the engine as `postgres:16` (what the compose file names); the
    build is Docker's cache once made. It stops on SIGINT (a fast shutdown that ends the
    clients' sessions), as the official image does."""
    rootfs = f"mlsc-postgres-rootfs:{postgres_tarball(settings).stem}"
    if not engine.docker("images", "-q", rootfs).strip():
        engine.docker("import", str(postgres_tarball(settings)), rootfs, timeout=600)
    with tempfile.TemporaryDirectory() as tmp:
        shutil.copy2(HERE / "postgres-entrypoint.sh", Path(tmp) / "docker-entrypoint.sh")
        (Path(tmp) / "Dockerfile").write_text(
            f"FROM {rootfs}\n"
            "COPY docker-entrypoint.sh /usr/local/bin/docker-entrypoint.sh\n"
            f"ENV PATH={POSTGRES_BIN}:/usr/local/bin:/usr/bin:/bin "
            "PGDATA=/var/lib/postgresql/data\n"
            "USER postgres\n"
            "STOPSIGNAL SIGINT\n"
            'ENTRYPOINT ["/usr/local/bin/docker-entrypoint.sh"]\n'
        )
        engine.docker("build", "-q", "-t", POSTGRES_IMAGE, tmp, timeout=600)
    return POSTGRES_IMAGE

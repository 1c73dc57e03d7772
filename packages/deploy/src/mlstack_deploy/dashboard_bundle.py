"""The dashboard for servers: its locked requirements and the workspace wheels in one tar.

The same inputs as the dashboard image (`mlstack_deploy.images`): `requirements.txt` exported
from uv.lock and the mlstack-core and mlstack-dashboard wheels. The tar is named after a hash of
what goes into it (the requirements and the packages' sources), so an unchanged dashboard is the
same file on every run and Ansible copies nothing.
"""

from __future__ import annotations

import hashlib
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

from mlstack_core.settings import Settings
from mlstack_deploy.images import DASHBOARD, locked_requirements, workspace_wheels

REQUIREMENTS = "requirements.txt"
PACKAGES = "packages"


@dataclass(frozen=True)
class DashboardBundle:
    """The tar pushed to the dashboard hosts and the third-party requirements it pins."""

    archive: Path
    requirements: list[str]


def _package_folder(root: Path, package: str) -> Path:
    return root / "packages" / package.removeprefix("mlstack-")


def bundle_key(root: Path, requirements: list[str], packages: tuple[str, ...]) -> str:
    """A hash of the requirements and every source file of the workspace packages."""
    digest = hashlib.sha256("\n".join(requirements).encode())
    for package in packages:
        folder = _package_folder(root, package)
        files = [folder / "pyproject.toml", *sorted((folder / "src").rglob("*"))]
        for path in files:
            if path.is_file() and "__pycache__" not in path.parts:
                digest.update(str(path.relative_to(root)).encode())
                digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def dashboard_bundle(settings: Settings, root: Path) -> DashboardBundle:
    """The dashboard's tar in the state folder, made when its inputs changed."""
    requirements = locked_requirements(root, DASHBOARD.package)
    key = bundle_key(root, requirements, DASHBOARD.workspace_wheels)
    archive = settings.state_dir / "deploy" / f"dashboard-{key}.tar"
    if archive.is_file():
        return DashboardBundle(archive, requirements)
    archive.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="dashboard-", dir=archive.parent) as tmp:
        folder = Path(tmp)
        (folder / REQUIREMENTS).write_text("\n".join(requirements) + "\n")
        workspace_wheels(root, DASHBOARD.workspace_wheels, folder / PACKAGES)
        partial = folder / "bundle.tar"
        with tarfile.open(partial, "w") as tar:
            tar.add(folder / REQUIREMENTS, arcname=REQUIREMENTS)
            for wheel in sorted((folder / PACKAGES).glob("*.whl")):
                tar.add(wheel, arcname=f"{PACKAGES}/{wheel.name}")
        partial.rename(archive)
    return DashboardBundle(archive, requirements)

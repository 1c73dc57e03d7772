"""The MLflow and dashboard images: Dockerfiles under `deployment/`, versions from uv.lock.

The build context is made here: `requirements.txt` exported from uv.lock (`uv export`), the uv
binary, the workspace wheels the image needs, and `wheels/`: for an offline build the
wheelhouse of those requirements (installed with `--no-index`), empty otherwise. An image is
labelled with the hash of those inputs; when the image of that tag carries the same hash, the
build (and the making of its context) is skipped.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from mlstack_core.settings import Settings
from mlstack_deploy.base_image import ensure_base_image, uv_binary
from mlstack_deploy.containers import ONLINE_BASE_IMAGE, ImageResult, docker_client
from mlstack_deploy.errors import DeployError
from mlstack_deploy.steps import run_checked
from mlstack_deploy.wheelhouse import Wheelhouse, build_wheelhouse


@dataclass(frozen=True)
class SupportImage:
    """An image of the stack other than the API: its Dockerfile folder and what it installs."""

    name: str
    folder: str
    package: str
    workspace_wheels: tuple[str, ...] = ()


MLFLOW = SupportImage("mlflow", "deployment/mlflow", "mlstack-core")
DASHBOARD = SupportImage(
    "dashboard", "deployment/dashboard", "mlstack-dashboard", ("mlstack-core", "mlstack-dashboard")
)
SUPPORT = (MLFLOW, DASHBOARD)


def project_root(start: Path | None = None) -> Path:
    """The project's root: the folder holding `tasks.py` and `deployment/` (cwd or above)."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "tasks.py").is_file() and (folder / "deployment").is_dir():
            return folder
    raise DeployError(
        f"{here} is not inside an mlstack checkout (no tasks.py and deployment/ above it)",
        "run the command from the repository's folder",
    )


def locked_requirements(root: Path, package: str) -> list[str]:
    """Every third-party requirement of `package`, pinned as in uv.lock."""
    exported = run_checked(
        [
            str(uv_binary()),
            "export",
            "--frozen",
            "--package",
            package,
            "--no-emit-workspace",
            "--no-hashes",
            "--no-header",
            "--no-annotate",
            "--no-dev",
        ],
        f"uv export of {package}",
        "uv.lock must be up to date: run `uv lock`",
        cwd=root,
    )
    return [ln.strip() for ln in exported.splitlines() if ln.strip() and not ln.startswith("#")]


def workspace_wheels(root: Path, packages: tuple[str, ...], dest: Path) -> None:
    """Build the wheels of the workspace's own `packages` (`uv build`) into `dest`."""
    dest.mkdir(parents=True, exist_ok=True)
    for package in packages:
        run_checked(
            [str(uv_binary()), "build", "--wheel", "--package", package, "-o", str(dest)],
            f"building the {package} wheel",
            "see the uv output above",
            cwd=root,
        )


def stack_wheelhouses(settings: Settings, root: Path) -> list[Wheelhouse]:
    """The wheelhouses of the MLflow and dashboard images (made where the index is reachable),
    downloaded side by side."""

    def made(image: SupportImage) -> Wheelhouse:
        return build_wheelhouse(settings, locked_requirements(root, image.package))

    with ThreadPoolExecutor() as pool:
        return list(pool.map(made, SUPPORT))


def _context(settings: Settings, root: Path, image: SupportImage, offline: bool, ctx: Path) -> None:
    shutil.copytree(root / image.folder, ctx, dirs_exist_ok=True)
    requirements = locked_requirements(root, image.package)
    (ctx / "requirements.txt").write_text("\n".join(requirements) + "\n")
    shutil.copy2(uv_binary(), ctx / "uv")
    (ctx / "wheels").mkdir()
    workspace_wheels(root, image.workspace_wheels, ctx / "packages")
    if offline:
        house = build_wheelhouse(settings, requirements)
        for wheel in house.path.glob("*.whl"):
            os.link(wheel, ctx / "wheels" / wheel.name)


INPUTS_LABEL = "org.mlstack.inputs"


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts)


def inputs_key(root: Path, image: SupportImage, requirements: list[str], base: str) -> str:
    """A hash of everything an image is built from: its Dockerfile folder, the locked
    requirements, the workspace packages' sources, the uv binary and the base image."""
    digest = hashlib.sha256("\n".join([*requirements, base]).encode())
    folders = [root / image.folder]
    folders += [root / "packages" / p.removeprefix("mlstack-") for p in image.workspace_wheels]
    for folder in folders:
        for path in _files(folder):
            digest.update(str(path.relative_to(root)).encode())
            digest.update(path.read_bytes())
    digest.update(uv_binary().read_bytes())
    return digest.hexdigest()[:16]


def _label(docker: str, tag: str) -> str | None:
    done = subprocess.run(
        [docker, "image", "inspect", "-f", f'{{{{index .Config.Labels "{INPUTS_LABEL}"}}}}', tag],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    return done.stdout.strip() if done.returncode == 0 else None


def build_support_image(
    settings: Settings,
    image: SupportImage,
    tag: str,
    offline: bool,
    root: Path | None = None,
    build_image: str | None = None,
) -> ImageResult:
    """`docker build` one of the stack's own images; offline from the base image and wheels.
    Skipped when the image of `tag` was built from the same inputs. `build_image` (the
    Dockerfile's BUILD_IMAGE) is an image whose venv already holds some of the requirements."""
    began = time.perf_counter()
    root = root or project_root()
    docker = docker_client()
    base = ensure_base_image(settings, docker) if offline else ONLINE_BASE_IMAGE
    key = inputs_key(root, image, locked_requirements(root, image.package), base)
    if _label(docker, tag) == key:
        return ImageResult(tag, time.perf_counter() - began, offline, reused=True)
    args = ["--label", f"{INPUTS_LABEL}={key}"]
    if offline:
        args += ["--build-arg", f"BASE_IMAGE={base}"]
    if build_image is not None:
        args += ["--build-arg", f"BUILD_IMAGE={build_image}"]
    scratch = settings.cache_root / "contexts"
    scratch.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f"{image.name}-", dir=scratch) as tmp:
        ctx = Path(tmp) / "context"
        _context(settings, root, image, offline, ctx)
        run_checked(
            [docker, "build", "-q", "-t", tag, *args, str(ctx)],
            f"building the {image.name} image",
            f"see the docker output above ({image.folder}/Dockerfile)",
            env=settings.child_env({"DOCKER_BUILDKIT": "1"}),
        )
    return ImageResult(tag, time.perf_counter() - began, offline)

"""A folder of wheels for a Bento's requirements, so images and VMs install with no index.

Made once, at build time, with `pip download` from the package index (the one moment that
needs it); kept under `<cache>/wheelhouse/<key>` where the key hashes what it was made from
(the requirements, the versions they are pinned to, the target Python and machine). Whatever
installs from it (`bentoml containerize --offline`, the dashboard and MLflow images, Ansible on
air-gapped VMs) uses `--no-index --find-links <folder>` and the pinned
`requirements.lock.txt` written beside the wheels.
"""

from __future__ import annotations

import hashlib
import os
import platform
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from importlib.metadata import distributions
from pathlib import Path

import yaml

from mlstack_core.artifacts import bento_versions_folder
from mlstack_core.settings import Settings
from mlstack_deploy.errors import DeployError

LOCK_NAME = "requirements.lock.txt"
DEFAULT_PYTHON = "3.11"
# Debian 12's glibc is 2.36: every manylinux tag up to it installs there.
GLIBC_MINOR = 36
_WHEEL_NAME = re.compile(r"^(?P<name>[^-]+)-(?P<version>[^-]+)-")


@dataclass(frozen=True)
class Wheelhouse:
    """Wheels in `path`; `lock` pins every one of them (the full closure)."""

    path: Path
    key: str
    reused: bool

    @property
    def lock(self) -> Path:
        return self.path / LOCK_NAME

    def pinned(self) -> list[str]:
        return [ln for ln in self.lock.read_text().splitlines() if ln and not ln.startswith("#")]


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def bento_folder(settings: Settings, bento: str) -> Path:
    """A Bento's folder from a path to it or its tag (`mlstack:v3`, `mlstack:latest`)."""
    candidate = Path(bento).expanduser()
    if (candidate / "bento.yaml").is_file():
        return candidate.resolve()
    name, _, version = bento.partition(":")
    store = bento_versions_folder(settings, name)
    if version in ("", "latest") and (store / "latest").is_file():
        version = (store / "latest").read_text().strip()
    folder = store / version
    if not version or not (folder / "bento.yaml").is_file():
        raise DeployError(
            f"no Bento {bento!r} (neither a Bento folder nor a tag in {settings.bentoml_home})",
            "run `uv run invoke build` first, or pass the Bento's folder",
        )
    return folder


def bento_requirements(folder: Path) -> tuple[list[str], str]:
    """The Bento's Python requirements and the Python version its image runs."""
    manifest = yaml.safe_load((folder / "bento.yaml").read_text()) or {}
    python = str((manifest.get("image") or {}).get("python_version") or DEFAULT_PYTHON)
    lines = (folder / "env" / "python" / "requirements.txt").read_text().splitlines()
    requirements = sorted({ln.strip() for ln in lines if ln.strip() and not ln.startswith("#")})
    return requirements, python


def installed_pins() -> list[str]:
    """`name==version` of every distribution in this environment (from uv.lock), as constraints.

    The Bento pins its direct requirements; these pin the rest of the closure to the versions
    the tests ran against, so the wheelhouse holds what was tested, not the index's newest.
    """
    pins: dict[str, str] = {}
    for dist in distributions():
        name = dist.metadata["Name"]
        if name and not _canonical(name).startswith("mlstack"):
            pins.setdefault(_canonical(name), f"{_canonical(name)}=={dist.version}")
    return sorted(pins.values())


def _platforms(machine: str) -> list[str]:
    tags = [f"manylinux_2_{minor}_{machine}" for minor in range(GLIBC_MINOR, 4, -1)]
    return [*tags, f"manylinux2014_{machine}", f"manylinux1_{machine}"]


def wheelhouse_key(
    requirements: list[str], constraints: list[str], python: str, machine: str
) -> str:
    text = "\n".join([f"python {python}", f"machine {machine}", *requirements, "--", *constraints])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _pins_of(wheels: Path) -> list[str]:
    pins = []
    for wheel in sorted(wheels.glob("*.whl")):
        match = _WHEEL_NAME.match(wheel.name)
        if match:
            pins.append(f"{_canonical(match['name'])}=={match['version']}")
    return sorted(pins)


def _last_error(output: str) -> str:
    lines = [ln.strip() for ln in output.splitlines() if ln.strip()]
    return next((ln for ln in lines if ln.startswith("ERROR")), lines[-1] if lines else "")


def build_wheelhouse(
    settings: Settings,
    requirements: list[str],
    python: str = DEFAULT_PYTHON,
    machine: str | None = None,
) -> Wheelhouse:
    """Download wheels for `requirements` and their dependencies for Linux `machine`, or reuse.

    The download lands in a temporary sibling folder and is renamed into place when complete,
    so an interrupted run never leaves a half wheelhouse that a later run would trust.
    """
    machine = machine or platform.machine()
    constraints = installed_pins()
    key = wheelhouse_key(requirements, constraints, python, machine)
    target = settings.cache_root / "wheelhouse" / key
    if (target / LOCK_NAME).is_file():
        return Wheelhouse(target, key, reused=True)
    staging = target.with_name(f"{key}.partial-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    (staging / "requirements.in").write_text("\n".join(requirements) + "\n")
    (staging / "constraints.txt").write_text("\n".join(constraints) + "\n")
    command = [
        sys.executable,
        "-m",
        "pip",
        "--isolated",
        "download",
        "--disable-pip-version-check",
        "--only-binary=:all:",
        "--implementation",
        "cp",
        "--python-version",
        python,
        *(arg for tag in _platforms(machine) for arg in ("--platform", tag)),
        "-r",
        str(staging / "requirements.in"),
        "-c",
        str(staging / "constraints.txt"),
        "-d",
        str(staging),
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        shutil.rmtree(staging, ignore_errors=True)
        raise DeployError(
            f"pip could not download the wheels: {_last_error(done.stdout + done.stderr)}",
            "the wheelhouse is made once with access to the package index; on an air-gapped "
            f"site copy a wheelhouse made elsewhere into {target.parent}",
        )
    (staging / LOCK_NAME).write_text(
        f"# wheelhouse {key}: Python {python}, Linux {machine}\n"
        + "\n".join(_pins_of(staging))
        + "\n"
    )
    if target.exists():
        shutil.rmtree(staging, ignore_errors=True)
    else:
        staging.rename(target)
    return Wheelhouse(target, key, reused=False)


def bento_wheelhouse(settings: Settings, bento: str, extra: list[str] | None = None) -> Wheelhouse:
    """The wheelhouse of a built Bento (folder or tag), plus `extra` requirements if given."""
    requirements, python = bento_requirements(bento_folder(settings, bento))
    return build_wheelhouse(settings, sorted({*requirements, *(extra or [])}), python)

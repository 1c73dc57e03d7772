"""The code a Bento carries, and whether a built Bento still carries this checkout's.

A Bento `mlstack:v<N>` is named after the model version it serves, but it also holds the
sources of mlstack_core and mlstack_serving and pinned requirements. The build labels it with
a digest of those; a Bento whose label differs (built before a `git pull`, say) is rebuilt,
or `up` would serve old code under the right model version. Cheap enough for `up`'s warm
start: the packages are found without being imported, and nothing heavy is imported.
"""

from __future__ import annotations

import hashlib
import importlib.util
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as installed_version
from pathlib import Path

import yaml

from mlstack_core.artifacts import bento_built, bento_versions_folder
from mlstack_core.settings import Settings

SOURCE_PACKAGES = ("mlstack_core", "mlstack_serving")
REQUIREMENTS = (
    "bentoml",
    "mlflow",
    "scikit-learn",
    "skops",
    "pandas",
    "numpy",
    "scipy",
    "pydantic",
    "pydantic-settings",
    "sqlalchemy",
    "pandera",
    "pyyaml",
    "rich",
    "typer",
    "psycopg",
    "psycopg-binary",
)
SOURCES_LABEL = "sources"


def requirement_pins() -> list[str]:
    return [f"{name}=={installed_version(name)}" for name in REQUIREMENTS]


def source_folder(package: str) -> Path | None:
    """Where `package` is installed, found without importing it; None when it is not."""
    spec = importlib.util.find_spec(package)
    return Path(spec.origin).parent if spec is not None and spec.origin is not None else None


def sources_digest() -> str | None:
    """What a Bento built here would carry: the source packages' files and the pins; None
    where they are not all installed (no Bento can be built here)."""
    roots = {package: source_folder(package) for package in SOURCE_PACKAGES}
    try:
        pins = requirement_pins()
    except PackageNotFoundError:
        return None
    digest = hashlib.sha256("\n".join(pins).encode())
    for package, root in roots.items():
        if root is None:
            return None
        for path in sorted(root.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
                digest.update(f"{package}/{path.relative_to(root).as_posix()}\0".encode())
                digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def built_from(settings: Settings, tag: str) -> str | None:
    """The sources label of the built Bento `NAME:VERSION`; None when it is not built (or
    was built before the label existed)."""
    name, _, version = tag.partition(":")
    manifest = bento_versions_folder(settings, name) / version / "bento.yaml"
    try:
        labels = (yaml.safe_load(manifest.read_text()) or {}).get("labels") or {}
    except (OSError, yaml.YAMLError):
        return None
    label = labels.get(SOURCES_LABEL)
    return str(label) if label is not None else None


def bento_is_current(settings: Settings, tag: str) -> bool:
    """Whether the Bento `tag` is built and carries this checkout's code (an environment
    without the serving sources cannot rebuild it, and takes any Bento that is built)."""
    here = sources_digest()
    if here is None:
        return bento_built(settings, tag)
    return built_from(settings, tag) == here

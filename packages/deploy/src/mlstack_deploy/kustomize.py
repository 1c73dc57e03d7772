"""Render the Kubernetes overlays under `deployment/kubernetes/` and validate them offline.

`kubectl kustomize` renders; `kubernetes-validate --strict` checks every resource against the
Kubernetes schemas it ships (no cluster needed). The Secrets are generated from files that are
never committed; with `example_secrets` the overlay is rendered from a copy in which each
missing file is its committed `.example` (what CI and the lint hooks validate).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from mlstack_deploy.errors import DeployError
from mlstack_deploy.steps import run_checked

KUBERNETES = Path("deployment/kubernetes")
SCHEMA_VERSION = "1.30"


def overlays(root: Path) -> list[str]:
    return sorted(p.name for p in (root / KUBERNETES / "overlays").iterdir() if p.is_dir())


def _missing_files(overlay: Path) -> list[Path]:
    return [p.with_suffix("") for p in overlay.glob("*.example") if not p.with_suffix("").exists()]


def _kustomize(folder: Path) -> str:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        raise DeployError(
            "kubectl is not installed", "install kubectl (it renders kustomize offline)"
        )
    return run_checked(
        [kubectl, "kustomize", str(folder)],
        f"kubectl kustomize {folder}",
        "fix the kustomization named above",
    )


def render(root: Path, overlay: str, example_secrets: bool = False) -> str:
    """The manifests of `overlay` as one YAML stream."""
    names = overlays(root)
    if overlay not in names:
        raise DeployError(f"no overlay {overlay!r}", f"choose one of: {', '.join(names)}")
    folder = root / KUBERNETES / "overlays" / overlay
    missing = _missing_files(folder)
    if not missing:
        return _kustomize(folder)
    if not example_secrets:
        raise DeployError(
            f"the overlay {overlay!r} needs {', '.join(p.name for p in missing)} (never committed)",
            f"copy each from its .example in {folder} and fill in real values",
        )
    with tempfile.TemporaryDirectory(prefix="mlstack-k8s-") as tmp:
        copy = Path(tmp) / "kubernetes"
        shutil.copytree(root / KUBERNETES, copy)
        for path in _missing_files(copy / "overlays" / overlay):
            shutil.copy2(path.with_suffix(path.suffix + ".example"), path)
        return _kustomize(copy / "overlays" / overlay)


def validate(manifests: str, name: str) -> None:
    """`kubernetes-validate --strict` over rendered manifests; a DeployError naming the fault."""
    with tempfile.NamedTemporaryFile("w", suffix=f"-{name}.yaml", delete=False) as handle:
        handle.write(manifests)
        path = Path(handle.name)
    try:
        done = subprocess.run(
            [
                str(Path(sys.executable).parent / "kubernetes-validate"),
                "--strict",
                "--quiet",
                "--kubernetes-version",
                SCHEMA_VERSION,
                str(path),
            ],
            capture_output=True,
            text=True,
            check=False,
            timeout=300,
        )
    finally:
        path.unlink(missing_ok=True)
    if done.returncode != 0:
        errors = [ln.strip() for ln in (done.stdout + done.stderr).splitlines() if ln.strip()]
        raise DeployError(
            f"the {name} manifests are not valid Kubernetes {SCHEMA_VERSION}: "
            + "; ".join(ln.replace(str(path), name) for ln in errors[:3]),
            "fix the resource and field named above in deployment/kubernetes/",
        )

"""The kustomize overlays render, validate strictly, and carry what production needs."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from mlstack_core.testing.servers import VENV_BIN as BIN
from tests.conftest import ROOT

pytestmark = pytest.mark.deploy


def containers(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "mlstack-containers"), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def rendered(overlay: str) -> dict[tuple[str, str], dict[str, object]]:
    done = containers("k8s-render", "--overlay", overlay, "--example-secrets")
    assert done.returncode == 0, done.stderr
    return {(d["kind"], d["metadata"]["name"]): d for d in yaml.safe_load_all(done.stdout) if d}


def container(resources: dict, name: str) -> dict:  # type: ignore[type-arg]
    return resources[("Deployment", name)]["spec"]["template"]["spec"]["containers"][0]


def test_every_overlay_renders_and_validates() -> None:
    done = containers("k8s-validate", "--example-secrets")
    assert done.returncode == 0, done.stderr
    assert "overlay local: valid" in done.stderr
    assert "overlay production: valid" in done.stderr


def test_the_api_rolls_out_safely_and_runs_as_non_root() -> None:
    resources = rendered("local")
    api = resources[("Deployment", "api")]
    assert api["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    pod = api["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    main = container(resources, "api")
    assert main["livenessProbe"]["httpGet"]["path"] == "/livez"
    assert main["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert main["securityContext"]["readOnlyRootFilesystem"] is True
    assert api["spec"]["replicas"] == 1
    assert ("HorizontalPodAutoscaler", "api") in resources
    assert ("PodDisruptionBudget", "api") in resources
    assert ("Deployment", "postgres") in resources


def test_production_leaves_nothing_open() -> None:
    resources = rendered("production")
    settings = next(v for (kind, _), v in resources.items() if kind == "ConfigMap")
    assert settings["data"]["MLSTACK_ENV"] == "production"  # the API requires its token
    mlflow = container(resources, "mlflow")
    assert "--app-name" in mlflow["args"]
    assert mlflow["args"][mlflow["args"].index("--app-name") + 1] == "basic-auth"
    ingress = resources[("Ingress", "dashboard")]["metadata"]["annotations"]
    assert ingress["nginx.ingress.kubernetes.io/auth-type"] == "basic"
    assert ("Secret", ingress["nginx.ingress.kubernetes.io/auth-secret"]) in resources
    assert resources[("Deployment", "api")]["spec"]["replicas"] == 3
    assert ("Deployment", "postgres") not in resources
    services = [v for (kind, _), v in resources.items() if kind == "Service"]
    assert all(s["spec"].get("type", "ClusterIP") == "ClusterIP" for s in services)


def test_missing_secret_file_is_a_clear_error() -> None:
    done = containers("k8s-render", "--overlay", "production")
    assert done.returncode == 4
    assert "needs" in done.stderr
    assert "secrets.env" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_broken_manifest_fails_validation_with_its_field(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "deployment", tmp_path / "deployment")
    (tmp_path / "tasks.py").write_text("")
    dashboard = tmp_path / "deployment/kubernetes/base/dashboard.yaml"
    dashboard.write_text(dashboard.read_text().replace("replicas: 1", 'replicas: "one"', 1))
    done = containers("k8s-validate", "--example-secrets", cwd=tmp_path)
    assert done.returncode == 4
    assert "not valid Kubernetes" in done.stderr
    assert "spec.replicas" in done.stderr
    assert "Traceback" not in done.stderr

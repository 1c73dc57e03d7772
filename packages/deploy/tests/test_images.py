"""An image is rebuilt exactly when something it is built from changed."""

from __future__ import annotations

from pathlib import Path

from mlstack_deploy.images import DASHBOARD, MLFLOW, inputs_key

REQUIREMENTS = ["mlflow==3.17.2", "psycopg==3.2.9"]


def _checkout(tmp_path: Path) -> Path:
    for folder in ("deployment/mlflow", "deployment/dashboard", "packages/core/src/mlstack_core"):
        (tmp_path / folder).mkdir(parents=True)
    (tmp_path / "deployment/mlflow/Dockerfile").write_text("FROM base\n")
    (tmp_path / "deployment/dashboard/Dockerfile").write_text("FROM base\n")
    (tmp_path / "packages/core/src/mlstack_core/settings.py").write_text("A = 1\n")
    return tmp_path


def test_the_same_inputs_give_the_same_key(tmp_path: Path) -> None:
    root = _checkout(tmp_path)
    assert inputs_key(root, MLFLOW, REQUIREMENTS, "b") == inputs_key(
        root, MLFLOW, REQUIREMENTS, "b"
    )


def test_a_changed_dockerfile_requirement_or_base_changes_the_key(tmp_path: Path) -> None:
    root = _checkout(tmp_path)
    before = inputs_key(root, MLFLOW, REQUIREMENTS, "b")
    assert inputs_key(root, MLFLOW, [*REQUIREMENTS, "rich==14.0"], "b") != before
    assert inputs_key(root, MLFLOW, REQUIREMENTS, "other-base") != before
    (root / "deployment/mlflow/Dockerfile").write_text("FROM base\nUSER 10001\n")
    assert inputs_key(root, MLFLOW, REQUIREMENTS, "b") != before


def test_a_changed_workspace_source_changes_only_the_images_that_install_it(
    tmp_path: Path,
) -> None:
    root = _checkout(tmp_path)
    (root / "packages/dashboard/src").mkdir(parents=True)
    mlflow, dashboard = (inputs_key(root, i, REQUIREMENTS, "b") for i in (MLFLOW, DASHBOARD))
    (root / "packages/core/src/mlstack_core/settings.py").write_text("A = 2\n")
    assert inputs_key(root, MLFLOW, REQUIREMENTS, "b") == mlflow
    changed = inputs_key(root, DASHBOARD, REQUIREMENTS, "b")
    assert changed != dashboard
    (root / "packages/core/src/mlstack_core/__pycache__").mkdir()
    (root / "packages/core/src/mlstack_core/__pycache__/settings.pyc").write_bytes(b"x")
    assert inputs_key(root, DASHBOARD, REQUIREMENTS, "b") == changed  # bytecode is no input

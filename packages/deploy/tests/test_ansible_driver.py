"""The Ansible driver's user errors: clear messages before any host is touched."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlstack_core.settings import Settings
from mlstack_deploy.ansible import PLAYBOOKS, Playbook, export_bento, wheelhouse_archive
from mlstack_deploy.errors import DeployError


def test_playbooks_ship_with_the_repository() -> None:
    assert (PLAYBOOKS / "deploy.yml").is_file()
    assert (PLAYBOOKS / "rollback.yml").is_file()
    assert (PLAYBOOKS / "ansible.cfg").is_file()


def test_missing_inventory_names_the_example(tmp_path: Path) -> None:
    with pytest.raises(DeployError) as error:
        Playbook("deploy.yml", tmp_path / "nowhere").run()
    assert "no Ansible inventory" in error.value.cause
    assert "inventories/example" in error.value.hint


def test_unknown_bento_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(DeployError) as error:
        export_bento(Settings(home=tmp_path), "mlstack:v404")
    # Without the serving package installed the cause is bentoml itself missing.
    assert "bentoml" in error.value.cause
    assert "invoke build" in error.value.hint or "uv sync" in error.value.hint


def test_empty_wheelhouse_is_refused(tmp_path: Path) -> None:
    with pytest.raises(DeployError) as error:
        wheelhouse_archive(Settings(home=tmp_path), tmp_path)
    assert "no wheels" in error.value.cause


def test_wheelhouse_archive_holds_every_file_once(tmp_path: Path) -> None:
    import tarfile

    wheels = tmp_path / "wheels"
    wheels.mkdir()
    (wheels / "a-1.0-py3-none-any.whl").write_bytes(b"a")
    (wheels / "requirements.lock.txt").write_text("a==1.0\n")
    settings = Settings(home=tmp_path / "home")
    archive = wheelhouse_archive(settings, wheels)
    with tarfile.open(archive) as tar:
        assert sorted(tar.getnames()) == ["a-1.0-py3-none-any.whl", "requirements.lock.txt"]
    assert wheelhouse_archive(settings, wheels) == archive


def test_dashboard_bundle_key_follows_the_sources_and_requirements(tmp_path: Path) -> None:
    from mlstack_deploy.dashboard_bundle import bundle_key

    source = tmp_path / "packages" / "dashboard" / "src" / "mlstack_dashboard"
    source.mkdir(parents=True)
    (tmp_path / "packages" / "dashboard" / "pyproject.toml").write_text("[project]\n")
    (source / "app.py").write_text("A = 1\n")
    (source / "__pycache__").mkdir()
    (source / "__pycache__" / "app.cpython-311.pyc").write_bytes(b"compiled")
    packages = ("mlstack-dashboard",)
    key = bundle_key(tmp_path, ["streamlit==1.67.0"], packages)

    (source / "__pycache__" / "app.cpython-311.pyc").write_bytes(b"recompiled")
    assert bundle_key(tmp_path, ["streamlit==1.67.0"], packages) == key
    assert bundle_key(tmp_path, ["streamlit==1.67.1"], packages) != key
    (source / "app.py").write_text("A = 2\n")
    assert bundle_key(tmp_path, ["streamlit==1.67.0"], packages) != key

"""The Ansible driver's user errors: clear messages before any host is touched."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from mlstack_core.artifacts import bento_versions_folder
from mlstack_core.processes import console_script as tool
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


def _bento_labelled(settings: Settings, sources: str) -> None:
    folder = bento_versions_folder(settings, "mlstack") / "v1"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "bento.yaml").write_text(
        f"name: mlstack\nversion: v1\nlabels:\n  sources: {sources}\n"
    )


def test_an_export_is_reused_only_while_the_bento_holds_the_same_code(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path)
    _bento_labelled(settings, "c0de1")
    exported = settings.state_dir / "deploy" / "mlstack-v1-c0de1.bento"
    exported.parent.mkdir(parents=True)
    exported.write_bytes(b"the archive of the first build")
    assert export_bento(settings, "mlstack:v1") == exported

    _bento_labelled(settings, "c0de2")  # rebuilt with other code, same tag
    with pytest.raises(DeployError) as error:  # exported anew: bentoml export of this fake fails
        export_bento(settings, "mlstack:v1")
    assert "bentoml" in error.value.cause


RELEASE_NAME = """
- hosts: localhost
  gather_facts: false
  vars_files: [{defaults}, {vars}]
  tasks:
    - ansible.builtin.debug:
        msg: "release={{{{ mlstack_api_release }}}}"
"""


@pytest.mark.parametrize(
    ("extra", "release"),
    [
        ({"mlstack_api_bento_tag": "mlstack:v4"}, "mlstack-v4"),
        (
            {
                "mlstack_api_bento_tag": "mlstack:v4",
                "mlstack_api_bento_sources": "c0de1",
            },
            "mlstack-v4-c0de1",
        ),
    ],
)
def test_the_release_on_the_hosts_is_named_after_the_tag_and_the_code(
    tmp_path: Path, extra: dict[str, str], release: str
) -> None:
    """Evaluated by ansible-playbook itself, with the role's own defaults and vars files."""
    role = PLAYBOOKS / "roles" / "mlstack_api"
    playbook = tmp_path / "name.yml"
    playbook.write_text(
        RELEASE_NAME.format(defaults=role / "defaults/main.yml", vars=role / "vars/main.yml")
    )
    done = subprocess.run(
        [tool("ansible-playbook"), "-i", "localhost,", "-c", "local", str(playbook),
         "--extra-vars", json.dumps(extra)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert f'"msg": "release={release}"' in done.stdout

"""Deploy a Bento to servers with Ansible: export it, then run `ansible-playbook` as a process.

The playbooks live in the repository's `ansible/` folder and take everything from the inventory
and a few extra variables (the exported archive, its tag, the wheelhouse when the hosts are
offline), so `ansible-playbook ansible/deploy.yml -i INVENTORY -e ...` does the same without
mlstack. Ansible's own output goes straight to the terminal.
"""

from __future__ import annotations

import json
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

from mlstack_core.bento_code import built_from
from mlstack_core.processes import console_script as tool
from mlstack_core.settings import Settings
from mlstack_deploy.champion import champion_bento
from mlstack_deploy.errors import DeployError

PLAYBOOKS = Path(__file__).resolve().parents[4] / "ansible"


def bento_sources(settings: Settings, tag: str) -> str:
    """The Bento's `sources` label, a digest of its code ("" for a Bento built without it).

    `mlstack:v<N>` names the model version, and a Bento rebuilt with new code keeps it: the
    exported archive and the release on the hosts carry this too, so neither is reused.
    """
    return built_from(settings, tag) or ""


def export_bento(settings: Settings, tag: str) -> Path:
    """`bentoml export` of `tag` into the state folder, reused while the Bento holds the same
    code."""
    name, _, version = tag.partition(":")
    sources = bento_sources(settings, tag)
    archive = (
        settings.state_dir / "deploy" / f"{name}-{version}{'-' if sources else ''}{sources}.bento"
    )
    if archive.is_file():
        return archive
    archive.parent.mkdir(parents=True, exist_ok=True)
    partial = archive.with_suffix(".partial.bento")
    if not Path(tool("bentoml")).exists():
        raise DeployError(
            "bentoml is not installed next to mlstack", "run `uv sync --all-packages`"
        )
    done = subprocess.run(
        [tool("bentoml"), "export", tag, str(partial)],
        env=settings.child_env({"BENTOML_HOME": str(settings.bentoml_home)}),
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        lines = (done.stderr or done.stdout).strip().splitlines() or ["no output"]
        raise DeployError(
            f"bentoml export {tag} failed: {lines[-1]}",
            f"build it first (`uv run invoke build`); Bentos live in {settings.bentoml_home}",
        )
    partial.rename(archive)
    return archive


def wheelhouse_archive(settings: Settings, wheels: Path) -> Path:
    """One tar of a wheelhouse folder (a single file copies to a host far faster than many)."""
    if not any(wheels.glob("*.whl")):
        raise DeployError(
            f"no wheels in {wheels}", "make one with `uv run invoke wheelhouse --bento TAG`"
        )
    archive = settings.state_dir / "deploy" / f"wheelhouse-{wheels.name}.tar"
    if archive.is_file():
        return archive
    archive.parent.mkdir(parents=True, exist_ok=True)
    partial = archive.with_suffix(".partial")
    with tarfile.open(partial, "w") as tar:
        for wheel in sorted(wheels.iterdir()):
            tar.add(wheel, arcname=wheel.name)
    partial.rename(archive)
    return archive


@dataclass(frozen=True)
class Playbook:
    """One `ansible-playbook` run over an inventory."""

    name: str
    inventory: Path
    limit: str | None = None

    def run(self, extra_vars: dict[str, object] | None = None) -> None:
        if not self.inventory.exists():
            raise DeployError(
                f"no Ansible inventory at {self.inventory}",
                f"copy {PLAYBOOKS / 'inventories' / 'example'} and put your hosts in it",
            )
        with tempfile.NamedTemporaryFile("w", suffix=".json", prefix="mlstack-vars-") as extra:
            json.dump(extra_vars or {}, extra)
            extra.flush()
            command = [
                tool("ansible-playbook"),
                str(PLAYBOOKS / self.name),
                "--inventory",
                str(self.inventory.resolve()),
                "--extra-vars",
                f"@{extra.name}",
                *(["--limit", self.limit] if self.limit else []),
            ]
            # Run from the playbooks' folder so Ansible reads its ansible.cfg there.
            code = subprocess.run(command, cwd=PLAYBOOKS, check=False).returncode
        if code != 0:
            raise DeployError(
                f"ansible-playbook {self.name} failed (exit {code})",
                "the failed task above names the host and the cause; a host whose new release "
                "did not get ready is back on the release it ran before",
            )


def _uv_requirement() -> str:
    """uv at the version locked for this workspace: it installs the venvs on the hosts."""
    from mlstack_deploy.wheelhouse import installed_pins

    return next((pin for pin in installed_pins() if pin.startswith("uv==")), "uv")


def deploy(
    settings: Settings,
    inventory: Path,
    *,
    limit: str | None = None,
    offline: bool = False,
    bento: str | None = None,
    wheelhouse: Path | None = None,
) -> str:
    """Roll `bento` (default: the champion's) out to the inventory; returns the tag deployed.

    The dashboard hosts get the dashboard at the versions locked in uv.lock; every host gets
    uv, which installs the release venvs.
    """
    from mlstack_deploy.dashboard_bundle import dashboard_bundle

    tag = bento or champion_bento(settings)
    dashboard = dashboard_bundle(settings, PLAYBOOKS.parent)
    uv = _uv_requirement()
    extra: dict[str, object] = {
        "mlstack_api_bento_tag": tag,
        "mlstack_api_bento_archive": str(export_bento(settings, tag)),
        "mlstack_api_bento_sources": bento_sources(settings, tag),
        "mlstack_dashboard_bundle_archive": str(dashboard.archive),
        "mlstack_common_uv_requirement": uv,
    }
    if offline:  # otherwise the inventory's mlstack_offline decides
        from mlstack_deploy.wheelhouse import bento_wheelhouse, build_wheelhouse

        wheels = wheelhouse or bento_wheelhouse(settings, tag).path
        extra["mlstack_offline"] = True
        extra["mlstack_api_wheelhouse_archive"] = str(wheelhouse_archive(settings, wheels))
        for name, requirements in (
            ("mlstack_dashboard_wheelhouse_archive", dashboard.requirements),
            ("mlstack_common_uv_wheelhouse_archive", [uv]),
        ):
            house = build_wheelhouse(settings, requirements).path
            extra[name] = str(wheelhouse_archive(settings, house))
    Playbook("deploy.yml", inventory, limit).run(extra)
    return tag


def rollback(inventory: Path, *, limit: str | None = None) -> None:
    """Switch every API host back to the release it ran before the last deploy."""
    Playbook("rollback.yml", inventory, limit).run()

"""Test hosts that behave like VMs: systemd-nspawn machines in network namespaces, over SSH.

Each host boots a real systemd as PID 1 from an overlay over one cached debootstrap'd Debian
root and has a network namespace of its own. The hosts and this machine meet on one private
subnet, 10.200.60.0/24: a bridge that lives in a namespace of its own (`mlsa-net`, the
"switch"), one veth from each host to it and one from this machine (10.200.60.1). No route, no
forwarding: nothing but this machine and the hosts reach that subnet, and this machine's own
network settings do not change. Each host runs sshd on its address.
Ansible reaches them exactly as it reaches servers. Every namespace, veth and mount is named
`mlsa-…`; teardown stops each machine by its recorded PID and removes what was created.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from mlstack_core.settings import Settings

SUITE = "bookworm"
# What the hosts need: systemd and sshd for Ansible, python3-venv for the release venvs,
# python3-apt for the package module, nginx for the load balancer (disabled until a role
# enables it: the hosts have no route to a package mirror).
ROOT_PACKAGES = (
    "systemd",
    "systemd-sysv",
    "dbus",
    "openssh-server",
    "python3",
    "python3-venv",
    "python3-apt",
    "nginx",
    "ca-certificates",
    "iproute2",
)
HOST_TOOLS = {
    "debootstrap": "debootstrap",
    "systemd-nspawn": "systemd-container",
    "ssh": "openssh-client",
    "ssh-keygen": "openssh-client",
    "ip": "iproute2",
    "openssl": "openssl",
}
PREFIX = "mlsa-"
SWITCH = f"{PREFIX}net"
SUBNET = "10.200.60"
GATEWAY = f"{SUBNET}.1"
# The same cache folder as the images and wheelhouses (MLSTACK_CACHE_DIR moves all of them).
CACHE = Settings().cache_root / "vm-root"
BOOT_SECONDS = 60


def _run(*command: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, check=check)


def ensure_host_tools() -> None:
    """Install the Debian packages the hosts need on this machine, when missing."""
    missing = sorted({pkg for tool, pkg in HOST_TOOLS.items() if shutil.which(tool) is None})
    if not missing:
        return
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", *missing]):
        subprocess.run(command, check=True, env=env, capture_output=True)


def _mirror() -> str:
    """The Debian mirror this machine's apt uses (read at run time, never written down)."""
    for source in sorted(Path("/etc/apt/sources.list.d").glob("*.sources")):
        for line in source.read_text().splitlines():
            if line.startswith("URIs:") and "security" not in line:
                return line.split(":", 1)[1].strip()
    for line in Path("/etc/apt/sources.list").read_text().splitlines():
        if line.startswith("deb ") and "security" not in line:
            return line.split()[1]
    pytest.fail("no Debian mirror configured for apt on this machine")


def debian_root() -> Path:
    """The shared host root, built once with debootstrap and cached by its package list."""
    key = hashlib.sha256(" ".join((SUITE, *ROOT_PACKAGES)).encode()).hexdigest()[:16]
    root = CACHE / key
    if (root / "etc" / "os-release").exists():
        return root
    CACHE.mkdir(parents=True, exist_ok=True)
    building = Path(tempfile.mkdtemp(prefix=f"{key}.", dir=CACHE))
    subprocess.run(
        [
            "debootstrap",
            "--variant=minbase",
            f"--include={','.join(ROOT_PACKAGES)}",
            SUITE,
            str(building),
            _mirror(),
        ],
        check=True,
        capture_output=True,
    )
    # nginx starts only where the load balancer role enables it; apt caches are not needed.
    _run("chroot", str(building), "systemctl", "disable", "nginx")
    for cache in ("var/cache/apt/archives", "var/lib/apt/lists"):
        for entry in (building / cache).glob("*.deb"):
            entry.unlink()
    building.rename(root)
    return root


@dataclass
class VmHost:
    """One booted machine: its name, address, and how to stop it."""

    name: str
    address: str
    nspawn: subprocess.Popen[bytes]
    merged: Path

    @property
    def netns(self) -> str:
        return f"{PREFIX}{self.name}"

    def ssh(self, command: str, key: Path) -> subprocess.CompletedProcess[str]:
        """Run `command` on the host as root (for assertions, not for deploying)."""
        return subprocess.run(
            ["ssh", *ssh_options(key), f"root@{self.address}", command],
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
        )


def ssh_options(key: Path) -> list[str]:
    return [
        "-i",
        str(key),
        "-o",
        "StrictHostKeyChecking=no",
        "-o",
        "UserKnownHostsFile=/dev/null",
        "-o",
        "LogLevel=ERROR",
        "-o",
        "BatchMode=yes",
    ]


def _cleanup_network(name: str) -> None:
    """Remove a host's namespace (its veth goes with it; left by an interrupted run too)."""
    _run("ip", "netns", "del", f"{PREFIX}{name}", check=False)


def start_switch() -> None:
    """The bridge namespace and this machine's leg into it (10.200.60.1/24)."""
    stop_switch()
    _run("ip", "netns", "add", SWITCH)
    _run("ip", "-n", SWITCH, "link", "add", "br0", "type", "bridge")
    _run("ip", "-n", SWITCH, "link", "set", "br0", "up")
    _run("ip", "link", "add", SWITCH, "type", "veth", "peer", "name", "uplink", "netns", SWITCH)
    _run("ip", "-n", SWITCH, "link", "set", "uplink", "master", "br0", "up")
    _run("ip", "addr", "add", f"{GATEWAY}/24", "dev", SWITCH)
    _run("ip", "link", "set", SWITCH, "up")


def stop_switch() -> None:
    _run("ip", "link", "del", SWITCH, check=False)
    _run("ip", "netns", "del", SWITCH, check=False)


def _prepare_root(merged: Path, name: str, address: str, public_key: str) -> None:
    """Per-host files, written into the host's overlay before it boots."""
    ssh_dir = merged / "root" / ".ssh"
    ssh_dir.mkdir(mode=0o700, exist_ok=True)
    (ssh_dir / "authorized_keys").write_text(public_key)
    (ssh_dir / "authorized_keys").chmod(0o600)
    for old in (merged / "etc" / "ssh").glob("ssh_host_*"):
        old.unlink()
    _run("chroot", str(merged), "ssh-keygen", "-A")
    (merged / "etc" / "ssh" / "sshd_config.d" / "mlsa.conf").write_text(
        f"ListenAddress {address}\nPermitRootLogin prohibit-password\nUseDNS no\n"
    )
    (merged / "etc" / "hostname").write_text(f"{name}\n")
    (merged / "etc" / "hosts").write_text(f"127.0.0.1 localhost\n{address} {name}\n")
    _run("chroot", str(merged), "systemctl", "enable", "ssh")


def _wait_for_ssh(host: VmHost, key: Path) -> None:
    deadline = time.monotonic() + BOOT_SECONDS
    while True:
        if host.nspawn.poll() is not None:
            pytest.fail(f"test host {host.name} exited while booting")
        with socket.socket() as probe:
            probe.settimeout(1)
            ready = probe.connect_ex((host.address, 22)) == 0
        if ready and host.ssh("true", key).returncode == 0:
            return
        if time.monotonic() > deadline:
            pytest.fail(f"test host {host.name} did not answer SSH in {BOOT_SECONDS} s")
        time.sleep(0.3)


def boot_host(root: Path, workdir: Path, name: str, number: int, public_key: str) -> VmHost:
    """Network namespace wired to the switch, overlay root, then systemd-nspawn --boot."""
    netns, address = f"{PREFIX}{name}", f"{SUBNET}.{number}"
    _cleanup_network(name)
    _run("ip", "netns", "add", netns)
    _run("ip", "-n", netns, "link", "set", "lo", "up")
    _run("ip", "-n", SWITCH, "link", "add", netns, "type", "veth", "peer", "name", "eth0")
    _run("ip", "-n", SWITCH, "link", "set", "eth0", "netns", netns)
    _run("ip", "-n", SWITCH, "link", "set", netns, "master", "br0", "up")
    _run("ip", "-n", netns, "addr", "add", f"{address}/24", "dev", "eth0")
    _run("ip", "-n", netns, "link", "set", "eth0", "up")
    layers = workdir / name
    upper, work, merged = layers / "upper", layers / "work", layers / "root"
    for folder in (upper, work, merged):
        folder.mkdir(parents=True)
    _run(
        "mount",
        "-t",
        "overlay",
        netns,
        "-o",
        f"lowerdir={root},upperdir={upper},workdir={work}",
        str(merged),
    )
    _prepare_root(merged, name, address, public_key)
    log = (layers / "console.log").open("wb")
    nspawn = subprocess.Popen(
        [
            "systemd-nspawn",
            "-D",
            str(merged),
            "--boot",
            "--register=no",
            "--keep-unit",
            f"--network-namespace-path=/run/netns/{netns}",
            f"--machine={netns}",
        ],
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    return VmHost(name, address, nspawn, merged)


def stop_host(host: VmHost) -> None:
    """A clean poweroff (SIGTERM to nspawn), then unmount and remove the namespace."""
    if host.nspawn.poll() is None:
        host.nspawn.send_signal(signal.SIGTERM)
        try:
            host.nspawn.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(host.nspawn.pid, signal.SIGKILL)
            host.nspawn.wait(timeout=10)
    _run("umount", str(host.merged), check=False)
    _cleanup_network(host.name)


@dataclass
class VmFleet:
    """The booted hosts and the key that logs into them."""

    hosts: dict[str, VmHost]
    key: Path

    def ssh(self, name: str, command: str) -> subprocess.CompletedProcess[str]:
        return self.hosts[name].ssh(command, self.key)


@contextlib.contextmanager
def vm_fleet(names: dict[str, int], workdir: Path) -> Iterator[VmFleet]:
    """Boot the named hosts (name → last byte of its 10.200.60.x address); stop them after."""
    ensure_host_tools()
    root = debian_root()
    workdir.mkdir(parents=True, exist_ok=True)
    key = workdir / "id_ed25519"
    _run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key))
    public_key = (workdir / "id_ed25519.pub").read_text()
    hosts: dict[str, VmHost] = {}
    try:
        start_switch()
        for name, number in names.items():
            hosts[name] = boot_host(root, workdir, name, number, public_key)
        fleet = VmFleet(hosts, key)
        for host in hosts.values():
            _wait_for_ssh(host, key)
        yield fleet
    finally:
        for host in hosts.values():
            stop_host(host)
        for name in names:
            _cleanup_network(name)
        stop_switch()

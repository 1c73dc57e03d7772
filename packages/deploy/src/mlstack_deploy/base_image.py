"""The offline base image: a Debian root file system made with debootstrap, imported into Docker.

Air-gapped sites (and machines that reach no image registry) cannot pull `python:3.11-slim`.
This image stands in for it: Debian 12 (Python 3.11) with what BentoML's generated Dockerfile
installs with apt already installed and no apt source left (so its `apt-get update` and
`apt-get install` succeed offline), uv, and `/etc/uv/uv.toml` saying `no-index = true` (uv
then installs only from the wheelhouse given as `UV_FIND_LINKS`, a build argument every image
built on this one declares through `ONBUILD ARG`). The root file system is made once and kept
as a tarball under `<cache>/base/`, keyed by what went into it; importing it takes seconds.
Other roots (the tests' database stand-in) are made and cached the same way (`cached_rootfs`).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

from mlstack_core.settings import Settings
from mlstack_deploy.errors import DeployError
from mlstack_deploy.steps import run_checked

SUITE = "bookworm"
# What BentoML's Dockerfile apt-installs, plus the Python its `uv venv --python 3.11` finds.
PACKAGES = ("python3", "ca-certificates", "gnupg2", "bash", "build-essential", "git", "curl")
APT_SOURCES = (Path("/etc/apt/sources.list.d/debian.sources"), Path("/etc/apt/sources.list"))
UV_CONFIG = "no-index = true\n"
UNSAFE_IO = "etc/dpkg/dpkg.cfg.d/mlstack-unsafe-io"
IMPORT_CHANGES = (
    "ENV LANG=C.UTF-8",
    "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "ONBUILD ARG UV_FIND_LINKS",
    'CMD ["bash"]',
)


def debian_mirror(sources: tuple[Path, ...] = APT_SOURCES) -> str:
    """The Debian mirror this machine's apt uses (never written into the repository)."""
    for path in sources:
        if not path.is_file():
            continue
        text = path.read_text()
        deb822 = re.search(r"^URIs:\s*(\S+)", text, flags=re.MULTILINE)
        one_line = re.search(r"^deb\s+(?:\[[^]]*\]\s+)?(\S+)\s+" + SUITE, text, flags=re.MULTILINE)
        found = deb822 or one_line
        if found:
            return found.group(1)
    raise DeployError(
        "no Debian mirror found in this machine's apt sources",
        f"the offline base image is made with debootstrap from a Debian {SUITE} mirror: "
        "configure apt, or load a base image made elsewhere",
    )


def uv_binary() -> Path:
    """The uv executable copied into images: this environment's own first (a uv on PATH may
    be a version manager's shell shim, which cannot run inside an image)."""
    beside = Path(sys.executable).parent / "uv"
    found = str(beside) if beside.is_file() else shutil.which("uv")
    if found is None:
        raise DeployError("uv is not on PATH", "run through `uv run invoke ...`")
    return Path(found).resolve()


def base_key(uv: Path) -> str:
    uv_version = run_checked([str(uv), "--version"], "uv --version").strip()
    text = "\n".join([SUITE, *PACKAGES, uv_version, UV_CONFIG, *IMPORT_CHANGES])
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def base_image_name() -> str:
    return f"mlstack-base:{SUITE}-{base_key(uv_binary())}"


@contextlib.contextmanager
def _exclusive(target: Path) -> Iterator[None]:
    """One maker of a cached file at a time (threads and processes); the others wait for it."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.with_suffix(".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _pack(root: Path, tarball: Path) -> None:
    partial = tarball.with_suffix(".partial")
    run_checked(["tar", "-C", str(root), "-cf", str(partial), "."], "packing the root file system")
    partial.rename(tarball)


def cached_rootfs(tarball: Path, packages: tuple[str, ...], finish: Callable[[Path], None]) -> Path:
    """A debootstrap'd root with `packages`, then `finish(root)`, packed as `tarball` once."""
    with _exclusive(tarball):
        if tarball.is_file():
            return tarball
        with tempfile.TemporaryDirectory(prefix="mlstack-rootfs-", dir=tarball.parent) as tmp:
            root = Path(tmp) / "root"
            debootstrap(root, packages)
            finish(root)
            _pack(root, tarball)
    return tarball


def rootfs_tarball(settings: Settings) -> Path:
    """The base root file system as a tarball, made with debootstrap when not cached."""
    uv = uv_binary()
    tarball = settings.cache_root / "base" / f"{SUITE}-{base_key(uv)}.tar"
    return cached_rootfs(tarball, PACKAGES, lambda root: _prepare(root, uv))


def _unmount_below(root: Path) -> None:
    """Unmount what debootstrap left mounted in `root` (/proc, /sys) before it is deleted."""
    mounts = Path("/proc/mounts").read_text().splitlines()
    inside = [line.split()[1] for line in mounts if line.split()[1].startswith(f"{root}/")]
    for point in sorted(inside, reverse=True):
        subprocess.run(["umount", "-l", point], check=False)


def debootstrap(root: Path, packages: tuple[str, ...]) -> None:
    """A minimal Debian root file system in `root` with `packages` installed (needs root).

    dpkg inside runs with force-unsafe-io (no fsync per file; a half-made root is thrown away
    anyway): measured 7 % faster on a loaded machine.
    """
    unsafe_io = root / UNSAFE_IO
    unsafe_io.parent.mkdir(parents=True)
    unsafe_io.write_text("force-unsafe-io\n")
    try:
        run_checked(
            [
                "debootstrap",
                "--variant=minbase",
                f"--include={','.join(packages)}",
                SUITE,
                str(root),
                debian_mirror(),
            ],
            "debootstrap",
        )
    finally:
        _unmount_below(root)
        unsafe_io.unlink(missing_ok=True)


def _no_apt_source(root: Path) -> None:
    """No apt source or package lists left: apt works offline on what is installed."""
    for leftover in ("etc/apt/sources.list", "var/cache/apt/archives", "var/lib/apt/lists"):
        target = root / leftover
        if target.is_dir():
            shutil.rmtree(target)
            target.mkdir()
        else:
            target.unlink(missing_ok=True)
    (root / "var/lib/apt/lists/partial").mkdir(parents=True, exist_ok=True)
    (root / "var/cache/apt/archives/partial").mkdir(parents=True, exist_ok=True)


def _prepare(root: Path, uv: Path) -> None:
    """No apt source, and uv with its no-index config."""
    _no_apt_source(root)
    shutil.copy2(uv, root / "usr/local/bin/uv")
    (root / "etc/uv").mkdir(exist_ok=True)
    (root / "etc/uv/uv.toml").write_text(UV_CONFIG)


def image_exists(docker: str, name: str) -> bool:
    done = subprocess.run(
        [docker, "image", "inspect", name], capture_output=True, check=False, timeout=60
    )
    return done.returncode == 0


def ensure_base_image(settings: Settings, docker: str, tags: tuple[str, ...] = ()) -> str:
    """Import the base image into the Docker engine once; tag it also as each of `tags`."""
    name = base_image_name()
    if not image_exists(docker, name):
        tarball = rootfs_tarball(settings)
        changes = [arg for change in IMPORT_CHANGES for arg in ("--change", change)]
        run_checked(
            [docker, "import", *changes, str(tarball), name], "docker import of the base image"
        )
    for tag in tags:
        run_checked([docker, "tag", name, tag], f"docker tag {name} {tag}")
    return name

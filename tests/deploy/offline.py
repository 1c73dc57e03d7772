"""What an offline build needs, made once where the Debian mirror and the index are reachable.

The builds themselves run inside the engine's network namespace, which reaches nothing, as on
an air-gapped site: the base root file system, the postgres stand-in's and the wheelhouses (of
the Bento and of the stack's images) are made here first, side by side, and cached under
`~/.cache/mlstack/` so a rerun makes none of them again.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from mlstack_core.settings import Settings
from mlstack_deploy.base_image import rootfs_tarball
from tests.deploy.champion import run_tool, state_env
from tests.deploy.docker_engine import install_missing
from tests.deploy.standins import postgres_tarball


@pytest.fixture(scope="session")
def offline_inputs(request: pytest.FixtureRequest) -> Path:
    """The state folder of `bento_home`, with every offline input in the cache. The two roots
    are debootstrapped side by side while `bento_home` trains and builds."""
    install_missing()
    began = time.perf_counter()
    with ThreadPoolExecutor(max_workers=2) as pool:
        roots = [pool.submit(make, Settings()) for make in (rootfs_tarball, postgres_tarball)]
        bento_home: Path = request.getfixturevalue("bento_home")
        run_tool("mlstack-containers", "wheelhouse", "--stack", env=state_env(bento_home))
        for root in roots:
            root.result()
    print(f"offline inputs ready in {time.perf_counter() - began:.1f} s")
    return bento_home

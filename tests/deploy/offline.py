"""What an offline build needs, made once where the Debian mirror and the index are reachable.

The builds themselves run inside the engine's network namespace, which reaches nothing, as on
an air-gapped site: the base root file system, the postgres stand-in and the wheelhouses (of
the Bento and of the stack's images) are made here first, in parallel, and cached under
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
def offline_inputs(bento_home: Path) -> Path:
    """The state folder of `bento_home`, with every offline input in the cache."""
    install_missing()
    settings = Settings(home=bento_home)
    began = time.perf_counter()
    with ThreadPoolExecutor(max_workers=3) as pool:
        jobs = [
            pool.submit(rootfs_tarball, settings),
            pool.submit(postgres_tarball, settings),
            pool.submit(
                run_tool, "mlstack-containers", "wheelhouse", "--stack", env=state_env(bento_home)
            ),
        ]
        for job in jobs:
            job.result()
    print(f"offline inputs ready in {time.perf_counter() - began:.1f} s")
    return bento_home

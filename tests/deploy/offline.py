"""What an offline build needs, made once where the Debian mirror and the index are reachable.

The builds themselves run inside the engine's network namespace, which reaches nothing, as on
an air-gapped site: the base root file system (then the postgres stand-in's, made from it) and
the wheelhouses (of the Bento and of the stack's images) are made here first, side by side,
and cached under `~/.cache/mlstack/` so a rerun makes none of them again.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from mlstack_core.settings import Settings
from tests.deploy.champion import run_tool, state_env
from tests.deploy.docker_engine import install_missing
from tests.deploy.standins import postgres_tarball


@pytest.fixture(scope="session")
def offline_inputs(request: pytest.FixtureRequest) -> Path:
    """The state folder of `bento_home`, with every offline input in the cache. The roots are
    made while `bento_home` trains and builds (debootstrap waits on the disk, training on CPU)."""
    install_missing()
    began = time.perf_counter()
    with ThreadPoolExecutor(max_workers=1) as pool:
        roots = pool.submit(postgres_tarball, Settings())  # makes the base root first
        bento_home: Path = request.getfixturevalue("bento_home")
        run_tool("mlstack-containers", "wheelhouse", "--stack", env=state_env(bento_home))
        roots.result()
    print(f"offline inputs ready in {time.perf_counter() - began:.1f} s")
    return bento_home

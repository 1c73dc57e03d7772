"""Fixtures of the deployment tests (containers, clusters, VMs), registered from their modules.

The deploy session runs them on two pytest-xdist workers (`-n 2 --dist loadfile`): each file
runs in one worker, and the files that share the session's Docker engine and Bento run in the
same one, so the container tests and the Ansible tests run side by side.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.deploy.champion import bento_home
from tests.deploy.docker_engine import docker_engine
from tests.deploy.offline import offline_inputs

__all__ = ["bento_home", "docker_engine", "offline_inputs"]

# The files whose tests use `docker_engine` or `bento_home` (one dockerd per data root).
SHARED_ENGINE_FILES = frozenset({"test_compose.py", "test_containers.py", "test_wheelhouse.py"})


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """`--dist loadfile`, with the files sharing the engine scheduled as one."""
    from xdist.scheduler import LoadFileScheduling

    class SharedEngineScheduling(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            file = nodeid.split("::", 1)[0]
            return "docker-engine" if Path(file).name in SHARED_ENGINE_FILES else file

    return SharedEngineScheduling(config, log)

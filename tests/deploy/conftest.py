"""Fixtures of the deployment tests (containers, clusters, VMs), registered from their modules."""

from tests.deploy.champion import bento_home
from tests.deploy.docker_engine import docker_engine
from tests.deploy.offline import offline_inputs

__all__ = ["bento_home", "docker_engine", "offline_inputs"]

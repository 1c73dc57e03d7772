"""Fixtures of the deployment tests (containers, clusters, VMs), registered from their modules."""

from tests.deploy.champion import bento_home

__all__ = ["bento_home"]

"""Errors of the roads off this machine: images, wheelhouses, compose, manifests."""

from __future__ import annotations

from mlstack_core.errors import MlstackError


class DeployError(MlstackError):
    """A build or deployment step failed for a reason the user can fix."""

    exit_code = 4

"""The champion's Bento: what `containerize`, `compose-up` and `deploy` ship by default."""

from __future__ import annotations

from mlstack_core.artifacts import BENTO_NAME
from mlstack_core.settings import Settings


def champion_bento(settings: Settings) -> str:
    """The tag of the champion's Bento, `mlstack:v<registry version>`."""
    from mlstack_core.registry import ModelRegistry

    return f"{BENTO_NAME}:v{ModelRegistry(settings).require_champion().version}"

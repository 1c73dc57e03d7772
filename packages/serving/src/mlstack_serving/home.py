"""Point BentoML at the state folder's BentoML home, in this process and its children.

BentoML reads BENTOML_HOME once and caches its stores; tests and the CLI switch homes at run
time, so the cached stores are replaced too.
"""

from __future__ import annotations

import os
from pathlib import Path


def use_bentoml_home(path: Path) -> Path:
    """Make `path` the BentoML home for this process and for the processes it starts."""
    from bentoml._internal.bento import BentoStore
    from bentoml._internal.configuration.containers import BentoMLContainer
    from bentoml._internal.models import ModelStore

    path = path.resolve()
    for folder in ("bentos", "models", "envs", "tmp"):
        (path / folder).mkdir(parents=True, exist_ok=True)
    os.environ["BENTOML_HOME"] = str(path)
    BentoMLContainer.bentoml_home.set(str(path))
    BentoMLContainer.model_store.set(ModelStore(str(path / "models")))
    BentoMLContainer.bento_store.set(BentoStore(str(path / "bentos")))
    BentoMLContainer.tmp_bento_store.set(BentoStore(str(path / "tmp")))
    return path

"""A new local registry starts as a copy of an empty one, made once per MLflow version.

MLflow creates a new SQLite store by replaying every Alembic migration since its first schema,
which takes seconds on each fresh state folder (a cold `invoke up`, every tutorial, every test
that starts from nothing). The result depends only on the MLflow version, so it is made once
under the cache folder, keyed by that version, and copied. MLflow then finds its tables at the
head revision and only adds its Default experiment, as it does on any new store.
"""

from __future__ import annotations

import shutil
import tempfile
from importlib.metadata import version
from pathlib import Path

from sqlalchemy import create_engine
from sqlalchemy.engine import make_url

from mlstack_core.settings import Settings


def _template(settings: Settings) -> Path:
    """The empty registry of the installed MLflow, made when missing (atomically)."""
    path = settings.cache_root / "mlflow-registry" / f"mlflow-{version('mlflow')}.db"
    if path.is_file():
        return path
    from mlflow.store.db.utils import _initialize_tables

    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=path.parent) as tmp:
        made = Path(tmp) / path.name
        engine = create_engine(f"sqlite:///{made}")
        try:
            _initialize_tables(engine)  # type: ignore[no-untyped-call]  # MLflow's own migrations
        finally:
            engine.dispose()
        made.replace(path)
    return path


def prepare_local_registry(settings: Settings) -> None:
    """Before MLflow opens a SQLite registry that does not exist yet: copy the template there."""
    uri = settings.mlflow_tracking_uri
    if not uri.startswith("sqlite:"):
        return
    settings.ensure_state_dir()
    database = make_url(uri).database
    if not database or database == ":memory:" or Path(database).exists():
        return
    target = Path(database)
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=target.parent, delete=False) as partial:
        shutil.copyfile(_template(settings), partial.name)
    Path(partial.name).replace(target)  # never a half-copied registry, even with two starters

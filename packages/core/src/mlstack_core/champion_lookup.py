"""The champion's version number from a database registry, without importing MLflow.

`invoke up` needs only this number to start the API on an existing Bento, and importing MLflow
costs seconds of a start that should take a few. MLflow keeps aliases in its own table
(`registered_model_aliases`, since MLflow 2.3); a test checks this reading against
`MlflowClient` after promotions and rollbacks, so a schema change in an MLflow upgrade fails
there first. Everything else about the registry goes through `mlstack_core.registry`.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from mlstack_core.registry import CHAMPION
from mlstack_core.settings import Settings

ALIAS_TABLE = "registered_model_aliases"


class RegistryNotReadableError(Exception):
    """The registry is not a database this module can read (ask MLflow instead)."""


def champion_version_from_db(settings: Settings) -> int | None:
    """The champion's version, or None when there is none (or no registry database yet).

    Raises RegistryNotReadableError for a tracking server or a database that cannot be opened here.
    """
    uri = settings.mlflow_tracking_uri
    try:
        url = make_url(uri)
    except SQLAlchemyError:
        raise RegistryNotReadableError(uri) from None
    if url.get_backend_name() == "sqlite":
        if not url.database or not Path(url.database).is_file():
            return None
    elif url.get_backend_name() != "postgresql":
        raise RegistryNotReadableError(uri)
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            if not inspect(conn).has_table(ALIAS_TABLE):
                return None
            found = conn.execute(
                text(f"SELECT version FROM {ALIAS_TABLE} WHERE name = :name AND alias = :alias"),  # noqa: S608 (a constant)
                {"name": settings.model_name, "alias": CHAMPION},
            ).scalar()
    except SQLAlchemyError as exc:
        raise RegistryNotReadableError(str(exc)) from None
    finally:
        engine.dispose()
    return int(found) if found is not None else None

"""How compose-up tells a container that will never become healthy from one still starting."""

from __future__ import annotations

from mlstack_deploy.compose import ContainerState, permanent_cause

MLFLOW_REFUSED = (
    "2026/11/29 09:41:02 WARNING mlflow.store.db.utils: SQLAlchemy engine could not be created."
    " The following exception is caught.\n"
    '(psycopg.OperationalError) connection failed: connection to server at "172.18.0.2", port'
    ' 5432 failed: FATAL:  password authentication failed for user "mlstack"\n'
    "Operation will be retried in 0.7 seconds\n"
)


def test_a_refused_password_is_a_cause_no_retry_fixes() -> None:
    found = permanent_cause(MLFLOW_REFUSED)
    assert found is not None
    line, hint = found
    assert line == 'FATAL:  password authentication failed for user "mlstack"'
    assert "POSTGRES_PASSWORD" in hint
    assert "compose-down --volumes" in hint


def test_a_missing_database_is_a_cause_no_retry_fixes() -> None:
    found = permanent_cause('psycopg.OperationalError: FATAL:  database "mlflow" does not exist')
    assert found is not None
    assert found[0] == 'FATAL:  database "mlflow" does not exist'


def test_a_server_still_starting_has_no_cause() -> None:
    starting = "INFO:     Started server process [7]\nINFO:     Waiting for application startup.\n"
    assert permanent_cause(starting) is None


def test_a_restart_or_a_stop_is_a_crash_and_starting_is_not() -> None:
    assert ContainerState("running", "starting", 1).crashed
    assert ContainerState("exited", "", 0).crashed
    assert ContainerState("running", "unhealthy", 0).crashed
    assert not ContainerState("running", "starting", 0).crashed
    assert ContainerState("running", "healthy", 0).healthy
    assert ContainerState("running", "", 0).healthy

"""Errors a user can cause: each carries a one-line cause and a hint on what to do next.

Entry points (CLIs, the API) turn these into clean messages and exit codes; any other
exception is a bug and keeps its traceback.
"""

from __future__ import annotations


class MlstackError(Exception):
    """A problem the user can fix: `cause` says what is wrong, `hint` what to do."""

    exit_code = 1

    def __init__(self, cause: str, hint: str = "") -> None:
        super().__init__(cause)
        self.cause = cause
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.cause} ({self.hint})" if self.hint else self.cause


class ConfigError(MlstackError):
    """Settings that cannot work together (e.g. production without a database URL)."""

    exit_code = 2


class DataError(MlstackError):
    """Input data that breaks the data contract or cannot be read."""

    exit_code = 2


class ModelNotFoundError(MlstackError):
    """The registry has no model (or no version, or no alias) where one was expected."""

    exit_code = 3


class RegistryError(MlstackError):
    """The registry refused an operation (unknown version, nothing to roll back to)."""

    exit_code = 2


class ServiceError(MlstackError):
    """A service could not start or could not be reached."""

    exit_code = 4


class StoreUnavailableError(ServiceError):
    """The prediction store cannot be written now (disk full, database down, locked)."""


class RegistryUnreachableError(MlstackError):
    """The MLflow tracking server does not answer (wrong URL, down, not in this network)."""

    exit_code = 2

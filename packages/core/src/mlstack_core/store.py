"""The prediction store: every acknowledged prediction and every piece of feedback, in SQL.

Serving writes one transaction per request batch and answers only after it committed, so a
200 means the predictions are on disk. Monitoring reads aggregates with SQL. SQLite (WAL) is
the local default; PostgreSQL is the production target; the URL comes from settings.

Rollups (schema v3): the same transaction that writes predictions (or feedback) adds them to
per-minute totals (traffic per model version, counts per label, live quality) and per-hour
latency histograms, so a monitoring page reads a few thousand rollup rows for a day however
many predictions it holds. They are built from the raw rows when a store is migrated to v3.
"""

from __future__ import annotations

import math
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    JSON,
    Connection,
    DateTime,
    Engine,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    create_engine,
    delete,
    event,
    func,
    insert,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, IntegrityError, OperationalError
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from mlstack_core.errors import ConfigError, StoreUnavailableError

SCHEMA_VERSION = 3
MINUTE = 60
HOUR = 3600
LATENCY_BINS_PER_MS = 10
CONNECT_TIMEOUT_S = 5


class Base(DeclarativeBase):
    pass


class SchemaVersion(Base):
    __tablename__ = "mlstack_schema"

    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    applied_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Prediction(Base):
    __tablename__ = "predictions"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    model_version: Mapped[str] = mapped_column(String(32), index=True)
    inputs: Mapped[dict[str, Any]] = mapped_column(JSON)
    prediction: Mapped[str] = mapped_column(String(256))
    prediction_value: Mapped[float | None] = mapped_column(Float, nullable=True)
    probabilities: Mapped[dict[str, float] | None] = mapped_column(JSON, nullable=True)
    latency_ms: Mapped[float] = mapped_column(Float)

    # Covering index for monitoring (schema v2): the window aggregates and the feedback join
    # (which needs `id`) read only these columns, never the wide rows with their JSON inputs:
    # 10-20x faster at 1M rows, for about a third more disk.
    __table_args__ = (
        Index(
            "ix_predictions_monitoring_window",
            "created_at",
            "latency_ms",
            "model_version",
            "prediction",
            "prediction_value",
            "id",
        ),
    )


class Feedback(Base):
    __tablename__ = "feedback"

    prediction_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("predictions.id"), primary_key=True
    )
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    actual: Mapped[str] = mapped_column(String(256))
    actual_value: Mapped[float | None] = mapped_column(Float, nullable=True)


class Heartbeat(Base):
    """One row rewritten by `PredictionStore.probe`: proof that the store takes writes now."""

    __tablename__ = "mlstack_heartbeat"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


def display_url(url: str) -> str:
    """The store URL as it may be shown to a person: the password is masked."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return url


def _unavailable(exc: DBAPIError) -> StoreUnavailableError:
    """The database's own words for why a write failed (`database or disk is full`)."""
    reason = str(exc.orig).strip().splitlines()[0] if exc.orig is not None else str(exc)
    return StoreUnavailableError(
        f"prediction store unavailable: {reason}",
        "free space or bring the database back; requests succeed again without a restart",
    )


class TrafficRollup(Base):
    """Predictions per minute and model version: count, latency sum and max, first and last."""

    __tablename__ = "rollup_traffic"

    minute: Mapped[int] = mapped_column(Integer, primary_key=True)
    model_version: Mapped[str] = mapped_column(String(32), primary_key=True)
    n: Mapped[int] = mapped_column(Integer)
    latency_sum: Mapped[float] = mapped_column(Float)
    latency_max: Mapped[float] = mapped_column(Float)
    first_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class LabelRollup(Base):
    """Predictions per minute and predicted label."""

    __tablename__ = "rollup_labels"

    minute: Mapped[int] = mapped_column(Integer, primary_key=True)
    label: Mapped[str] = mapped_column(String(256), primary_key=True)
    n: Mapped[int] = mapped_column(Integer)


class LatencyRollup(Base):
    """Latency histogram per hour, in bins of 1/LATENCY_BINS_PER_MS ms."""

    __tablename__ = "rollup_latency"

    hour: Mapped[int] = mapped_column(Integer, primary_key=True)
    bin: Mapped[int] = mapped_column(Integer, primary_key=True)
    n: Mapped[int] = mapped_column(Integer)
    latency_sum: Mapped[float] = mapped_column(Float)


class QualityRollup(Base):
    """Ground truth per minute of prediction time: labelled, correct, absolute error."""

    __tablename__ = "rollup_quality"

    minute: Mapped[int] = mapped_column(Integer, primary_key=True)
    labelled: Mapped[int] = mapped_column(Integer)
    correct: Mapped[int] = mapped_column(Integer)
    abs_error_sum: Mapped[float] = mapped_column(Float)
    valued: Mapped[int] = mapped_column(Integer)


def epoch_floor(at: datetime, width: int) -> int:
    """Start of the `width`-second bucket holding `at` (naive datetimes are UTC), in epoch s."""
    aware = at if at.tzinfo else at.replace(tzinfo=UTC)
    return math.floor(aware.timestamp()) // width * width


def latency_bin(latency_ms: float) -> int:
    return math.floor(latency_ms * LATENCY_BINS_PER_MS)


def _plus(old: Any, new: Any) -> Any:
    return old + new


class _Rollups:
    """Rollup increments of a batch of rows, added to the tables with one upsert per table."""

    def __init__(self) -> None:
        self.traffic: dict[tuple[int, str], list[Any]] = {}
        self.labels: dict[tuple[int, str], int] = defaultdict(int)
        self.latency: dict[tuple[int, int], list[Any]] = {}
        self.quality: dict[int, list[Any]] = {}

    def add_prediction(
        self, created_at: datetime, version: str, label: str, latency_ms: float
    ) -> None:
        minute = epoch_floor(created_at, MINUTE)
        row = self.traffic.get((minute, version))
        if row is None:
            self.traffic[(minute, version)] = [1, latency_ms, latency_ms, created_at, created_at]
        else:
            row[0] += 1
            row[1] += latency_ms
            row[2] = max(row[2], latency_ms)
            row[3] = min(row[3], created_at)
            row[4] = max(row[4], created_at)
        self.labels[(minute, label)] += 1
        cell = self.latency.setdefault(
            (epoch_floor(created_at, HOUR), latency_bin(latency_ms)), [0, 0.0]
        )
        cell[0] += 1
        cell[1] += latency_ms

    def add_feedback(
        self,
        created_at: datetime,
        prediction: tuple[str, float | None],
        actual: tuple[str, float | None],
        sign: int = 1,
    ) -> None:
        """Count (sign 1) or take back (sign -1) one piece of ground truth."""
        cell = self.quality.setdefault(epoch_floor(created_at, MINUTE), [0, 0, 0.0, 0])
        cell[0] += sign
        cell[1] += sign * int(prediction[0] == actual[0])
        if prediction[1] is not None and actual[1] is not None:
            cell[2] += sign * abs(prediction[1] - actual[1])
            cell[3] += sign

    def write(self, conn: Connection) -> None:
        greatest, least = (
            (func.max, func.min) if conn.dialect.name == "sqlite" else (func.greatest, func.least)
        )
        _upsert(
            conn,
            TrafficRollup,
            [
                {
                    "minute": m,
                    "model_version": v,
                    "n": r[0],
                    "latency_sum": r[1],
                    "latency_max": r[2],
                    "first_at": r[3],
                    "last_at": r[4],
                }
                for (m, v), r in self.traffic.items()
            ],
            {
                "n": _plus,
                "latency_sum": _plus,
                "latency_max": greatest,
                "first_at": least,
                "last_at": greatest,
            },
        )
        _upsert(
            conn,
            LabelRollup,
            [{"minute": m, "label": label, "n": n} for (m, label), n in self.labels.items()],
            {"n": _plus},
        )
        _upsert(
            conn,
            LatencyRollup,
            [
                {"hour": h, "bin": b, "n": c[0], "latency_sum": c[1]}
                for (h, b), c in self.latency.items()
            ],
            {"n": _plus, "latency_sum": _plus},
        )
        _upsert(
            conn,
            QualityRollup,
            [
                {
                    "minute": m,
                    "labelled": c[0],
                    "correct": c[1],
                    "abs_error_sum": c[2],
                    "valued": c[3],
                }
                for m, c in self.quality.items()
            ],
            {"labelled": _plus, "correct": _plus, "abs_error_sum": _plus, "valued": _plus},
        )


_UPSERTS: dict[tuple[str, str], Any] = {}


def _upsert(
    conn: Connection, table: type[Base], rows: list[dict[str, Any]], merge: dict[str, Any]
) -> None:
    """Insert `rows`, or merge each into the row with the same key (`merge[column](old, new)`).

    One statement per dialect and table, executed for all rows: SQLAlchemy then compiles it
    once per process, where a multi-row VALUES clause would be compiled again for every batch
    (measured: compiling was two thirds of a one-row write).
    """
    if not rows:
        return
    key = (conn.dialect.name, table.__tablename__)
    statement = _UPSERTS.get(key)
    if statement is None:
        dialect = sqlite if conn.dialect.name == "sqlite" else postgresql
        columns = table.__table__.c
        insert_ = dialect.insert(table)
        statement = _UPSERTS[key] = insert_.on_conflict_do_update(
            index_elements=[c.name for c in columns if c.primary_key],
            set_={name: how(columns[name], insert_.excluded[name]) for name, how in merge.items()},
        )
    conn.execute(statement, rows)


ROLLUPS = (TrafficRollup, LabelRollup, LatencyRollup, QualityRollup)


def _rebuild_rollups(conn: Connection) -> None:
    rollups = _Rollups()
    for created_at, version, label, latency in conn.execute(
        select(
            Prediction.created_at,
            func.coalesce(Prediction.model_version, ""),
            Prediction.prediction,
            Prediction.latency_ms,
        )
    ):
        rollups.add_prediction(created_at, version, label, latency)
    labelled = conn.execute(
        select(
            Prediction.created_at,
            Prediction.prediction,
            Prediction.prediction_value,
            Feedback.actual,
            Feedback.actual_value,
        ).join(Feedback, Feedback.prediction_id == Prediction.id)
    )
    for created_at, prediction, value, actual, actual_value in labelled:
        rollups.add_feedback(created_at, (prediction, value), (actual, actual_value))
    for table in ROLLUPS:
        conn.execute(delete(table))
    rollups.write(conn)


@dataclass(frozen=True)
class PredictionRecord:
    """One prediction as serving produced it, ready to be written."""

    model_version: str
    inputs: dict[str, Any]
    prediction: str
    latency_ms: float
    prediction_value: float | None = None
    probabilities: dict[str, float] | None = None
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def make_engine(url: str) -> Engine:
    """An engine for the store URL; SQLite gets WAL, a busy timeout and its folder created."""
    if url.startswith("sqlite:///"):
        path = url.removeprefix("sqlite:///")
        if path and path != ":memory:":
            try:
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreUnavailableError(
                    f"prediction store unavailable: {exc.strerror}: {Path(path).parent}",
                    "point MLSTACK_PREDICTION_STORE_URL at a folder that can be created",
                ) from exc
        engine = create_engine(url, connect_args={"timeout": 10})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    try:
        return create_engine(
            url,
            pool_pre_ping=True,  # a connection lost while idle is replaced, not used
            pool_size=5,
            max_overflow=10,
            connect_args={"connect_timeout": CONNECT_TIMEOUT_S} if "postgresql" in url else {},
        )
    except Exception as exc:  # unknown dialect or missing driver
        raise ConfigError(
            f"prediction store URL cannot be used: {exc}",
            "set MLSTACK_PREDICTION_STORE_URL to sqlite:///PATH or postgresql+psycopg://…",
        ) from None


class PredictionStore:
    """Write predictions and feedback; the schema is created and versioned by this class."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)

    def migrate(self) -> int:
        """Bring the schema to SCHEMA_VERSION and record it; safe to call at every start.

        v1: the tables. v2: the monitoring index (created on an existing v1 store too).
        v3: the rollup tables, built from the rows already there.
        """
        try:
            return self._migrate()
        except DBAPIError as exc:
            raise _unavailable(exc) from exc

    def _migrate(self) -> int:
        Base.metadata.create_all(self.engine)
        with self.engine.begin() as conn:
            current = conn.execute(select(func.max(SchemaVersion.version))).scalar()
            if current is not None and current > SCHEMA_VERSION:
                raise ConfigError(
                    f"prediction store schema v{current} is newer than this code "
                    f"(v{SCHEMA_VERSION})",
                    "upgrade mlstack or point MLSTACK_PREDICTION_STORE_URL at another database",
                )
            if current == SCHEMA_VERSION:
                return SCHEMA_VERSION
            for index in Base.metadata.tables[Prediction.__tablename__].indexes:
                index.create(conn, checkfirst=True)
            _rebuild_rollups(conn)
            conn.execute(
                insert(SchemaVersion).values(version=SCHEMA_VERSION, applied_at=datetime.now(UTC))
            )
        return SCHEMA_VERSION

    def rebuild_rollups(self) -> None:
        """Recompute every rollup from the raw rows (after rows were loaded around `write`)."""
        with self.engine.begin() as conn:
            _rebuild_rollups(conn)

    def write(self, records: Sequence[PredictionRecord]) -> None:
        """Insert a batch and its rollup increments in one transaction; returns once committed."""
        if not records:
            return
        rows = [
            {
                "id": r.id,
                "created_at": r.created_at,
                "model_version": r.model_version,
                "inputs": r.inputs,
                "prediction": r.prediction,
                "prediction_value": r.prediction_value,
                "probabilities": r.probabilities,
                "latency_ms": r.latency_ms,
            }
            for r in records
        ]
        rollups = _Rollups()
        for r in records:
            rollups.add_prediction(r.created_at, r.model_version, r.prediction, r.latency_ms)
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(Prediction), rows)
                rollups.write(conn)
        except DBAPIError as exc:
            raise _unavailable(exc) from exc

    def probe(self) -> None:
        """Commit a one-row write; raises StoreUnavailableError while the store refuses writes."""
        try:
            with self.engine.begin() as conn:
                conn.execute(delete(Heartbeat))
                conn.execute(insert(Heartbeat).values(id=1, at=datetime.now(UTC)))
        except DBAPIError as exc:
            raise _unavailable(exc) from exc

    def add_feedback(self, prediction_id: str, actual: str, actual_value: float | None) -> bool:
        """Record ground truth; False when the prediction id is unknown. Last write wins."""
        try:
            return self._add_feedback(prediction_id, actual, actual_value)
        except DBAPIError as exc:
            raise _unavailable(exc) from exc

    def _add_feedback(self, prediction_id: str, actual: str, actual_value: float | None) -> bool:
        with self.engine.begin() as conn:
            found = conn.execute(
                select(
                    Prediction.created_at, Prediction.prediction, Prediction.prediction_value
                ).where(Prediction.id == prediction_id)
            ).first()
            if found is None:
                return False
            created_at, prediction, value = found
            earlier = conn.execute(
                select(Feedback.actual, Feedback.actual_value).where(
                    Feedback.prediction_id == prediction_id
                )
            ).first()
            conn.execute(delete(Feedback).where(Feedback.prediction_id == prediction_id))
            try:
                conn.execute(
                    insert(Feedback).values(
                        prediction_id=prediction_id,
                        received_at=datetime.now(UTC),
                        actual=actual,
                        actual_value=actual_value,
                    )
                )
            except IntegrityError:
                return False
            rollups = _Rollups()
            if earlier is not None:
                rollups.add_feedback(
                    created_at, (prediction, value), (earlier[0], earlier[1]), sign=-1
                )
            rollups.add_feedback(created_at, (prediction, value), (actual, actual_value))
            rollups.write(conn)
        return True

    def count(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(Prediction)).scalar_one())

    def ids(self) -> set[str]:
        with self.engine.connect() as conn:
            return {row[0] for row in conn.execute(select(Prediction.id))}

    def ping(self) -> bool:
        try:
            with self.engine.connect() as conn:
                conn.execute(select(1))
        except OperationalError:
            return False
        return True

    def dispose(self) -> None:
        self.engine.dispose()

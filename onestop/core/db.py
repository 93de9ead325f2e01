"""Declarative base, column types and the per-app database handle (engine + session)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, cast

from flask import Flask, current_app, g
from sqlalchemy import (
    JSON,
    CursorResult,
    DateTime,
    Engine,
    MetaData,
    Result,
    String,
    create_engine,
    event,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

from onestop.core.events import BUS_KEY, bus_of

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware timestamp on both databases.

    PostgreSQL stores ``timestamptz``; SQLite has no time zones, so values are converted to UTC
    before they are written and come back as aware UTC datetimes. A naive datetime is a bug
    (every business date depends on the zone), so it is refused instead of guessed.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a timezone-aware column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


JSONType = JSON().with_variant(JSONB(), "postgresql")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime(), str: String(), dict[str, Any]: JSONType}


def make_engine(url: str, *, echo: bool = False, busy_timeout_ms: int = 30_000) -> Engine:
    """Create an engine with the settings each database needs.

    SQLite: WAL (readers never block the writer), ``synchronous=FULL`` (a committed dossier
    survives a power cut), a busy timeout, foreign keys on, and transactions begun by SQLAlchemy
    so that writers can ask for ``BEGIN IMMEDIATE`` (see :func:`write_session`).
    """
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    if url.startswith("sqlite"):
        engine = create_engine(url, echo=echo, connect_args={"timeout": busy_timeout_ms / 1000})
        _configure_sqlite(engine, busy_timeout_ms)
        return engine
    return create_engine(url, echo=echo, pool_pre_ping=True, pool_size=10, max_overflow=10)


def _configure_sqlite(engine: Engine, busy_timeout_ms: int) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, decide when a transaction begins (pysqlite's own
        # implicit BEGIN breaks SAVEPOINT and BEGIN IMMEDIATE).
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=FULL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # A write transaction takes the write lock up front: a deferred transaction that
        # read first and writes later fails with SQLITE_BUSY instead of waiting its turn.
        immediate = conn.get_execution_options().get("sqlite_immediate", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


class Database:
    """Engine and session per application; one session per application context."""

    def init_app(self, app: Flask) -> None:
        engine = make_engine(
            app.config["DATABASE_URL"],
            echo=app.config["DATABASE_ECHO"],
            busy_timeout_ms=app.config["SQLITE_BUSY_TIMEOUT_MS"],
        )
        app.extensions["onestop.db"] = _DbState(engine)
        app.teardown_appcontext(_close_session)

    @staticmethod
    def state(app: Flask | None = None) -> _DbState:
        state: _DbState = (app or current_app).extensions["onestop.db"]
        return state

    @property
    def engine(self) -> Engine:
        return self.state().engine

    @property
    def session(self) -> Session:
        if "db_session" not in g:
            # The session carries the application's event bus: services emit into it.
            g.db_session = self.state().sessionmaker(info={BUS_KEY: bus_of(current_app)})
        session: Session = g.db_session
        return session

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name


class _DbState:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.sessionmaker = sessionmaker(bind=engine, expire_on_commit=False)


def _close_session(_exc: BaseException | None) -> None:
    session = g.pop("db_session", None)
    if session is not None:
        session.close()


def begin_write(session: Session) -> None:
    """Start the session's transaction as a writer (``BEGIN IMMEDIATE`` on SQLite).

    Must be called before the first statement of a unit of work that will write; a no-op on
    PostgreSQL, whose row locks and conditional updates do the serialising.
    """
    if not session.in_transaction():
        session.connection(execution_options={"sqlite_immediate": True})


def end_read_transaction(session: Session) -> None:
    """End the reads done so far (authentication) before a unit of work writes, where needed.

    SQLite: a deferred read transaction holds a snapshot and cannot become the writer
    (``BEGIN IMMEDIATE`` must start the transaction), so it is rolled back. PostgreSQL runs at
    READ COMMITTED, where every statement reads afresh: the request carries on in the same
    transaction and connection, instead of paying a ROLLBACK, a pool checkout with its ping and
    a BEGIN again — three round trips on every authenticated request.
    """
    if session.in_transaction() and session.get_bind().dialect.name == "sqlite":
        session.rollback()


def utcnow() -> datetime:
    return datetime.now(UTC)


def rowcount(result: Result[Any]) -> int:
    """Rows matched by an UPDATE or DELETE (``Session.execute`` types its result generically)."""
    return cast(CursorResult[Any], result).rowcount

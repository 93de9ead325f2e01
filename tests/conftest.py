"""Fixtures: a migrated database per run, one outer transaction per test, app, client, clock.

Run on SQLite by default; set ONESTOP_TEST_DATABASE_URL to a PostgreSQL URL to run the same
suite there (the run creates and drops its own database).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Connection, Engine

from onestop import create_app
from onestop.core import clock, migrate
from onestop.core.db import Database, make_engine
from tests.dbutil import backend, fresh_database

# Argon2 at production cost takes ~50 ms a hash; tests use a cheap profile.
CHEAP_HASH = {"time_cost": 1, "memory_cost": 1024, "parallelism": 1}


def pytest_report_header() -> str:
    return f"onestop database backend: {backend()}"


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with fresh_database(tmp_path_factory.mktemp("db"), "suite") as url:
        engine = make_engine(url)
        migrate.upgrade(engine)
        engine.dispose()
        yield url


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[Engine]:
    eng = make_engine(database_url)
    yield eng
    eng.dispose()


@pytest.fixture
def connection(engine: Engine) -> Iterator[Connection]:
    """A connection inside a transaction that is rolled back after the test.

    Sessions join it with savepoints, so code under test may commit as it does in production.
    """
    conn = engine.connect()
    trans = conn.begin()
    yield conn
    trans.rollback()
    conn.close()


def make_test_app(database_url: str, **overrides: Any) -> Flask:
    config = {
        "TESTING": True,
        "SECRET_KEY": "test-secret-key-not-for-production",
        "DATABASE_URL": database_url,
        "PASSWORD_HASH_PROFILE": CHEAP_HASH,
        **overrides,
    }
    return create_app(config)


@pytest.fixture
def app(database_url: str, connection: Connection, tmp_path) -> Iterator[Flask]:
    app = make_test_app(
        database_url,
        STORAGE_DIR=str(tmp_path / "storage"),
        AUDIT_CHECKPOINT_FILE=str(tmp_path / "audit-checkpoints.jsonl"),
    )
    state = Database.state(app)
    state.engine.dispose()
    state.sessionmaker.configure(bind=connection, join_transaction_mode="create_savepoint")
    with app.app_context():
        yield app


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def session(app: Flask):
    from onestop.extensions import db

    return db.session


class FrozenClock:
    """A clock that stands still until moved; services receive its time as ``now=``."""

    def __init__(self, start: datetime) -> None:
        self.current = start

    def __call__(self) -> datetime:
        return self.current

    def set(self, when: datetime) -> None:
        assert when.tzinfo is not None
        self.current = when

    def advance(self, **kwargs: float) -> None:
        self.current += timedelta(**kwargs)


@pytest.fixture
def frozen_clock() -> Iterator[FrozenClock]:
    fc = FrozenClock(datetime(2026, 3, 5, 7, 30, tzinfo=UTC))  # 14:30 in Hà Nội, a Thursday
    previous = clock.set_source(fc)
    yield fc
    clock.set_source(previous)

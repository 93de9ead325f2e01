"""Migrations build the schema the models declare, on the database under test."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.exc import DBAPIError

from onestop.core import migrate
from onestop.core.db import make_engine
from onestop.models import metadata
from tests.dbutil import fresh_database


def test_empty_database_upgrades_to_head_and_matches_the_models(tmp_path):
    with fresh_database(tmp_path, "mig") as url:
        engine = make_engine(url)
        try:
            migrate.upgrade(engine)
            assert migrate.schema_differences(engine, metadata) == []
            migrate.downgrade(engine, "base")
            assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
            migrate.upgrade(engine)
            assert migrate.schema_differences(engine, metadata) == []
        finally:
            engine.dispose()


def test_audit_table_refuses_update_and_delete(connection):
    connection.execute(
        text(
            "INSERT INTO audit_events (stream, seq, occurred_at, actor_role, action, data, "
            "prev_hash, hash) VALUES ('t:1', 1, CURRENT_TIMESTAMP, 'system', 'x', '{}', 'a', 'b')"
        )
    )
    for stmt in (
        "UPDATE audit_events SET action = 'y' WHERE stream = 't:1'",
        "DELETE FROM audit_events WHERE stream = 't:1'",
    ):
        nested = connection.begin_nested()
        with pytest.raises(DBAPIError, match="append-only"):
            connection.execute(text(stmt))
        nested.rollback()

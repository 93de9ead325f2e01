"""The audit chain detects an edited or removed event, even by someone who bypasses the API."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from onestop.core import audit
from onestop.core.audit import verify
from tests.factories import SEED_TIME


def _chain(session, n=3):
    for i in range(n):
        audit.record(
            session, actor=None, action="test.step", stream="test:1", now=SEED_TIME, data={"i": i}
        )
    session.flush()


def _bypass_triggers(session, sql: str) -> None:
    """What an attacker with database access could do: drop the guard, change history."""
    conn = session.connection()
    if conn.dialect.name == "postgresql":
        conn.execute(text("ALTER TABLE audit_events DISABLE TRIGGER USER"))
        conn.execute(text(sql))
        conn.execute(text("ALTER TABLE audit_events ENABLE TRIGGER USER"))
    else:
        conn.execute(text("DROP TRIGGER tr_audit_events_no_update"))
        conn.execute(text("DROP TRIGGER tr_audit_events_no_delete"))
        conn.execute(text(sql))


def test_intact_chain_verifies(session):
    _chain(session)
    assert list(verify(session)) == []


@pytest.mark.parametrize(
    ("sql", "problem"),
    [
        ("UPDATE audit_events SET reason = 'sửa' WHERE stream = 'test:1' AND seq = 2", "bị sửa"),
        ("DELETE FROM audit_events WHERE stream = 'test:1' AND seq = 2", "thiếu sự kiện số 2"),
    ],
)
def test_edited_or_removed_event_is_detected(session, sql, problem):
    _chain(session)
    _bypass_triggers(session, sql)
    found = list(verify(session))
    assert found and any(problem in p.problem for p in found)


def test_verify_command_reports_success(app, session):
    _chain(session)
    session.commit()
    result = app.test_cli_runner().invoke(args=["onestop", "audit", "verify"])
    assert result.exit_code == 0, result.output
    assert "Nhật ký toàn vẹn" in result.output

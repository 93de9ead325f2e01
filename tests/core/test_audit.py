"""The audit chain detects an edited, removed, forged or missing event, even by someone who
bypasses the API with the application's own database user (docs/security.md, "Audit trail")."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta

import pytest
from sqlalchemy import select, text

from onestop import create_app
from onestop.config import ConfigError
from onestop.core import audit
from onestop.core.audit import (
    GENESIS,
    AuditEvent,
    Head,
    parse_keys,
    read_checkpoints,
    verify,
    write_checkpoint,
)
from tests.factories import SEED_TIME

SQLITE_GUARDS = {
    "UPDATE": "CREATE TRIGGER tr_audit_events_no_update BEFORE UPDATE ON audit_events "
    "BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END",
    "DELETE": "CREATE TRIGGER tr_audit_events_no_delete BEFORE DELETE ON audit_events "
    "BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END",
}


def _chain(session, n=3, stream="test:1"):
    for i in range(n):
        audit.record(
            session, actor=None, action="test.step", stream=stream, now=SEED_TIME, data={"i": i}
        )
    session.flush()


def _bypass_triggers(session, sql: str, *, restore: bool = False) -> None:
    """What an attacker with database access could do: drop the guard, change history, and
    (``restore``) put the guard back so that nothing looks out of place."""
    conn = session.connection()
    if conn.dialect.name == "postgresql":
        conn.execute(text("ALTER TABLE audit_events DISABLE TRIGGER USER"))
        conn.execute(text(sql))
        conn.execute(text("ALTER TABLE audit_events ENABLE TRIGGER USER"))
    else:
        conn.execute(text("DROP TRIGGER tr_audit_events_no_update"))
        conn.execute(text("DROP TRIGGER tr_audit_events_no_delete"))
        conn.execute(text(sql))
        if restore:
            for ddl in SQLITE_GUARDS.values():
                conn.execute(text(ddl))
    session.expire_all()  # the rows changed behind the session's back


def _verify_cli(app, *args: str):
    return app.test_cli_runner().invoke(args=["onestop", "audit", "verify", *args])


def _legacy_row(session, stream: str, seq: int, prev: str) -> AuditEvent:
    """A row as the code before keyed chains wrote it: plain SHA-256, no key id."""
    ev = AuditEvent(
        stream=stream,
        seq=seq,
        occurred_at=SEED_TIME,
        actor_id=None,
        actor_role="system",
        agency_id=None,
        action="legacy.step",
        from_state=None,
        to_state=None,
        reason=None,
        request_id=None,
        data={"seq": seq},
        prev_hash=prev,
        key_id=None,
    )
    canonical = json.dumps(
        audit._hashed_fields(ev), sort_keys=True, ensure_ascii=False, separators=(",", ":")
    )
    ev.hash = hashlib.sha256((prev + canonical).encode()).hexdigest()
    session.add(ev)
    session.flush()
    return ev


def test_intact_chain_verifies(session):
    _chain(session)
    assert list(verify(session)) == []


def test_each_event_carries_the_id_of_the_key_that_signed_it(app, session):
    _chain(session, 1)
    ev = session.scalars(select(AuditEvent).where(AuditEvent.stream == "test:1")).one()
    assert ev.key_id == "dev"
    # The hash is a MAC: recomputing it without the key (what the code did before) differs.
    plain = audit._digest(ev.prev_hash, audit._hashed_fields(ev))
    assert plain != ev.hash


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
    result = _verify_cli(app)
    assert result.exit_code == 0, result.output
    assert "Nhật ký toàn vẹn" in result.output


def _append_forged(session, *, key_id: str | None, key: bytes | None) -> None:
    """Append an event to test:1 the way an attacker holding only the database would: read
    the head, hash the new event exactly as the code does, insert it."""
    head = session.scalars(
        select(AuditEvent).where(AuditEvent.stream == "test:1").order_by(AuditEvent.seq.desc())
    ).first()
    ev = AuditEvent(
        stream="test:1",
        seq=head.seq + 1,
        occurred_at=SEED_TIME + timedelta(hours=1),
        actor_id=None,
        actor_role="system",
        agency_id=None,
        action="test.forged",
        from_state=None,
        to_state=None,
        reason="không có thật",
        request_id=None,
        data={},
        prev_hash=head.hash,
        key_id=key_id,
    )
    ev.hash = audit._digest(head.hash, audit._hashed_fields(ev), key)
    session.add(ev)
    session.flush()


@pytest.mark.parametrize(
    ("key_id", "key", "problem"),
    [
        # Re-hashed as the code before keyed chains did (plain SHA-256, no key id).
        (None, None, "không có khóa sau sự kiện có khóa"),
        # Signed with the well-known development key while production runs a real one.
        ("dev", b"dev-only-not-secret-audit-key", "không có trong ONESTOP_AUDIT_KEYS"),
        # Claims the real key id, with a guessed key.
        ("p1", b"guessed", "giả mạo"),
    ],
)
def test_a_forged_rehashed_event_appended_to_a_stream_fails_verify(
    database_url, connection, tmp_path, key_id, key, problem
):
    from onestop.core.db import Database

    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "test-secret-key-not-for-production",
            "DATABASE_URL": database_url,
            "AUDIT_KEYS": "p1:" + "k" * 40,
        }
    )
    state = Database.state(app)
    state.engine.dispose()
    state.sessionmaker.configure(bind=connection, join_transaction_mode="create_savepoint")
    with app.app_context():
        from onestop.extensions import db

        _chain(db.session)
        _append_forged(db.session, key_id=key_id, key=key)
        db.session.commit()
        result = _verify_cli(app)
    assert result.exit_code == 1, result.output
    assert problem in result.output


@pytest.mark.parametrize("table", ["audit_events", "dossier_events"])
def test_a_dropped_or_disabled_trigger_fails_verify(app, session, table):
    _chain(session)
    conn = session.connection()
    if conn.dialect.name == "postgresql":
        conn.execute(text(f"ALTER TABLE {table} DISABLE TRIGGER tr_{table}_append_only"))
        expected = "đã bị tắt"
    else:
        conn.execute(text(f"DROP TRIGGER tr_{table}_no_delete"))
        expected = "đã bị xóa"
    session.commit()
    result = _verify_cli(app)
    assert result.exit_code == 1, result.output
    assert table in result.output and expected in result.output
    if conn.dialect.name == "postgresql":
        conn.execute(text(f"DROP TRIGGER tr_{table}_append_only ON {table}"))
        session.commit()
        result = _verify_cli(app)
        assert result.exit_code == 1 and "đã bị xóa" in result.output


def _checkpoint(app, path) -> None:
    result = app.test_cli_runner().invoke(
        args=["onestop", "audit", "checkpoint", "--file", str(path)]
    )
    assert result.exit_code == 0, result.output
    printed = json.loads(result.output.strip().splitlines()[-1])
    assert printed["mac"] and printed["total_events"] >= 1


def test_deleted_tail_events_fail_verify_against_a_checkpoint(app, session, tmp_path):
    _chain(session, 4)
    session.commit()
    cp = tmp_path / "checkpoints.jsonl"
    _checkpoint(app, cp)
    _bypass_triggers(
        session, "DELETE FROM audit_events WHERE stream = 'test:1' AND seq >= 3", restore=True
    )
    session.commit()
    assert _verify_cli(app).exit_code == 0  # the chain alone cannot tell: what is left links
    result = _verify_cli(app, "--against", str(cp))
    assert result.exit_code == 1, result.output
    assert "test:1" in result.output and "mất các sự kiện 3–4" in result.output


def test_a_whole_deleted_stream_fails_verify_against_a_checkpoint(app, session, tmp_path):
    _chain(session, 2, stream="test:1")
    _chain(session, 2, stream="test:2")
    session.commit()
    cp = tmp_path / "checkpoints.jsonl"
    _checkpoint(app, cp)
    _bypass_triggers(session, "DELETE FROM audit_events WHERE stream = 'test:2'", restore=True)
    session.commit()
    assert _verify_cli(app).exit_code == 0
    result = _verify_cli(app, "--against", str(cp))
    assert result.exit_code == 1, result.output
    assert "test:2" in result.output and "cả luồng đã bị xóa" in result.output


def test_a_rewritten_stream_differs_from_the_checkpoint(app, session, tmp_path):
    """Even rebuilt with a valid key (an insider who also holds it), the checkpoint written
    before still disagrees."""
    _chain(session, 2)
    session.commit()
    cp = tmp_path / "checkpoints.jsonl"
    _checkpoint(app, cp)
    _bypass_triggers(session, "DELETE FROM audit_events WHERE stream = 'test:1'", restore=True)
    audit.record(session, actor=None, action="test.other", stream="test:1", now=SEED_TIME)
    audit.record(session, actor=None, action="test.other", stream="test:1", now=SEED_TIME)
    session.commit()
    result = _verify_cli(app, "--against", str(cp))
    assert result.exit_code == 1 and "lịch sử bị viết lại" in result.output


def test_checkpoints_append_only_what_changed_and_fold_back(app, session, tmp_path):
    cp = tmp_path / "cp.jsonl"
    ring = audit.keyring_for()
    _chain(session, 2, stream="test:1")
    _chain(session, 1, stream="test:2")
    first = write_checkpoint(session, cp, now=SEED_TIME)
    assert set(first["streams"]) == {"test:1", "test:2"}
    _chain(session, 1, stream="test:2")
    second = write_checkpoint(session, cp, now=SEED_TIME)
    assert list(second["streams"]) == ["test:2"] and second["total_events"] == 4
    folded = read_checkpoints(cp, keyring=ring)
    assert folded.problems == [] and folded.lines == 2
    assert folded.heads["test:1"].seq == 2 and folded.heads["test:2"] == Head(
        2, audit.current_heads(session)["test:2"].hash
    )


def test_an_edited_checkpoint_file_is_reported(app, session, tmp_path):
    _chain(session, 2)
    session.commit()
    cp = tmp_path / "checkpoints.jsonl"
    _checkpoint(app, cp)
    # Someone lowers the recorded count to hide a deletion to come.
    entry = json.loads(cp.read_text())
    entry["streams"]["test:1"][0] = 1
    cp.write_text(json.dumps(entry) + "\n")
    result = _verify_cli(app, "--against", str(cp))
    assert result.exit_code == 1 and "mã xác thực không khớp" in result.output


def test_legacy_rows_still_verify_and_are_sealed_by_the_checkpoint(app, session, tmp_path):
    first = _legacy_row(session, "legacy:1", 1, GENESIS)
    _legacy_row(session, "legacy:1", 2, first.hash)
    session.commit()
    result = _verify_cli(app)
    assert result.exit_code == 0, result.output
    assert "1 luồng còn kết thúc bằng sự kiện cũ" in result.output

    cp = tmp_path / "checkpoints.jsonl"
    _checkpoint(app, cp)
    seal = session.scalars(
        select(AuditEvent).where(AuditEvent.stream == "legacy:1", AuditEvent.seq == 3)
    ).one()
    assert seal.action == "audit.sealed" and seal.key_id == "dev"
    result = _verify_cli(app, "--against", str(cp))
    assert result.exit_code == 0, result.output
    assert "sự kiện cũ" not in result.output

    # Once sealed, rewriting a legacy row (even re-hashed) breaks the link to the seal.
    _bypass_triggers(
        session,
        "UPDATE audit_events SET data = '{\"seq\": 9}' WHERE stream = 'legacy:1' AND seq = 2",
        restore=True,
    )
    row = session.scalars(
        select(AuditEvent).where(AuditEvent.stream == "legacy:1", AuditEvent.seq == 2)
    ).one()
    rehashed = audit._digest(row.prev_hash, audit._hashed_fields(row))
    _bypass_triggers(
        session,
        f"UPDATE audit_events SET hash = '{rehashed}' WHERE stream = 'legacy:1' AND seq = 2",
        restore=True,
    )
    session.commit()
    result = _verify_cli(app)
    assert result.exit_code == 1 and "legacy:1 #3" in result.output


def test_a_legacy_row_written_after_the_keys_is_refused(app, session):
    _chain(session, 1, stream="test:1")
    _legacy_row(session, "legacy:new", 1, GENESIS)  # a whole forged stream, old-style
    session.commit()
    result = _verify_cli(app)
    assert result.exit_code == 1 and "ghi sau khi đã bật khóa" in result.output


def test_keys_rotate_old_events_verify_while_their_key_is_kept(session):
    old = parse_keys("k1:" + "a" * 40)
    rotated = parse_keys("k2:" + "b" * 40 + ",k1:" + "a" * 40)
    audit.record(session, actor=None, action="t", stream="rot:1", now=SEED_TIME, keyring=old)
    ev = audit.record(
        session, actor=None, action="t", stream="rot:1", now=SEED_TIME, keyring=rotated
    )
    assert ev.key_id == "k2"
    assert list(verify(session, keyring=rotated)) == []
    dropped = parse_keys("k2:" + "b" * 40)
    problems = list(verify(session, keyring=dropped))
    assert [(p.seq, "k1" in p.problem) for p in problems] == [(1, True)]


def test_checkpoint_job_runs_from_the_scheduler(app, session, tmp_path):
    app.config["AUDIT_CHECKPOINT_FILE"] = str(tmp_path / "job.jsonl")
    _chain(session, 2)
    session.commit()
    result = app.test_cli_runner().invoke(
        args=["onestop", "scheduler", "run-job", "audit_checkpoint"]
    )
    assert result.exit_code == 0, result.output
    assert "done" in result.output
    folded = read_checkpoints(tmp_path / "job.jsonl", keyring=audit.keyring_for())
    assert folded.heads["test:1"].seq == 2


@pytest.mark.parametrize(
    ("keys", "message"),
    [
        (None, "ONESTOP_AUDIT_KEYS is not set"),
        ("dev:dev-only-not-secret-audit-key", "development key"),
        ("p1:short", "shorter than 32"),
        ("no-secret", "id:secret"),
    ],
)
def test_production_refuses_missing_development_or_weak_audit_keys(
    monkeypatch, tmp_path, keys, message
):
    monkeypatch.setenv("ONESTOP_ENV", "production")
    monkeypatch.setenv("ONESTOP_SECRET_KEY", "s" * 40)
    if keys is None:
        monkeypatch.delenv("ONESTOP_AUDIT_KEYS", raising=False)
    else:
        monkeypatch.setenv("ONESTOP_AUDIT_KEYS", keys)
    with pytest.raises(ConfigError, match=message):
        create_app({"DATABASE_URL": f"sqlite:///{tmp_path}/x.db"})


def test_sealing_goes_in_batches_and_ends(session):
    for n in range(3):
        _legacy_row(session, f"legacy:{n}", 1, GENESIS)
    sealed = [audit.seal_legacy(session, now=SEED_TIME, limit=2) for _ in range(3)]
    assert sealed == [2, 1, 0]
    assert list(verify(session)) == []


def test_a_defused_trigger_fails_verify(app, session):
    """The trigger is still there and enabled, but no longer refuses anything."""
    _chain(session)
    conn = session.connection()
    if conn.dialect.name == "postgresql":
        conn.execute(
            text(
                "CREATE OR REPLACE FUNCTION refuse_change_audit_events() RETURNS trigger "
                "LANGUAGE plpgsql AS $$ BEGIN RETURN OLD; END $$"
            )
        )
    else:
        conn.execute(text("DROP TRIGGER tr_audit_events_no_delete"))
        conn.execute(text(SQLITE_GUARDS["DELETE"].replace("BEGIN", "WHEN 0 BEGIN")))
    conn.execute(text("DELETE FROM audit_events WHERE stream = 'test:1' AND seq = 3"))
    session.commit()
    result = _verify_cli(app)
    assert result.exit_code == 1, result.output
    assert "đã bị định nghĩa lại" in result.output

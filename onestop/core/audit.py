"""The append-only audit trail: one event per change, chained per object with a keyed MAC.

Each object (a dossier, a user, a calendar...) has its own chain: event ``seq`` n stores the
hash of event n-1 of the same object, and its own hash is an HMAC-SHA256 over that link and
its fields, keyed by a secret from the environment (``ONESTOP_AUDIT_KEYS``) that the database
never holds. Whoever can write to the database can still insert, edit or delete rows, but
cannot make a row that verifies: ``flask onestop audit verify`` finds it. Deleting whole tail
events or whole streams leaves no broken link, so the heads of every stream (count and head
hash) are also written outside the database, periodically, as checkpoints (an append-only
file); ``audit verify --against FILE`` finds what went missing since. docs/security.md states
what this guarantees and what it does not.

Per-object chains need no global lock: concurrent writers on different objects never wait for
each other. Two writers on the same object are serialised per stream: on SQLite by
``BEGIN IMMEDIATE``, on PostgreSQL by a transaction-level advisory lock on the stream, since
many events (a login, a clerk reading a dossier) change no row of their object that would make
the second writer wait; the unique ``(stream, seq)`` is the last guard.
The database itself refuses UPDATE and DELETE on the table (triggers on both databases,
created by the migrations, and on PostgreSQL also by the service role's privileges), as
docs/security.md ("Audit trail") requires; ``verify`` reports a missing or disabled trigger.

Rows written before keys existed (``key_id`` NULL) are *legacy*: plain SHA-256, still
verified as such. Sealing (``audit checkpoint`` and the scheduled job) appends one keyed
``audit.sealed`` event to every stream that still ends on a legacy row, which anchors the
legacy rows under a MAC; a legacy row after a keyed one, or written after the first keyed row,
is refused as forged.
"""

from __future__ import annotations

import fcntl
import hashlib
import hmac
import json
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from flask import Flask, current_app
from sqlalchemy import (
    ForeignKey,
    Index,
    Integer,
    Select,
    String,
    UniqueConstraint,
    func,
    select,
    text,
)
from sqlalchemy.orm import Mapped, Session, mapped_column

from onestop.core.access import Principal
from onestop.core.db import Base
from onestop.core.scheduling import Job

GENESIS = "0" * 64

# Used only when ENV is development or TESTING is on; refused anywhere else (config.py), as the
# development SECRET_KEY is.
DEV_AUDIT_KEYS = "dev:dev-only-not-secret-audit-key"
KEY_ID_RE = re.compile(r"^[A-Za-z0-9_.-]{1,16}$")
MIN_KEY_LENGTH = 32

# Tables the service may only append to: the database refuses UPDATE, DELETE and TRUNCATE on
# them (triggers), and on PostgreSQL the service role is not granted those privileges
# (migrations/roles.sql). ``verify`` checks the triggers are there and enabled.
APPEND_ONLY_TABLES = ("audit_events", "dossier_events")


class AuditEvent(Base):
    __tablename__ = "audit_events"
    __table_args__ = (
        UniqueConstraint("stream", "seq"),
        Index("ix_audit_events_occurred_at", "occurred_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    stream: Mapped[str] = mapped_column(String(80))  # "<object type>:<object id>"
    seq: Mapped[int] = mapped_column(Integer)
    occurred_at: Mapped[datetime]
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    actor_role: Mapped[str] = mapped_column(String(20))
    agency_id: Mapped[int | None] = mapped_column(ForeignKey("agencies.id", ondelete="RESTRICT"))
    action: Mapped[str] = mapped_column(String(60))
    from_state: Mapped[str | None] = mapped_column(String(40))
    to_state: Mapped[str | None] = mapped_column(String(40))
    reason: Mapped[str | None] = mapped_column(String(2000))
    request_id: Mapped[str | None] = mapped_column(String(64))
    data: Mapped[dict[str, Any]]
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
    # The id of the key whose HMAC is ``hash``; NULL for legacy rows (plain SHA-256).
    key_id: Mapped[str | None] = mapped_column(String(16))


SYSTEM_ROLE = "system"
SEALED = "audit.sealed"
# Legacy streams sealed per scheduled run: the job is one unit of work, which on SQLite holds
# the write lock, so a database upgraded with many legacy streams is sealed over several runs
# (``audit checkpoint`` seals them all at once).
SEAL_BATCH = 2000


# ---- keys ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Keyring:
    """The audit keys by id; ``current`` signs new events, every key verifies."""

    current: str
    keys: Mapping[str, bytes]

    def key(self, key_id: str) -> bytes | None:
        return self.keys.get(key_id)


def parse_keys(raw: str) -> Keyring:
    """``"id:secret,id2:secret2"`` → a keyring; the first key signs, all verify (rotation:
    put the new key first and keep the old ones as long as their events must verify)."""
    keys: dict[str, bytes] = {}
    current = ""
    for part in re.split(r"[,\s]+", raw.strip()):
        if not part:
            continue
        key_id, sep, secret = part.partition(":")
        if not sep or not secret:
            raise ValueError("each key is written id:secret")
        if not KEY_ID_RE.match(key_id):
            raise ValueError(f"key id {key_id!r} must be 1–16 letters, digits, '.', '_' or '-'")
        if key_id in keys:
            raise ValueError(f"key id {key_id!r} appears twice")
        keys[key_id] = secret.encode()
        current = current or key_id
    if not keys:
        raise ValueError("no key given")
    return Keyring(current, keys)


def keyring_for(app: Flask | None = None) -> Keyring:
    """The application's keyring, parsed once from ``AUDIT_KEYS`` (validated at start-up)."""
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    ring = app.extensions.get("onestop.audit_keys")
    if ring is None:
        ring = app.extensions["onestop.audit_keys"] = parse_keys(app.config["AUDIT_KEYS"])
    return ring


def checkpoint_path(app: Flask | None = None) -> Path:
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    return Path(app.config["AUDIT_CHECKPOINT_FILE"])


# ---- hashing ------------------------------------------------------------------------------


def _canonical(fields: Mapping[str, Any]) -> bytes:
    return json.dumps(fields, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


def _digest(prev_hash: str, fields: dict[str, Any], key: bytes | None = None) -> str:
    message = prev_hash.encode() + _canonical(fields)
    if key is None:  # legacy rows, written before the chain was keyed
        return hashlib.sha256(message).hexdigest()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def _hashed_fields(ev: AuditEvent) -> dict[str, Any]:
    fields = {
        "stream": ev.stream,
        "seq": ev.seq,
        "occurred_at": ev.occurred_at.astimezone(UTC).isoformat(),
        "actor_id": ev.actor_id,
        "actor_role": ev.actor_role,
        "agency_id": ev.agency_id,
        "action": ev.action,
        "from_state": ev.from_state,
        "to_state": ev.to_state,
        "reason": ev.reason,
        "request_id": ev.request_id,
        "data": ev.data,
    }
    if ev.key_id is not None:  # legacy rows were hashed without it
        fields["key_id"] = ev.key_id
    return fields


def record(
    session: Session,
    *,
    actor: Principal | None,
    action: str,
    stream: str,
    now: datetime,
    agency_id: int | None = None,
    from_state: str | None = None,
    to_state: str | None = None,
    reason: str | None = None,
    data: dict[str, Any] | None = None,
    request_id: str | None = None,
    keyring: Keyring | None = None,
) -> AuditEvent:
    """Append one event to ``stream`` in the caller's transaction (it never commits)."""
    ring = keyring or keyring_for()
    if session.get_bind().dialect.name == "postgresql":
        # Held until commit: the next writer of this stream reads the last event only after
        # this one is committed (two logins of one account at once both read seq n otherwise,
        # and the second failed on the unique (stream, seq) with a 500).
        session.execute(select(func.pg_advisory_xact_lock(func.hashtext(stream))))
    last = session.execute(
        select(AuditEvent.seq, AuditEvent.hash)
        .where(AuditEvent.stream == stream)
        .order_by(AuditEvent.seq.desc())
        .limit(1)
    ).first()
    seq, prev = (last[0] + 1, last[1]) if last else (1, GENESIS)
    ev = AuditEvent(
        stream=stream,
        seq=seq,
        occurred_at=now,
        actor_id=actor.user_id if actor else None,
        actor_role=str(actor.role) if actor else SYSTEM_ROLE,
        agency_id=agency_id,
        action=action,
        from_state=from_state,
        to_state=to_state,
        reason=reason,
        request_id=request_id,
        data=data or {},
        prev_hash=prev,
        key_id=ring.current,
    )
    ev.hash = _digest(prev, _hashed_fields(ev), ring.keys[ring.current])
    session.add(ev)
    session.flush()
    return ev


# ---- verification -------------------------------------------------------------------------


@dataclass(frozen=True)
class ChainProblem:
    stream: str
    seq: int
    problem: str


@dataclass(frozen=True)
class Head:
    seq: int
    hash: str


@dataclass
class VerifyReport:
    events: int = 0
    streams: int = 0
    legacy_events: int = 0
    unsealed_streams: int = 0


def _squash(sql: str) -> str:
    return " ".join(sql.split())


def _expected_guards(dialect: str, table: str) -> dict[str, str]:
    """Each append-only trigger of ``table`` as the migrations create it, whitespace squashed:
    a trigger that exists but was redefined (a WHEN clause, fewer events, a function that no
    longer raises) is as good as dropped."""
    if dialect == "postgresql":
        call = f"EXECUTE FUNCTION refuse_change_{table}()"
        return {
            f"tr_{table}_append_only": f"CREATE TRIGGER tr_{table}_append_only BEFORE DELETE OR "
            f"UPDATE ON {table} FOR EACH ROW {call}",
            f"tr_{table}_no_truncate": f"CREATE TRIGGER tr_{table}_no_truncate BEFORE TRUNCATE "
            f"ON {table} FOR EACH STATEMENT {call}",
        }
    return {
        f"tr_{table}_no_{op.lower()}": f"CREATE TRIGGER tr_{table}_no_{op.lower()} BEFORE {op} "
        f"ON {table} BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"
        for op in ("UPDATE", "DELETE")
    }


def _guard_problems(session: Session) -> Iterator[ChainProblem]:
    """A dropped, disabled or redefined append-only trigger is tampering too (rows changed
    behind it leave no other trace when the change was re-hashed or is a deletion)."""
    conn = session.connection()
    dialect = conn.dialect.name
    found: dict[str, tuple[str, str, str]] = {}  # name -> (definition, enabled, function body)
    if dialect == "postgresql":
        schema = conn.execute(text("SELECT current_schema()")).scalar_one()
        for name, definition, enabled, body in conn.execute(
            text(
                "SELECT t.tgname, pg_get_triggerdef(t.oid), t.tgenabled, p.prosrc "
                "FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
                "JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = current_schema() "
                "JOIN pg_proc p ON p.oid = t.tgfoid WHERE NOT t.tgisinternal"
            )
        ):
            found[name] = (_squash(definition.replace(f"{schema}.", "")), enabled, _squash(body))
    else:
        for name, definition in conn.execute(
            text("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'")
        ):
            found[name] = (_squash(definition or ""), "O", "")
    for table in APPEND_ONLY_TABLES:
        body = (
            f"BEGIN RAISE EXCEPTION '{table} is append-only' "
            "USING ERRCODE = 'insufficient_privilege'; END"
        )
        for name, definition in _expected_guards(dialect, table).items():
            if name not in found:
                yield ChainProblem(table, 0, f"trigger {name} đã bị xóa")
                continue
            actual, enabled, actual_body = found[name]
            if enabled in ("D", "R"):  # disabled, or firing only in replica sessions
                yield ChainProblem(table, 0, f"trigger {name} đã bị tắt")
            elif actual != definition or (dialect == "postgresql" and actual_body != body):
                yield ChainProblem(table, 0, f"trigger {name} đã bị định nghĩa lại")


def verify(
    session: Session,
    *,
    keyring: Keyring | None = None,
    expected: Mapping[str, Head] | None = None,
    report: VerifyReport | None = None,
    batch: int = 5000,
) -> Iterator[ChainProblem]:
    """Walk every chain in order; yield each broken link (edited, removed, reordered or forged
    rows), each missing append-only trigger and, given the heads of a checkpoint
    (``expected``), every stream that lost its tail or vanished since."""
    ring = keyring or keyring_for()
    report = report if report is not None else VerifyReport()
    expected = expected or {}
    yield from _guard_problems(session)
    first_keyed = session.scalar(
        select(func.min(AuditEvent.id)).where(AuditEvent.key_id.is_not(None))
    )
    seen: set[str] = set()

    def end_of(stream: str, last_seq: int, last_keyed: bool) -> Iterator[ChainProblem]:
        if not last_keyed:
            report.unsealed_streams += 1
        want = expected.get(stream)
        if want is not None and last_seq < want.seq:
            yield ChainProblem(
                stream,
                want.seq,
                f"mất các sự kiện {last_seq + 1}–{want.seq} đã có trong điểm kiểm tra",
            )

    stmt = select(AuditEvent).order_by(AuditEvent.stream, AuditEvent.seq)
    stream: str | None = None
    expected_seq, prev, keyed_seen, last_seq = 1, GENESIS, False, 0
    for ev in session.scalars(stmt.execution_options(yield_per=batch)):
        if ev.stream != stream:
            if stream is not None:
                yield from end_of(stream, last_seq, keyed_seen)
            stream, expected_seq, prev, keyed_seen = ev.stream, 1, GENESIS, False
            seen.add(stream)
            report.streams += 1
        report.events += 1
        if ev.seq != expected_seq:
            yield ChainProblem(ev.stream, ev.seq, f"thiếu sự kiện số {expected_seq}")
        if ev.prev_hash != prev:
            yield ChainProblem(ev.stream, ev.seq, "liên kết băm với sự kiện trước không khớp")
        if ev.key_id is None:
            report.legacy_events += 1
            if keyed_seen:
                yield ChainProblem(
                    ev.stream, ev.seq, "sự kiện không có khóa sau sự kiện có khóa (giả mạo)"
                )
            elif first_keyed is not None and ev.id > first_keyed:
                yield ChainProblem(
                    ev.stream, ev.seq, "sự kiện không có khóa ghi sau khi đã bật khóa (giả mạo)"
                )
            if _digest(ev.prev_hash, _hashed_fields(ev)) != ev.hash:
                yield ChainProblem(ev.stream, ev.seq, "nội dung sự kiện đã bị sửa")
        else:
            keyed_seen = True
            key = ring.key(ev.key_id)
            if key is None:
                yield ChainProblem(
                    ev.stream, ev.seq, f"khóa {ev.key_id!r} không có trong ONESTOP_AUDIT_KEYS"
                )
            elif not hmac.compare_digest(_digest(ev.prev_hash, _hashed_fields(ev), key), ev.hash):
                yield ChainProblem(ev.stream, ev.seq, "nội dung sự kiện đã bị sửa hoặc giả mạo")
        want = expected.get(ev.stream)
        if want is not None and ev.seq == want.seq and ev.hash != want.hash:
            yield ChainProblem(ev.stream, ev.seq, "khác với điểm kiểm tra (lịch sử bị viết lại)")
        expected_seq, prev, last_seq = ev.seq + 1, ev.hash, ev.seq
    if stream is not None:
        yield from end_of(stream, last_seq, keyed_seen)
    for gone in sorted(set(expected) - seen):
        yield ChainProblem(gone, expected[gone].seq, "cả luồng đã bị xóa (có trong điểm kiểm tra)")


# ---- sealing and checkpoints --------------------------------------------------------------


def seal_legacy(
    session: Session, *, now: datetime, keyring: Keyring | None = None, limit: int | None = None
) -> int:
    """Append a keyed ``audit.sealed`` event to every stream whose head is a legacy row (at
    most ``limit`` of them), so those rows are anchored under a MAC. Returns the number of
    streams sealed; run again, it seals the rest, then nothing."""
    ring = keyring or keyring_for()
    heads = _heads_query().subquery()
    unsealed = session.scalars(
        select(AuditEvent.stream)
        .join(heads, (AuditEvent.stream == heads.c.stream) & (AuditEvent.seq == heads.c.seq))
        .where(AuditEvent.key_id.is_(None))
        .order_by(AuditEvent.stream)
        .limit(limit)
    ).all()
    for stream in unsealed:
        record(session, actor=None, action=SEALED, stream=stream, now=now, keyring=ring)
    return len(unsealed)


def _heads_query() -> Select[str, int]:
    return select(AuditEvent.stream, func.max(AuditEvent.seq).label("seq")).group_by(
        AuditEvent.stream
    )


def current_heads(session: Session) -> dict[str, Head]:
    heads = _heads_query().subquery()
    rows = session.execute(
        select(AuditEvent.stream, AuditEvent.seq, AuditEvent.hash).join(
            heads, (AuditEvent.stream == heads.c.stream) & (AuditEvent.seq == heads.c.seq)
        )
    ).all()
    return {r[0]: Head(r[1], r[2]) for r in rows}


def _mac_line(entry: dict[str, Any], key: bytes) -> str:
    return hmac.new(key, _canonical(entry), hashlib.sha256).hexdigest()


@dataclass
class Checkpoints:
    """What a checkpoint file says: the latest known head of every stream."""

    heads: dict[str, Head]
    lines: int
    problems: list[str]


def read_checkpoints(path: Path, *, keyring: Keyring) -> Checkpoints:
    """Fold the checkpoint file (each line lists the heads that changed since the line before)
    and check each line's MAC."""
    heads: dict[str, Head] = {}
    problems: list[str] = []
    lines = 0
    if not path.exists():
        return Checkpoints(heads, 0, [f"không có tệp điểm kiểm tra {path}"])
    with path.open(encoding="utf-8") as fh:
        for number, raw in enumerate(fh, start=1):
            if not raw.strip():
                continue
            try:
                entry = json.loads(raw)
                mac = entry.pop("mac")
                key = keyring.key(entry["key_id"])
                streams = entry["streams"]
            except (ValueError, KeyError, TypeError, AttributeError):
                problems.append(f"dòng {number}: không đọc được")
                continue
            if key is None:
                problems.append(f"dòng {number}: khóa {entry['key_id']!r} không rõ")
            elif not hmac.compare_digest(_mac_line(entry, key), str(mac)):
                problems.append(f"dòng {number}: mã xác thực không khớp (tệp bị sửa)")
                continue
            lines += 1
            for stream, (seq, head_hash) in streams.items():
                heads[stream] = Head(int(seq), str(head_hash))
    return Checkpoints(heads, lines, problems)


def write_checkpoint(
    session: Session, path: Path, *, now: datetime, keyring: Keyring | None = None
) -> dict[str, Any]:
    """Append one line to the checkpoint file: the head (count and hash) of every stream that
    changed since the file's last line, MACed with the current key. Returns the line.

    It writes nothing to the database, so it should read committed rows only (call it before
    any write of the unit of work): a line must never name an event that might roll back.
    The file is opened for appending only, locked against a second writer, and fsynced; it
    should live where the database user cannot write (another host, a log sink, WORM
    storage): docs/security.md.
    """
    ring = keyring or keyring_for()
    heads = current_heads(session)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
    with os.fdopen(fd, "a", encoding="utf-8") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        known = read_checkpoints(path, keyring=ring).heads
        changed = {s: [h.seq, h.hash] for s, h in sorted(heads.items()) if known.get(s) != h}
        entry: dict[str, Any] = {
            "v": 1,
            "at": now.astimezone(UTC).isoformat(),
            "key_id": ring.current,
            "total_streams": len(heads),
            "total_events": sum(h.seq for h in heads.values()),
            "streams": changed,
        }
        entry["mac"] = _mac_line(entry, ring.keys[ring.current])
        fh.write(json.dumps(entry, ensure_ascii=False, separators=(",", ":")) + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    return entry


def checkpoint_job(session: Session, *, now: datetime) -> str:
    """The scheduled job: checkpoint the committed heads, then seal legacy streams (the seals
    are in the next checkpoint). Safe to run twice: a second line lists no change."""
    entry = write_checkpoint(session, checkpoint_path(), now=now)
    sealed = seal_legacy(session, now=now, limit=SEAL_BATCH)
    return (
        f"checkpoint: {entry['total_streams']} streams, {entry['total_events']} events, "
        f"{len(entry['streams'])} changed; {sealed} legacy streams sealed"
    )


def _checkpoint_job(session: Session, now: datetime) -> str:
    return checkpoint_job(session, now=now)


# Collected by ``onestop.scheduler``. The interval is the window in which deleted tail events
# go unnoticed (docs/security.md, "Audit trail").
JOBS = [
    Job(
        "audit_checkpoint",
        timedelta(minutes=10),
        _checkpoint_job,
        "Ghi điểm kiểm tra nhật ký (đầu mỗi luồng) ra tệp ngoài cơ sở dữ liệu",
    ),
]

"""The append-only audit trail: one event per change, hash-chained per object.

Each object (a dossier, a user, a calendar...) has its own chain: event ``seq`` n stores the
hash of event n-1 of the same object, so an edited or removed row breaks the chain and
``flask onestop audit verify`` finds it. Per-object chains need no global lock: concurrent
writers on different objects never wait for each other. Two writers on the same object are
serialised per stream: on SQLite by ``BEGIN IMMEDIATE``, on PostgreSQL by a transaction-level
advisory lock on the stream, since many events (a login, a clerk reading a dossier) change no
row of their object that would make the second writer wait; the unique ``(stream, seq)`` is
the last guard.
The database itself refuses UPDATE and DELETE on the table (triggers on both databases, created
by the migration), as SECURITY.md decision 4 requires.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, UniqueConstraint, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from onestop.core.access import Principal
from onestop.core.db import Base

GENESIS = "0" * 64


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


SYSTEM_ROLE = "system"


def _digest(prev_hash: str, fields: dict[str, Any]) -> str:
    canonical = json.dumps(fields, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256((prev_hash + canonical).encode()).hexdigest()


def _hashed_fields(ev: AuditEvent) -> dict[str, Any]:
    return {
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
) -> AuditEvent:
    """Append one event to ``stream`` in the caller's transaction (it never commits)."""
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
    )
    ev.hash = _digest(prev, _hashed_fields(ev))
    session.add(ev)
    session.flush()
    return ev


@dataclass(frozen=True)
class ChainProblem:
    stream: str
    seq: int
    problem: str


def verify(session: Session, *, batch: int = 5000) -> Iterator[ChainProblem]:
    """Walk every chain in order; yield each broken link (edited, removed or reordered rows)."""
    stmt = select(AuditEvent).order_by(AuditEvent.stream, AuditEvent.seq)
    stream, expected_seq, prev = None, 1, GENESIS
    for ev in session.scalars(stmt.execution_options(yield_per=batch)):
        if ev.stream != stream:
            stream, expected_seq, prev = ev.stream, 1, GENESIS
        if ev.seq != expected_seq:
            yield ChainProblem(ev.stream, ev.seq, f"thiếu sự kiện số {expected_seq}")
        if ev.prev_hash != prev:
            yield ChainProblem(ev.stream, ev.seq, "liên kết băm với sự kiện trước không khớp")
        if _digest(ev.prev_hash, _hashed_fields(ev)) != ev.hash:
            yield ChainProblem(ev.stream, ev.seq, "nội dung sự kiện đã bị sửa")
        expected_seq, prev = ev.seq + 1, ev.hash

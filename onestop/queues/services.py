"""Distributing work: take the next dossier, bulk reassignment; flushes, never commits.

Every change is a lifecycle transition (``assign``, ``reassign``, ``release``) through
``dossiers.services.transition``, with its ledger entry and audit event: the queues never write
the assignment columns themselves.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from onestop.accounts.models import User
from onestop.core.access import Principal, Role
from onestop.core.errors import NotFound, PermissionDenied, RuleViolation
from onestop.dossiers import services as dossiers
from onestop.dossiers.models import Dossier
from onestop.dossiers.states import IN_PROGRESS, Action
from onestop.queues.queries import Filters, QueueContext, Sort, View, page_statement, view_statement


def take_next(
    session: Session,
    ctx: QueueContext,
    filters: Filters,
    *,
    request_id: str | None = None,
) -> Dossier:
    """Assign to the caller the unassigned dossier of their units that is due first.

    PostgreSQL: ``FOR UPDATE SKIP LOCKED`` — a second clerk pressing at the same moment skips
    the row the first one holds and gets the next. SQLite: the unit of work began with
    ``BEGIN IMMEDIATE``, so takers run one after the other and each sees the previous
    assignment. Either way the conditional update in ``transition`` is the last guard.
    """
    actor = ctx.actor
    stmt = page_statement(
        view_statement(session, View.UNASSIGNED, ctx, filters), View.UNASSIGNED, Sort.DUE, None, 0
    ).limit(1)
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True, of=Dossier)
    d = session.scalars(stmt).first()
    if d is None:
        raise NotFound("Không còn hồ sơ nào chờ phân công.", type="queue.empty")
    return dossiers.transition(
        session,
        d.id,
        Action.ASSIGN,
        actor=actor,
        expected_version=d.version,
        now=ctx.now,
        params={"assignee": actor.username},
        request_id=request_id,
    )


@dataclass(frozen=True)
class BulkResult:
    moved: list[int]
    to: str | None


def reassign_all(
    session: Session,
    from_username: str,
    to_username: str | None,
    *,
    actor: Principal,
    now: datetime,
    reason: str | None = None,
    request_id: str | None = None,
    limit: int = 500,
) -> BulkResult:
    """Move the open dossiers of one clerk (absent, on leave) to another, or back to the queue.

    Only dossiers the manager may see are moved, each by its own transition with its ledger
    entry and audit event, all in the caller's one transaction; at most ``limit`` per call.
    """
    if actor.role != Role.MANAGER:
        raise PermissionDenied("Chỉ lãnh đạo đơn vị phân công lại hồ sơ.", type="queue.role")
    source = session.scalar(select(User).where(User.username == from_username.lower()))
    if source is None:
        raise RuleViolation(
            "Không tìm thấy cán bộ này.",
            type="queue.user_not_found",
            errors={"json": {"from_user": ["Không tìm thấy cán bộ này."]}},
        )
    if to_username is not None and to_username.lower() == source.username:
        raise RuleViolation(
            "Cán bộ nhận phải khác cán bộ vắng mặt.",
            type="queue.same_user",
            errors={"json": {"to_user": ["Cán bộ nhận phải khác cán bộ vắng mặt."]}},
        )
    units = sorted(actor.agency_ids)
    ids = session.scalars(
        select(Dossier.id)
        .where(
            Dossier.assigned_to_id == source.id,
            Dossier.state.in_([s.value for s in IN_PROGRESS]),
            Dossier.current_unit_id.in_(units),
        )
        .order_by(Dossier.legal_due_at, Dossier.id)
        .limit(limit)
    ).all()
    moved = []
    for dossier_id in ids:
        if to_username is None:
            action, params = Action.RELEASE, {"reason": reason}
        else:
            action, params = Action.REASSIGN, {"assignee": to_username, "reason": reason}
        dossiers.transition(
            session,
            dossier_id,
            action,
            actor=actor,
            expected_version=None,
            now=now,
            params=params,
            request_id=request_id,
        )
        moved.append(dossier_id)
    return BulkResult(moved, to_username.lower() if to_username else None)

"""The queue views: what each tab holds, filters, keyset pages, capped counts, and the rows.

Every view is a range of one partial index (``onestop.queues.models``) on the dossiers where
they currently sit, narrowed to the caller's units; pages continue after the last row seen
(keyset: ``(sort key, id) > (last key, last id)``), never with OFFSET, so a page costs the same
at the first and at the ten-thousandth row and rows received meanwhile do not shift the pages.
Times left are counted in working time with each dossier's own calendar (docs/queues.md).

The module is long because the pages, the counts and the rows share the tabs' predicates and
are read together with the partial indexes they rely on.
"""

from __future__ import annotations

import base64
import json
import math
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    exists,
    false,
    func,
    literal_column,
    or_,
    select,
    tuple_,
)
from sqlalchemy.orm import Session

from onestop.accounts.models import User
from onestop.agencies.models import Agency
from onestop.catalogue.models import ProcedureVersion
from onestop.core.access import Principal, Role
from onestop.core.clock import VN_TZ
from onestop.core.errors import RuleViolation
from onestop.core.text import fold
from onestop.dossiers import clock
from onestop.dossiers.models import Dossier, Handover
from onestop.dossiers.states import IN_PROGRESS, Channel, State

# A working day is eight working hours (Labour Code 2019 art. 105; docs/queues.md).
WORKING_DAY = 8 * 3600
# Counts stop at this many rows: a clerk needs exact small numbers, "> 999" is enough beyond.
COUNT_CAP = 1000
PAGE_SIZE_DEFAULT = 50


class View(StrEnum):
    RECEPTION = "reception"
    UNASSIGNED = "unassigned"
    MINE = "mine"
    INCOMING = "incoming"
    WAITING_CITIZEN = "waiting_citizen"
    DUE_SOON = "due_soon"
    OVERDUE = "overdue"
    TO_RETURN = "to_return"

    @property
    def label(self) -> str:
        return VIEW_LABELS[self]


VIEW_LABELS = {
    View.RECEPTION: "Chờ tiếp nhận",
    View.UNASSIGNED: "Chưa phân công",
    View.MINE: "Của tôi",
    View.INCOMING: "Được chuyển đến, chờ nhận",
    View.WAITING_CITIZEN: "Chờ công dân bổ sung, nộp phí",
    View.DUE_SOON: "Sắp đến hạn",
    View.OVERDUE: "Quá hạn",
    View.TO_RETURN: "Chờ trả kết quả",
}


class Sort(StrEnum):
    DUE = "due"
    RECEIVED = "received"
    CODE = "code"


# In the order of the partial indexes' WHERE clauses (onestop/queues/models.py): SQLite matches
# the terms as written.
OPEN = [
    "received",
    "processing",
    "supplement_requested",
    "awaiting_payment",
    "withdrawal_requested",
]
if set(OPEN) != {s.value for s in IN_PROGRESS}:  # a new open state must join the indexes
    raise RuntimeError("queues: OPEN differs from the dossiers' open states")
WORKING = [State.RECEIVED.value, State.PROCESSING.value]
WAITING = [State.SUPPLEMENT_REQUESTED.value, State.AWAITING_PAYMENT.value]


def _state_in(states: list[str]) -> ColumnElement[bool]:
    """``state IN ('a', 'b')`` with the values written into the SQL, not bound: SQLite uses a
    partial index only when the query's WHERE visibly implies the index's, and a bound
    parameter hides the value (docs/queues.md). The values are our own constants."""
    if len(states) == 1:
        return Dossier.state == literal_column(f"'{State(states[0]).value}'")
    return Dossier.state.in_([literal_column(f"'{State(s).value}'") for s in states])


@dataclass(frozen=True)
class Filters:
    unit_ids: frozenset[int] | None = None  # narrowed to one unit of the caller's
    procedure: str | None = None
    sector: str | None = None
    channel: Channel | None = None
    online_level: str | None = None
    state: State | None = None
    assignee_id: int | None = None
    assignee_unknown: bool = False
    received_from: date | None = None
    received_to: date | None = None
    due_before: datetime | None = None
    text: str | None = None


@dataclass(frozen=True)
class Cursor:
    key: Any
    id: int


@dataclass
class QueueContext:
    """What a view needs besides the filters: who asks, when, and the due-soon share."""

    actor: Principal
    now: datetime
    due_soon_share: float
    _thresholds: dict[int, list[tuple[frozenset[int], datetime]]] | None = field(default=None)


def units_of(actor: Principal) -> frozenset[int]:
    """The units whose queues the caller sees: their agencies and the units below them."""
    if actor.role not in (Role.CLERK, Role.MANAGER):
        return frozenset()
    return actor.agency_ids


def budget_seconds(amount: int | None, unit: str | None) -> int | None:
    """The processing time in working seconds, the yardstick of the due-soon share.

    Working days and hours convert exactly; "same day" counts as one working day and a
    calendar day as one working day (so a calendar-day budget warns early, never late).
    """
    if amount is None or unit is None:
        return None
    if unit == "working_hours":
        return amount * 3600
    if unit == "same_day":
        return WORKING_DAY
    return amount * WORKING_DAY


# ---- the statement of a view -------------------------------------------------------------------


def _sort_column(view: View, sort: Sort):
    if view == View.RECEPTION:
        return {
            Sort.DUE: Dossier.submitted_at,
            Sort.RECEIVED: Dossier.submitted_at,
            Sort.CODE: Dossier.submission_no,
        }[sort]
    return {
        Sort.DUE: Dossier.legal_due_at,
        Sort.RECEIVED: Dossier.received_at,
        Sort.CODE: Dossier.code,
    }[sort]


def _due_soon_clause(session: Session, ctx: QueueContext, units: frozenset[int]):
    """Running dossiers whose remaining working time is under the share of their budget.

    Remaining < share × budget ⇔ due < now + share × budget in working time. That instant is
    computed once per (calendar, processing time) among the running dossiers of the units —
    a handful — with the calendar each dossier was received under, so the tab is a few range
    conditions on the due date instead of a working-time function per row, and it agrees
    with each row's own ``due_soon`` flag.
    """
    combos = session.execute(
        select(Dossier.calendar_key, Dossier.duration_amount, Dossier.duration_unit)
        .where(
            _state_in(OPEN),
            Dossier.paused_since.is_(None),
            Dossier.current_unit_id.in_(sorted(units)),
            Dossier.legal_due_at >= ctx.now,
        )
        .distinct()
    ).all()
    clauses = []
    for key, amount, unit in combos:
        budget = budget_seconds(amount, unit)
        if key is None or not budget:
            continue
        cal = clock.calendar_by_key(session, key)[1]
        limit = cal.shift_working(
            ctx.now, timedelta(seconds=math.ceil(ctx.due_soon_share * budget))
        )
        clauses.append(
            and_(
                Dossier.calendar_key == key,
                Dossier.duration_amount == amount,
                Dossier.duration_unit == unit,
                Dossier.legal_due_at < limit,
            )
        )
    return or_(*clauses) if clauses else false()


def _pending_handover(to_units: frozenset[int] | None = None):
    cond = [Handover.dossier_id == Dossier.id, Handover.accepted_at.is_(None)]
    if to_units is not None:
        cond.append(Handover.to_unit_id.in_(sorted(to_units)))
    return exists().where(*cond)


def view_statement(
    session: Session, view: View, ctx: QueueContext, filters: Filters
) -> Select[Any]:
    """``SELECT dossiers`` for one tab, scoped to the caller's units, filters applied, unsorted."""
    units = units_of(ctx.actor)
    if filters.unit_ids is not None:
        units = units & filters.unit_ids
    stmt = select(Dossier)
    if not units:
        return stmt.where(false())
    ids = sorted(units)
    here = Dossier.current_unit_id.in_(ids)
    if view == View.RECEPTION:
        stmt = stmt.where(_state_in([State.SUBMITTED.value]), here)
    elif view == View.UNASSIGNED:
        stmt = stmt.where(
            _state_in(WORKING),
            Dossier.assigned_to_id.is_(None),
            here,
            ~_pending_handover(),
        )
    elif view == View.MINE:
        stmt = stmt.where(_state_in(OPEN), Dossier.assigned_to_id == ctx.actor.user_id, here)
    elif view == View.INCOMING:
        stmt = stmt.where(_state_in(OPEN), here, _pending_handover(frozenset(ids)))
    elif view == View.WAITING_CITIZEN:
        stmt = stmt.where(_state_in(WAITING), Dossier.received_at.is_not(None), here)
    elif view == View.DUE_SOON:
        stmt = stmt.where(
            _state_in(OPEN),
            Dossier.paused_since.is_(None),
            here,
            Dossier.legal_due_at >= ctx.now,
            _due_soon_clause(session, ctx, units),
        )
    elif view == View.OVERDUE:
        stmt = stmt.where(
            _state_in(OPEN),
            Dossier.paused_since.is_(None),
            here,
            Dossier.legal_due_at < ctx.now,
        )
    elif view == View.TO_RETURN:
        stmt = stmt.where(_state_in([State.RESOLVED.value]), Dossier.agency_id.in_(ids))
    return _apply_filters(stmt, filters)


def _vn_start(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=VN_TZ)


def _apply_filters(stmt: Select[Any], f: Filters) -> Select[Any]:
    if f.procedure:
        stmt = stmt.where(Dossier.procedure_code == f.procedure)
    if f.sector or f.online_level:
        versions = select(ProcedureVersion.id)
        if f.sector:
            versions = versions.where(ProcedureVersion.sector_code == f.sector)
        if f.online_level:
            versions = versions.where(ProcedureVersion.online_level == f.online_level)
        stmt = stmt.where(Dossier.procedure_version_id.in_(versions.scalar_subquery()))
    if f.channel:
        stmt = stmt.where(Dossier.channel == f.channel.value)
    if f.state:
        stmt = stmt.where(Dossier.state == f.state.value)
    if f.assignee_unknown:
        stmt = stmt.where(false())
    elif f.assignee_id is not None:
        stmt = stmt.where(Dossier.assigned_to_id == f.assignee_id)
    if f.received_from:
        stmt = stmt.where(Dossier.received_at >= _vn_start(f.received_from))
    if f.received_to:
        stmt = stmt.where(Dossier.received_at < _vn_start(f.received_to + timedelta(days=1)))
    if f.due_before:
        stmt = stmt.where(Dossier.legal_due_at < f.due_before)
    if f.text:
        folded = fold(f.text)
        stmt = stmt.where(
            or_(
                Dossier.code.startswith(f.text.strip().upper(), autoescape=True),
                Dossier.applicant_name_search.contains(folded, autoescape=True),
            )
        )
    return stmt


def page_statement(
    stmt: Select[Any], view: View, sort: Sort, after: Cursor | None, size: int
) -> Select[Any]:
    col = _sort_column(view, sort)
    if after is not None:
        stmt = stmt.where(tuple_(col, Dossier.id) > tuple_(after.key, after.id))
    return stmt.order_by(col, Dossier.id).limit(size + 1)


# ---- cursors -----------------------------------------------------------------------------------


def encode_cursor(view: View, sort: Sort, d: Dossier) -> str:
    key = getattr(d, _sort_column(view, sort).key)
    raw = [view.value, sort.value, key.isoformat() if isinstance(key, datetime) else key, d.id]
    return base64.urlsafe_b64encode(json.dumps(raw).encode()).decode().rstrip("=")


def decode_cursor(token: str, view: View, sort: Sort) -> Cursor:
    """The position after which a page starts; 422 when it is not one this view issued."""
    problem = RuleViolation(
        "Con trỏ trang không hợp lệ cho danh sách này; hãy tải lại từ trang đầu.",
        type="queue.bad_cursor",
        errors={"query": {"after": ["Con trỏ trang không hợp lệ."]}},
    )
    try:
        raw = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        v, s, key, ident = raw
        if v != view.value or s != sort.value or not isinstance(ident, int):
            raise problem
        if not 0 < ident < 2**31:
            raise problem
        if sort in (Sort.DUE, Sort.RECEIVED):
            key = datetime.fromisoformat(key)
            if key.tzinfo is None:
                raise problem
        elif not isinstance(key, str):
            raise problem
        return Cursor(key, ident)
    except RuleViolation:
        raise
    except (ValueError, TypeError, UnicodeDecodeError):
        raise problem from None


# ---- pages and counts --------------------------------------------------------------------------


def fetch_page(
    session: Session,
    view: View,
    ctx: QueueContext,
    filters: Filters,
    *,
    sort: Sort = Sort.DUE,
    after: Cursor | None = None,
    size: int = PAGE_SIZE_DEFAULT,
) -> tuple[list[Dossier], str | None]:
    """One page of a view and the cursor of the next page (None on the last page)."""
    stmt = page_statement(view_statement(session, view, ctx, filters), view, sort, after, size)
    rows = list(session.scalars(stmt))
    more = len(rows) > size
    rows = rows[:size]
    return rows, (encode_cursor(view, sort, rows[-1]) if more and rows else None)


def count(session: Session, view: View, ctx: QueueContext, filters: Filters) -> int:
    """Rows in the view, counted up to ``COUNT_CAP`` (an index range of at most that many)."""
    inner = (
        view_statement(session, view, ctx, filters).with_only_columns(Dossier.id).limit(COUNT_CAP)
    )
    return session.scalar(select(func.count()).select_from(inner.subquery())) or 0


def counts(session: Session, ctx: QueueContext, filters: Filters) -> dict[View, int]:
    return {v: count(session, v, ctx, filters) for v in View}


# ---- rows --------------------------------------------------------------------------------------


def working_text(seconds: int) -> str:
    """Working time in Vietnamese: "còn 6 giờ làm việc", "quá hạn 2 ngày làm việc"."""
    late = seconds < 0
    s = abs(seconds)
    days, rest = divmod(s, WORKING_DAY)
    hours = rest // 3600
    if days:
        amount = f"{days} ngày" + (f" {hours} giờ" if hours else "")
    elif hours:
        amount = f"{hours} giờ"
    else:
        amount = f"{max(1, math.ceil(rest / 60))} phút"
    return f"{'quá hạn' if late else 'còn'} {amount} làm việc"


def duration_text(amount: int | None, unit: str | None) -> str | None:
    if amount is None or unit is None:
        return None
    return {
        "working_days": f"{amount} ngày làm việc",
        "working_hours": f"{amount} giờ làm việc",
        "same_day": "trong ngày",
        "calendar_days": f"{amount} ngày",
    }.get(unit, f"{amount} {unit}")


def mask_name(name: str) -> str:
    """Family name and initials ("Nguyễn T. Á. T."): managers see workloads, not people; the
    full name is one audited click away (the dossier detail)."""
    parts = name.split()
    if len(parts) <= 1:
        return (name[:1] + ".") if name else name
    return " ".join([parts[0], *(p[:1] + "." for p in parts[1:])])


_STEPS: dict[int, dict[str, dict[str, Any]]] = {}


def _steps_of(session: Session, version_ids: set[int]) -> dict[int, dict[str, dict[str, Any]]]:
    """Processing steps per procedure version (immutable once used, so cached for good)."""
    missing = [v for v in version_ids if v not in _STEPS]
    if missing:
        for version in session.scalars(
            select(ProcedureVersion).where(ProcedureVersion.id.in_(missing))
        ):
            _STEPS[version.id] = {
                s.code: {
                    "name": s.name,
                    "budget": {"amount": s.budget.amount, "unit": s.budget.unit.value},
                }
                for s in version.as_definition().processing_steps
            }
    return {v: _STEPS.get(v, {}) for v in version_ids}


def present_rows(
    session: Session, dossiers: list[Dossier], ctx: QueueContext
) -> list[dict[str, Any]]:
    """What a clerk acts on, one dict per dossier; four small look-ups for the whole page."""
    if not dossiers:
        return []
    agency_ids = {d.agency_id for d in dossiers} | {d.current_unit_id for d in dossiers}
    agencies = {
        i: (code, name)
        for i, code, name in session.execute(
            select(Agency.id, Agency.code, Agency.name).where(Agency.id.in_(agency_ids))
        )
    }
    user_ids = {d.assigned_to_id for d in dossiers if d.assigned_to_id}
    users = dict(
        session.execute(select(User.id, User.username).where(User.id.in_(user_ids))).all()
        if user_ids
        else []
    )
    version_ids = {d.procedure_version_id for d in dossiers}
    names = dict(
        session.execute(
            select(ProcedureVersion.id, ProcedureVersion.name).where(
                ProcedureVersion.id.in_(version_ids)
            )
        ).all()
    )
    steps = _steps_of(session, version_ids)
    masked = ctx.actor.role != Role.CLERK
    rows = []
    for d in dossiers:
        cal = clock.calendar_by_key(session, d.calendar_key)[1] if d.calendar_key else None
        left = clock.time_left_seconds(d, cal, at=ctx.now) if cal is not None else None
        budget = budget_seconds(d.duration_amount, d.duration_unit)
        due_soon = bool(left is not None and budget and 0 <= left < ctx.due_soon_share * budget)
        step = None
        if d.current_step:
            info = steps[d.procedure_version_id].get(d.current_step, {})
            b = info.get("budget") or {}
            step_left = None
            if cal is not None and d.step_due_at is not None:
                start = d.paused_since or ctx.now
                step_left = cal.working_seconds_between(start, d.step_due_at)
            step = {
                "code": d.current_step,
                "name": info.get("name", ""),
                "budget": duration_text(b.get("amount"), b.get("unit")),
                "due_at": d.step_due_at,
                "time_left_working_seconds": step_left,
                "time_left_text": working_text(step_left) if step_left is not None else None,
            }
        state = State(d.state)
        rows.append(
            {
                "id": d.id,
                "version": d.version,
                "code": d.code,
                "submission_no": d.submission_no,
                "procedure_code": d.procedure_code,
                "procedure_name": names.get(d.procedure_version_id, ""),
                "applicant_name": mask_name(d.applicant_name) if masked else d.applicant_name,
                "channel": d.channel,
                "channel_label": Channel(d.channel).label,
                "state": d.state,
                "state_code": state.code,
                "state_label": state.label,
                "agency_code": agencies[d.agency_id][0],
                "current_unit_code": agencies[d.current_unit_id][0],
                "current_unit_name": agencies[d.current_unit_id][1],
                "assigned_to": users.get(d.assigned_to_id) if d.assigned_to_id else None,
                "submitted_at": d.submitted_at,
                "received_at": d.received_at,
                "legal_due_at": d.legal_due_at,
                "promised_due_at": d.promised_due_at,
                "extended_due_at": d.extended_due_at,
                "processing_time": duration_text(d.duration_amount, d.duration_unit),
                "paused": d.paused_since is not None,
                "time_left_working_seconds": left,
                "time_left_text": (
                    working_text(left) + (" (đang tạm dừng)" if d.paused_since else "")
                    if left is not None
                    else None
                ),
                "overdue": left is not None and left < 0,
                "due_soon": due_soon,
                "step": step,
            }
        )
    return rows

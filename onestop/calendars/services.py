"""Calendar administration: national and agency overrides, agency working hours, validated
against every calendar they change, counted and audited. These functions flush, never commit.

Which calendar is in force (for an agency on a date, or by a stored key) is ``resolution``;
its public functions are re-exported here, where callers have always found them.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import Select, select, update
from sqlalchemy.orm import Session

from onestop.agencies.models import Agency
from onestop.agencies.services import get_by_code, subtree_ids
from onestop.calendars.models import (
    AgencyWorkingHours,
    CalendarChangeCounter,
    CalendarOverride,
)
from onestop.calendars.resolution import (
    NATIONAL,
    agency_chain,
    calendar_by_key,
    calendar_for_agency,
    change_state,
    compose_spec,
    current_version,
    days_for,
    hours_in_force,
    override_of,
)
from onestop.core import audit, clock
from onestop.core.access import Principal
from onestop.core.errors import Conflict, NotFound, RuleViolation
from onestop.worktime import (
    CalendarSpec,
    Override,
    WorktimeError,
)

__all__ = [
    "NATIONAL",
    "calendar_by_key",
    "calendar_for_agency",
    "change_state",
    "compose_spec",
    "current_version",
    "days_for",
]


def _bump(session: Session, now: datetime) -> int:
    """Count one change. The UPDATE takes the counter's row lock first, so concurrent calendar
    changes run one after the other and each validates against the other's result."""
    token = secrets.token_hex(16)
    version = session.scalar(
        update(CalendarChangeCounter)
        .where(CalendarChangeCounter.id == 1)
        .values(version=CalendarChangeCounter.version + 1, token=token, changed_at=now)
        .returning(CalendarChangeCounter.version)
        .execution_options(synchronize_session=False)
    )
    if version is None:  # a database created without the migration's seed row
        session.add(CalendarChangeCounter(id=1, version=1, token=token, changed_at=now))
        session.flush()
        version = 1
    return version


# ---- validation of a change --------------------------------------------------------------------


def _agencies_with_own_data(session: Session) -> set[int]:
    with_overrides = session.scalars(
        select(CalendarOverride.agency_id).where(
            CalendarOverride.agency_id.is_not(None), CalendarOverride.removed_at.is_(None)
        )
    ).all()
    with_hours = session.scalars(select(AgencyWorkingHours.agency_id)).all()
    return {a for a in (*with_overrides, *with_hours) if a is not None}


def _validate(session: Session, scope: Agency | None, *, today: date, field: str) -> None:
    """Build every calendar the pending change reaches; refuse the change if one fails.

    Reached: the scope's own calendar and that of every agency below it with overrides or
    hours of its own, on today's date and on each date the hours in their chain change.
    """
    targets: list[int | None] = [scope.id if scope else None]
    below = _agencies_with_own_data(session)
    if scope is not None:
        below &= subtree_ids(session, [scope.id])
    targets += sorted(below - {scope.id if scope else None})
    for agency_id in targets:
        dates = {today}
        if agency_id is not None:
            _, rows = hours_in_force(session, agency_chain(session, agency_id), today)
            dates |= {r.valid_from for r in rows}
        for on in sorted(dates):
            try:
                calendar_for_agency(session, agency_id, on=on, remember=False)
            except WorktimeError as exc:
                where = ""
                if agency_id is not None and (scope is None or agency_id != scope.id):
                    where = f"Lịch của {session.get(Agency, agency_id).name}: "  # type: ignore[union-attr]
                message = where + exc.message
                raise RuleViolation(
                    message, type=exc.type, errors={"json": {field: [message]}}
                ) from exc


def _scope_key(session: Session, scope: Agency | None, today: date) -> str:
    return calendar_for_agency(session, scope.id if scope else None, on=today, remember=False)[0]


def _stream(scope: Agency | None) -> str:
    return f"calendar:{scope.code if scope else NATIONAL}"


# ---- overrides ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class OverrideInput:
    date: date
    kind: str
    name: str
    source: str
    agency_code: str | None = None
    swapped_with: date | None = None


def list_overrides(
    session: Session,
    *,
    agency_code: str | None = None,
    year: int | None = None,
    include_removed: bool = False,
) -> Select[tuple[CalendarOverride]]:
    """Stored overrides, by date; ``agency_code`` narrows to one agency's own overrides."""
    stmt = select(CalendarOverride).order_by(CalendarOverride.date, CalendarOverride.id)
    if agency_code:
        stmt = stmt.where(CalendarOverride.agency_id == get_by_code(session, agency_code).id)
    if year is not None:
        stmt = stmt.where(
            CalendarOverride.date >= date(year, 1, 1), CalendarOverride.date <= date(year, 12, 31)
        )
    if not include_removed:
        stmt = stmt.where(CalendarOverride.removed_at.is_(None))
    return stmt


def add_override(
    session: Session, data: OverrideInput, *, actor: Principal | None, now: datetime
) -> CalendarOverride:
    """Store an override (extra day off, removed holiday, make-up working day) and audit it."""
    scope = get_by_code(session, data.agency_code) if data.agency_code else None
    today = now.astimezone(clock.VN_TZ).date()
    try:
        override = Override(
            date=data.date,
            kind=data.kind,  # type: ignore[arg-type]
            name=data.name,
            source=data.source,
            swapped_with=data.swapped_with,
        )
    except WorktimeError as exc:
        raise RuleViolation(
            exc.message, type=exc.type, errors={"json": {"kind": [exc.message]}}
        ) from exc
    before = _scope_key(session, scope, today)
    version = _bump(session, now)
    clash = session.scalar(
        select(CalendarOverride.id).where(
            CalendarOverride.agency_id == scope.id
            if scope
            else CalendarOverride.agency_id.is_(None),
            CalendarOverride.date == data.date,
            CalendarOverride.removed_at.is_(None),
        )
    )
    if clash is not None:
        raise Conflict(
            f"Ngày {data.date:%d/%m/%Y} đã có một điều chỉnh (số {clash}); hãy gỡ nó trước.",
            type="calendar.override_exists",
        )
    row = CalendarOverride(
        agency_id=scope.id if scope else None,
        date=override.date,
        kind=override.kind.value,
        name=override.name,
        source=override.source,
        swapped_with=override.swapped_with,
        created_at=now,
        created_by_id=actor.user_id if actor else None,
        created_version=version,
    )
    session.add(row)
    session.flush()
    _validate(session, scope, today=today, field="date")
    after = _scope_key(session, scope, today)
    audit.record(
        session,
        actor=actor,
        action="calendar.override_added",
        stream=_stream(scope),
        now=now,
        agency_id=scope.id if scope else None,
        reason=override.source,
        data={
            "override_id": row.id,
            **override.to_dict(),
            "version": version,
            "calendar_before": before,
            "calendar_after": after,
        },
    )
    return row


def remove_override(
    session: Session, override_id: int, *, actor: Principal | None, now: datetime
) -> CalendarOverride:
    """Mark an override removed (the row and its history stay); removing twice changes nothing."""
    row = session.get(CalendarOverride, override_id, with_for_update=True, populate_existing=True)
    if row is None:
        raise NotFound("Không tìm thấy điều chỉnh lịch.", type="calendar.override_not_found")
    if row.removed_at is not None:
        return row
    scope = session.get(Agency, row.agency_id) if row.agency_id else None
    today = now.astimezone(clock.VN_TZ).date()
    before = _scope_key(session, scope, today)
    version = _bump(session, now)
    row.removed_at = now
    row.removed_by_id = actor.user_id if actor else None
    row.removed_version = version
    session.flush()
    _validate(session, scope, today=today, field="id")
    after = _scope_key(session, scope, today)
    audit.record(
        session,
        actor=actor,
        action="calendar.override_removed",
        stream=_stream(scope),
        now=now,
        agency_id=scope.id if scope else None,
        data={
            "override_id": row.id,
            **override_of(row).to_dict(),
            "version": version,
            "calendar_before": before,
            "calendar_after": after,
        },
    )
    return row


# ---- agency working hours ----------------------------------------------------------------------

WEEKDAY_KEYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True)
class WorkingHoursInput:
    valid_from: date
    weekly: tuple[tuple[str, ...], ...]  # Monday … Sunday, periods as "HH:MM-HH:MM"
    source: str
    makeup: tuple[str, ...] | None = None  # hours of a make-up working day; default Monday's


def working_hours_of(
    session: Session, agency: Agency, *, on: date
) -> tuple[AgencyWorkingHours | None, list[AgencyWorkingHours]]:
    """The hours row in force for ``agency`` on ``on`` (own or an ancestor's; None: national)
    and the agency's own rows, newest first."""
    row, rows = hours_in_force(session, agency_chain(session, agency.id), on)
    return row, [r for r in rows if r.agency_id == agency.id]


def set_working_hours(
    session: Session,
    agency_code: str,
    data: WorkingHoursInput,
    *,
    actor: Principal | None,
    now: datetime,
) -> AgencyWorkingHours:
    """Set an agency's weekly hours from ``valid_from`` (replacing a row of the same date)."""
    agency = get_by_code(session, agency_code)
    today = now.astimezone(clock.VN_TZ).date()
    weekly = [list(day) for day in data.weekly]
    makeup = list(data.makeup) if data.makeup is not None else next((d for d in weekly if d), [])
    try:  # the engine checks the periods (format, order, overlaps, at least one working day)
        CalendarSpec.from_dict({"weekly": weekly, "makeup_periods": makeup})
    except WorktimeError as exc:
        raise RuleViolation(
            exc.message, type=exc.type, errors={"json": {"weekly": [exc.message]}}
        ) from exc
    before = _scope_key(session, agency, data.valid_from)
    version = _bump(session, now)
    row = session.scalar(
        select(AgencyWorkingHours).where(
            AgencyWorkingHours.agency_id == agency.id,
            AgencyWorkingHours.valid_from == data.valid_from,
        )
    )
    previous = dict(row.periods) if row else None
    if row is None:
        row = AgencyWorkingHours(agency_id=agency.id, valid_from=data.valid_from)
        session.add(row)
    row.periods = {"weekly": weekly, "makeup": makeup}
    row.source = data.source
    row.updated_at = now
    row.updated_by_id = actor.user_id if actor else None
    row.updated_version = version
    session.flush()
    _validate(session, agency, today=today, field="weekly")
    after = _scope_key(session, agency, data.valid_from)
    audit.record(
        session,
        actor=actor,
        action="calendar.working_hours_set",
        stream=_stream(agency),
        now=now,
        agency_id=agency.id,
        reason=data.source,
        data={
            "valid_from": data.valid_from.isoformat(),
            "periods": row.periods,
            "previous": previous,
            "version": version,
            "calendar_before": before,
            "calendar_after": after,
        },
    )
    return row


def weekly_from_mapping(mapping: dict[str, Iterable[str]]) -> tuple[tuple[str, ...], ...]:
    """``{"mon": [...], ...}`` (missing days: not worked) → the Monday-first tuple."""
    return tuple(tuple(mapping.get(key) or ()) for key in WEEKDAY_KEYS)

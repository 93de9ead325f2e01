"""Calendar services: which calendar an agency uses, versions by key, overrides and agency hours.

The calendar of an agency is the national civil-service spec of ``onestop.worktime`` (weekly
hours, the Labor Code holidays, the repository's ``overrides.yaml``), then the overrides stored
here for the whole country, then those of the agency's ancestors and of the agency itself; for
one date the most specific override wins. Weekly hours are the agency's own row in force, else
its nearest ancestor's, else the national hours (DOMAIN.md §3). A calendar is identified by its
key, ``CalendarSpec.version`` (``<name>@<fingerprint>``): any change of a date or an hour gives a
new key, and a dossier keeps the key it was received under (DOMAIN.md §1).

Building a calendar takes about 0.2 s, so built calendars are cached per process: by key, and
the agency → key resolution by the token of the change counter, which every change redraws.
These functions flush, never commit.
"""

from __future__ import annotations

import secrets
import threading
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Select, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from onestop.agencies.models import Agency
from onestop.agencies.services import get_by_code, subtree_ids
from onestop.calendars.models import (
    AgencyWorkingHours,
    CalendarChangeCounter,
    CalendarOverride,
    CalendarVersion,
)
from onestop.core import audit, clock
from onestop.core.access import Principal
from onestop.core.errors import Conflict, NotFound, RuleViolation
from onestop.worktime import (
    Calendar,
    CalendarSpec,
    DayInfo,
    Override,
    WorktimeError,
    build_calendar,
    national_spec,
)

NATIONAL = "national"

# ---- the change counter ------------------------------------------------------------------------


def change_state(session: Session) -> tuple[int, str]:
    """``(version, token)`` of the last committed (or own pending) calendar change."""
    row = session.execute(
        select(CalendarChangeCounter.version, CalendarChangeCounter.token).where(
            CalendarChangeCounter.id == 1
        )
    ).first()
    return (row[0], row[1]) if row else (0, "")


def current_version(session: Session) -> int:
    """The calendar version number: it grows by one with every change of an override or hours.

    The scheduler compares it with the number it last saw to know that open dossiers may need
    re-projecting (``onestop.calendars.jobs``).
    """
    return change_state(session)[0]


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


# ---- caches ------------------------------------------------------------------------------------


class _LRU:
    """A small thread-safe LRU map (gunicorn threads share one process cache)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._data: OrderedDict[Any, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Any) -> Any:
        with self._lock:
            value = self._data.get(key)
            if value is not None:
                self._data.move_to_end(key)
            return value

    def put(self, key: Any, value: Any) -> None:
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self.size:
                self._data.popitem(last=False)


# A built calendar holds about eleven years of days and periods (~2 MB): keep a few dozen.
_BY_KEY = _LRU(48)
# (change token, agency id, date) → (key, calendar); cheap entries, one per agency and day.
_RESOLVED = _LRU(4096)


def _build(spec: CalendarSpec) -> Calendar:
    key = spec.version
    cal = _BY_KEY.get(key)
    if cal is None:
        cal = build_calendar(spec)
        _BY_KEY.put(key, cal)
    return cal


# ---- composing a spec --------------------------------------------------------------------------


def _override(row: CalendarOverride) -> Override:
    return Override(
        date=row.date,
        kind=row.kind,  # type: ignore[arg-type]  # Override converts it to OverrideKind
        name=row.name,
        source=row.source,
        swapped_with=row.swapped_with,
    )


def _chain(session: Session, agency_id: int) -> list[Agency]:
    """The agency and its ancestors, the agency first."""
    agency = session.get(Agency, agency_id)
    if agency is None:
        raise NotFound("Không tìm thấy cơ quan.", type="agency.not_found")
    chain: list[Agency] = []
    while agency is not None and agency not in chain:
        chain.append(agency)
        agency = agency.parent
    return chain


def _hours_in_force(
    session: Session, chain: list[Agency], on: date
) -> tuple[AgencyWorkingHours | None, list[AgencyWorkingHours]]:
    """The hours row in force on ``on`` for the first agency of ``chain`` (own or inherited),
    and every hours row of the chain (for callers that need the dates hours change)."""
    ids = [a.id for a in chain]
    rows = list(
        session.scalars(
            select(AgencyWorkingHours)
            .where(AgencyWorkingHours.agency_id.in_(ids))
            .order_by(AgencyWorkingHours.valid_from.desc())
        )
    )
    for agency in chain:
        for row in rows:
            if row.agency_id == agency.id and row.valid_from <= on:
                return row, rows
    return None, rows


def compose_spec(session: Session, agency_id: int | None, on: date) -> CalendarSpec:
    """The calendar spec in force for an agency (None: the national calendar) on date ``on``."""
    base = national_spec()
    by_date = {o.date: o for o in base.overrides}
    national_rows = session.scalars(
        select(CalendarOverride).where(
            CalendarOverride.agency_id.is_(None), CalendarOverride.removed_at.is_(None)
        )
    ).all()
    for row in national_rows:
        by_date[row.date] = _override(row)
    data = base.to_dict()
    if agency_id is not None:
        chain = _chain(session, agency_id)
        depth = {a.id: i for i, a in enumerate(chain)}
        rows = session.scalars(
            select(CalendarOverride).where(
                CalendarOverride.agency_id.in_(list(depth)), CalendarOverride.removed_at.is_(None)
            )
        ).all()
        # Farthest ancestor first, so that the agency's own override of a date wins.
        for row in sorted(rows, key=lambda r: -depth[r.agency_id or 0]):
            by_date[row.date] = _override(row)
        hours, _ = _hours_in_force(session, chain, on)
        contributors = {r.agency_id for r in rows} | ({hours.agency_id} if hours else set())
        owner = next((a for a in chain if a.id in contributors), None)
        if owner is not None:
            data["name"] = f"agency-{owner.code}"
            data["title"] = f"Lịch làm việc của {owner.name}"
        if hours is not None:
            data["weekly"] = hours.periods["weekly"]
            data["makeup_periods"] = hours.periods["makeup"]
    data["overrides"] = [o.to_dict() for o in by_date.values()]
    return CalendarSpec.from_dict(data)


# ---- reading calendars -------------------------------------------------------------------------


def calendar_for_agency(
    session: Session,
    agency_id: int | None,
    *,
    on: date | None = None,
    remember: bool = True,
) -> tuple[str, Calendar]:
    """``(key, calendar)`` in force for the agency (None: national) on ``on`` (default today).

    The key names the exact calendar version; store it with the dossier and get the same
    calendar back later with :func:`calendar_by_key`. With ``remember`` (the default) the spec is
    saved in the caller's transaction so that any process can rebuild it by key; pass
    ``remember=False`` from read-only requests.
    """
    on = on or clock.today()
    _, token = change_state(session)
    hit: tuple[str, Calendar] | None = _RESOLVED.get((token, agency_id, on))
    if hit is None:
        spec = compose_spec(session, agency_id, on)
        hit = (spec.version, _build(spec))
        _RESOLVED.put((token, agency_id, on), hit)
    if remember:
        _remember(session, hit[1].spec)
    return hit


def _remember(session: Session, spec: CalendarSpec) -> None:
    key = spec.version
    if key == national_spec().version or session.get(CalendarVersion, key) is not None:
        return
    try:
        with session.begin_nested():
            session.add(CalendarVersion(key=key, spec=spec.to_dict(), created_at=clock.now()))
    except IntegrityError:
        pass  # another transaction stored the same version first: same content


def calendar_by_key(session: Session, key: str) -> Calendar:
    """The calendar of a stored key (as returned by :func:`calendar_for_agency`)."""
    cal = _BY_KEY.get(key)
    if cal is not None:
        return cal
    if key == national_spec().version:
        return _build(national_spec())
    row = session.get(CalendarVersion, key)
    if row is None:
        raise NotFound(f"Không có phiên bản lịch {key}.", type="calendar.unknown_version")
    # Rebuilt from the stored spec. A newer python-holidays release could move a date and so
    # the fingerprint; the dossier keeps its key, and the re-projection job moves it on.
    cal = build_calendar(CalendarSpec.from_dict(row.spec))
    _BY_KEY.put(key, cal)
    return cal


def days_for(
    session: Session, agency_id: int | None, first: date, last: date
) -> tuple[list[DayInfo], list[str]]:
    """Each day from ``first`` to ``last`` with the hours in force on it, and the keys used.

    The range is cut where an agency's working hours change, so each day shows its own hours.
    """
    cuts = [first]
    if agency_id is not None:
        _, rows = _hours_in_force(session, _chain(session, agency_id), first)
        cuts += sorted({r.valid_from for r in rows if first < r.valid_from <= last})
    days: list[DayInfo] = []
    keys: list[str] = []
    for start, end in zip(cuts, [*[c - timedelta(1) for c in cuts[1:]], last], strict=True):
        key, cal = calendar_for_agency(session, agency_id, on=start, remember=False)
        days += cal.day_range(start, end)
        if key not in keys:
            keys.append(key)
    return days, keys


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
            _, rows = _hours_in_force(session, _chain(session, agency_id), today)
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
            **_override(row).to_dict(),
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
    row, rows = _hours_in_force(session, _chain(session, agency.id), on)
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

"""Which calendar is in force: for an agency on a date, or by the key a dossier stored.

The calendar of an agency is the national civil-service spec of ``onestop.worktime`` (weekly
hours, the Labor Code holidays, the repository's ``overrides.yaml``), then the overrides stored
for the whole country, then those of the agency's ancestors and of the agency itself; for one
date the most specific override wins. Weekly hours are the agency's own row in force, else its
nearest ancestor's, else the national hours (docs/worktime.md). A calendar is identified by its
key, ``CalendarSpec.version`` (``<name>@<fingerprint>``): any change of a date or an hour gives a
new key, and a dossier keeps the key it was received under.

Building a calendar takes about 0.2 s, so built calendars are cached per process: by key, and
the agency → key resolution by the token of the change counter, which every change redraws.
The administrative writes (overrides, agency hours) are in ``services``.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from onestop.agencies.models import Agency
from onestop.calendars.models import (
    AgencyWorkingHours,
    CalendarChangeCounter,
    CalendarOverride,
    CalendarVersion,
)
from onestop.core.clock import VN_TZ
from onestop.core.errors import NotFound
from onestop.worktime import (
    Calendar,
    CalendarSpec,
    DayInfo,
    Override,
    build_calendar,
    national_spec,
)

NATIONAL = "national"

# ---- the change counter ------------------------------------------------------------------------

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
    re-projecting (``onestop.dossiers.reprojection``).
    """
    return change_state(session)[0]


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


def override_of(row: CalendarOverride) -> Override:
    return Override(
        date=row.date,
        kind=row.kind,  # type: ignore[arg-type]  # Override converts it to OverrideKind
        name=row.name,
        source=row.source,
        swapped_with=row.swapped_with,
    )


def agency_chain(session: Session, agency_id: int) -> list[Agency]:
    """The agency and its ancestors, the agency first."""
    agency = session.get(Agency, agency_id)
    if agency is None:
        raise NotFound("Không tìm thấy cơ quan.", type="agency.not_found")
    chain: list[Agency] = []
    while agency is not None and agency not in chain:
        chain.append(agency)
        agency = agency.parent
    return chain


def hours_in_force(
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
        by_date[row.date] = override_of(row)
    data = base.to_dict()
    if agency_id is not None:
        chain = agency_chain(session, agency_id)
        depth = {a.id: i for i, a in enumerate(chain)}
        rows = session.scalars(
            select(CalendarOverride).where(
                CalendarOverride.agency_id.in_(list(depth)), CalendarOverride.removed_at.is_(None)
            )
        ).all()
        # Farthest ancestor first, so that the agency's own override of a date wins.
        for row in sorted(rows, key=lambda r: -depth[r.agency_id or 0]):
            by_date[row.date] = override_of(row)
        hours, _ = hours_in_force(session, chain, on)
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
    now: datetime | None = None,
    remember: bool = True,
) -> tuple[str, Calendar]:
    """``(key, calendar)`` in force for the agency (None: national) on ``on`` (default: the
    business date of ``now``; one of them is required, and ``now`` to remember the spec).

    The key names the exact calendar version; store it with the dossier and get the same
    calendar back later with :func:`calendar_by_key`. With ``remember`` (the default) the spec is
    saved in the caller's transaction so that any process can rebuild it by key; pass
    ``remember=False`` from read-only requests.
    """
    if on is None:
        if now is None:
            raise TypeError("calendar_for_agency needs on= or now=")
        on = now.astimezone(VN_TZ).date()
    _, token = change_state(session)
    hit: tuple[str, Calendar] | None = _RESOLVED.get((token, agency_id, on))
    if hit is None:
        spec = compose_spec(session, agency_id, on)
        hit = (spec.version, _build(spec))
        _RESOLVED.put((token, agency_id, on), hit)
    if remember:
        if now is None:
            raise TypeError("calendar_for_agency(remember=True) needs now=")
        _remember(session, hit[1].spec, now=now)
    return hit


def _remember(session: Session, spec: CalendarSpec, *, now: datetime) -> None:
    key = spec.version
    if key == national_spec().version or session.get(CalendarVersion, key) is not None:
        return
    try:
        with session.begin_nested():
            session.add(CalendarVersion(key=key, spec=spec.to_dict(), created_at=now))
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
        _, rows = hours_in_force(session, agency_chain(session, agency_id), first)
        cuts += sorted({r.valid_from for r in rows if first < r.valid_from <= last})
    days: list[DayInfo] = []
    keys: list[str] = []
    for start, end in zip(cuts, [*[c - timedelta(1) for c in cuts[1:]], last], strict=True):
        key, cal = calendar_for_agency(session, agency_id, on=start, remember=False)
        days += cal.day_range(start, end)
        if key not in keys:
            keys.append(key)
    return days, keys


def hours_change_dates(session: Session, agency_id: int, first: date, last: date) -> list[date]:
    """The dates after ``first`` up to ``last`` on which the agency's weekly hours (its own or
    inherited) change: a range of receipt dates is cut there, each part under one calendar."""
    _, rows = hours_in_force(session, agency_chain(session, agency_id), first)
    return sorted({r.valid_from for r in rows if first < r.valid_from <= last})

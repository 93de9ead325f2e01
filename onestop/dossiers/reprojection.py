"""Re-projection: open dossiers' legal due dates follow a calendar changed after their receipt.

docs/worktime.md: the date printed on the receipt (``promised_due_at``) never changes, but when the
calendar changes after receipt (a day off added, a make-up Saturday, new agency hours) the
current legal due date of every open dossier follows the new calendar, and the change is logged.

How: open dossiers are grouped by (agency, calendar key). A group whose key is no longer the key
the agency's calendar has today for the dossiers' receipt dates is stale; its dossiers are
recomputed under the current calendar and take its key. Dossiers that never paused and are not
"same day" go through the vectorised engine (``project_due_batch``); the others through
``clock.reproject``, which replays their pauses from the ledger. Each row is
updated only if its version has not moved since it was read (a clerk acting at the same moment
wins; the next run picks the dossier up again), so the job is safe to run twice or concurrently.
"""

from __future__ import annotations

import logging
import time as _time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, cast

import numpy as np
from sqlalchemy import (
    Table,
    and_,
    bindparam,
    exists,
    func,
    insert,
    literal,
    select,
    text,
    update,
)
from sqlalchemy.orm import Session

from onestop.calendars import resolution
from onestop.core import audit, events
from onestop.core.clock import VN_TZ
from onestop.core.db import JSONType, UTCDateTime, rowcount
from onestop.dossiers import clock
from onestop.dossiers.events import Reprojected
from onestop.dossiers.models import Dossier, DossierEvent
from onestop.dossiers.states import OPEN_STATES_SQL
from onestop.worktime import Calendar, project_due_batch

log = logging.getLogger(__name__)

CHUNK = 20_000


@dataclass
class ReprojectionReport:
    """What one run did: stale groups found, dossiers examined, legal due dates moved."""

    groups: int = 0
    examined: int = 0
    moved: int = 0
    skipped_busy: int = 0
    seconds: float = 0.0
    keys: dict[str, str] = field(default_factory=dict)  # old key → new key


def _segments(
    session: Session, agency_id: int, first: date, last: date, *, now: datetime
) -> list[tuple[date, date, str, Calendar]]:
    """(from, to exclusive, key, calendar) covering receipt dates ``first``…``last``; the range
    is cut where the agency's working hours change."""
    cuts = [first, *resolution.hours_change_dates(session, agency_id, first, last)]
    ends = [*cuts[1:], last + timedelta(1)]
    out = []
    for start, end in zip(cuts, ends, strict=True):
        key, cal = resolution.calendar_for_agency(
            session, agency_id, on=start, now=now, remember=True
        )
        out.append((start, end, key, cal))
    return out


def _local_midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=VN_TZ)


def _scope_stream(key: str) -> str:
    name = key.split("@", 1)[0]
    return "calendar:" + (
        name.removeprefix("agency-") if name.startswith("agency-") else resolution.NATIONAL
    )


def reproject_open_dossiers(session: Session, *, now: datetime) -> ReprojectionReport:
    """Bring every open dossier's legal due date onto its agency's current calendar; each
    group moved is announced as a ``Reprojected`` event."""
    started = _time.perf_counter()
    report = ReprojectionReport()
    is_open = text(OPEN_STATES_SQL)
    received = and_(
        is_open,
        Dossier.received_at.is_not(None),
        Dossier.duration_amount.is_not(None),
        Dossier.calendar_key.is_not(None),
    )
    groups = session.execute(
        select(
            Dossier.agency_id,
            Dossier.calendar_key,
            func.min(Dossier.received_at),
            func.max(Dossier.received_at),
        )
        .where(received)
        .group_by(Dossier.agency_id, Dossier.calendar_key)
    ).all()
    for agency_id, key_of_group, first_at, last_at in groups:
        # The query reads received dossiers with a calendar key: none of these is NULL.
        old_key = cast(str, key_of_group)
        first = cast(datetime, first_at).astimezone(VN_TZ).date()
        last = cast(datetime, last_at).astimezone(VN_TZ).date()
        for start, end, key, cal in _segments(session, agency_id, first, last, now=now):
            if key == old_key:
                continue
            report.groups += 1
            where = and_(
                received,
                Dossier.agency_id == agency_id,
                Dossier.calendar_key == old_key,
                Dossier.received_at >= _local_midnight(start),
                Dossier.received_at < _local_midnight(end),
            )
            examined, moved_ids, busy = _reproject_group(session, where, old_key, key, cal, now)
            moved = len(moved_ids)
            report.examined += examined
            report.moved += moved
            report.skipped_busy += busy
            report.keys[old_key] = key
            audit.record(
                session,
                actor=None,
                action="calendar.dossiers_reprojected",
                stream=_scope_stream(key),
                now=now,
                agency_id=agency_id,
                reason="Lịch làm việc thay đổi sau khi tiếp nhận hồ sơ: tính lại hạn giải quyết.",
                data={
                    "calendar_before": old_key,
                    "calendar_after": key,
                    "received_from": start.isoformat(),
                    "received_before": end.isoformat(),
                    "examined": examined,
                    "moved": moved,
                },
            )
            events.emit(
                session,
                Reprojected(
                    dossier_ids=tuple(moved_ids),
                    agency_id=agency_id,
                    calendar_before=old_key,
                    calendar_after=key,
                    at=now,
                ),
            )
    report.seconds = _time.perf_counter() - started
    if report.groups:
        log.info(
            "re-projected %d open dossiers (%d due dates moved) in %.2f s",
            report.examined,
            report.moved,
            report.seconds,
        )
    return report


def _reproject_group(
    session: Session,
    where: Any,
    old_key: str,
    key: str,
    cal: Calendar,
    now: datetime,
) -> tuple[int, list[int], int]:
    """Examined, ids of the dossiers whose legal due date moved, and those skipped as busy."""
    table = cast(Table, Dossier.__table__)
    due_type = table.c.legal_due_at.type
    move = (
        update(table)
        .where(
            table.c.id == bindparam("b_id"),
            table.c.version == bindparam("b_version"),
            table.c.calendar_key == old_key,
        )
        .values(
            calendar_key=key,
            legal_due_at=bindparam("b_due", type_=due_type),
            paused_seconds=bindparam("b_paused"),
            version=table.c.version + 1,
            updated_at=bindparam("b_now", type_=due_type),
        )
    )
    paused_ever = exists().where(
        DossierEvent.dossier_id == Dossier.id, DossierEvent.kind == "paused"
    )
    examined = busy = 0
    moved: list[int] = []

    # Fast path: never paused and not same-day (whose cut-off is per procedure).
    fast = where & ~paused_ever & (Dossier.duration_unit != "same_day")
    # Rows whose due date does not move only take the new key, in one statement per chunk of
    # ids. The conditions keep out a dossier paused meanwhile (its pause was counted in working
    # time of the old calendar: it waits for the exact path of the next run).
    still_plain = fast & (Dossier.paused_seconds == 0) & Dossier.paused_since.is_(None)
    last_id = 0
    while True:
        rows = session.execute(
            select(
                Dossier.id,
                Dossier.version,
                Dossier.received_at,
                Dossier.duration_unit,
                Dossier.duration_amount,
                Dossier.legal_due_at,
            )
            .where(fast, Dossier.id > last_id)
            .order_by(Dossier.id)
            .limit(CHUNK)
        ).all()
        if not rows:
            break
        last_id = rows[-1][0]
        examined += len(rows)
        received = np.fromiter((int(cast(datetime, r[2]).timestamp()) for r in rows), np.int64)
        units = np.array([r[3] for r in rows])
        amounts = np.fromiter((r[4] for r in rows), dtype=np.int64)
        current = np.fromiter((int(cast(datetime, r[5]).timestamp()) for r in rows), np.int64)
        due = project_due_batch(cal, received, units, amounts)
        changed = due != current
        params_move: list[dict[str, Any]] = [
            {
                "b_id": rows[int(i)][0],
                "b_version": rows[int(i)][1],
                "b_due": datetime.fromtimestamp(int(due[i]), VN_TZ),
                "b_paused": 0,
                "b_now": now,
            }
            for i in np.flatnonzero(changed)
        ]
        relabel = still_plain & Dossier.id.between(rows[0][0], last_id)
        if params_move:
            result = session.execute(move, params_move)
            done = rowcount(result) if rowcount(result) >= 0 else len(params_move)
            ids: list[int] = [p["b_id"] for p in params_move]
            if done < len(params_move):  # a clerk changed some of them meanwhile: next run
                busy += len(params_move) - done
                relabel &= Dossier.id.not_in(ids)
                ids = list(
                    session.scalars(
                        select(Dossier.id).where(Dossier.id.in_(ids), Dossier.calendar_key == key)
                    )
                )
            moved += ids
            _log_moves(session, ids, old_key, key, now)
        session.execute(
            update(Dossier)
            .where(relabel)
            .values(calendar_key=key)
            .execution_options(synchronize_session=False)
        )

    # Exact path: the dossier feature replays the ledger (pauses, the procedure's cut-off).
    slow_ids = session.scalars(
        select(Dossier.id).where(where, paused_ever | (Dossier.duration_unit == "same_day"))
    ).all()
    for dossier_id in slow_ids:
        d = session.get(Dossier, dossier_id)
        if d is None:  # pragma: no cover - read in this transaction
            continue
        examined += 1
        values = clock.reproject(session, d, key, cal)
        # The exact path always goes through the versioned update: its dossiers have pauses.
        params = {
            "b_id": d.id,
            "b_version": d.version,
            "b_due": values["legal_due_at"],
            "b_paused": values["paused_seconds"],
            "b_now": now,
        }
        result = session.execute(move, [params])
        if rowcount(result) == 0:
            busy += 1
        elif values["legal_due_at"] != d.legal_due_at:
            moved.append(d.id)
            _log_moves(session, [d.id], old_key, key, now)
    session.expire_all()  # the ORM objects read above are stale after Core updates
    return examined, moved, busy


def _log_moves(session: Session, ids: list[int], old_key: str, key: str, now: datetime) -> None:
    """One ``reprojected`` event in each moved dossier's clock ledger, so that the dossier itself
    says why its legal due date changed (docs/worktime.md: re-project and log why)."""
    ev = cast(Table, DossierEvent.__table__)
    d = cast(Table, Dossier.__table__)
    next_seq = (
        select(func.coalesce(func.max(ev.c.seq), 0) + 1)
        .where(ev.c.dossier_id == d.c.id)
        .scalar_subquery()
    )
    data = {"calendar_before": old_key, "calendar_after": key}
    for start in range(0, len(ids), 5000):
        chunk = ids[start : start + 5000]
        session.execute(
            insert(ev).from_select(
                ["dossier_id", "seq", "kind", "action", "at", "data"],
                select(
                    d.c.id,
                    next_seq,
                    literal("reprojected"),
                    literal("reproject"),
                    literal(now, type_=UTCDateTime()),
                    literal(data, type_=JSONType),
                ).where(d.c.id.in_(chunk), d.c.calendar_key == key),
            )
        )

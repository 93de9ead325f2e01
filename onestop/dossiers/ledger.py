"""Replaying the clock ledger: the columns a dossier's events imply, and a check that they match.

The ledger (``dossier_events``) is the source of truth; the dossier row materialises it for the
queues and the statistics. :func:`replay` rebuilds the materialised columns from the events
alone (plus the calendar named in them), so that any row, whether written by the services or
loaded in bulk by the synthetic-province generator, can be checked against its history.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from onestop.accounts.models import User
from onestop.agencies.models import Agency
from onestop.dossiers import clock
from onestop.dossiers.models import Dossier, DossierEvent
from onestop.dossiers.states import TRANSITIONS, Action, State
from onestop.worktime import Calendar, Duration


def illegal_transitions(events: Iterable[DossierEvent]) -> list[str]:
    """Transitions in the ledger that the state machine does not allow (empty when all do):
    each must start where the previous one ended, from a source state of its edge, and end in
    the edge's target (or stay put when the edge has none)."""
    problems = []
    state: str | None = None
    for ev in events:
        if ev.kind != "transition":
            continue
        try:
            edge = TRANSITIONS[Action(ev.action)]
        except ValueError:
            problems.append(f"{ev.seq}: unknown action {ev.action}")
            continue
        first = edge.action == Action.SUBMIT
        if (state is None) != first or ev.from_state != state:
            problems.append(f"{ev.seq}: {ev.action} from {ev.from_state}, dossier was {state}")
        elif not first and state is not None and State(state) not in edge.sources:
            problems.append(f"{ev.seq}: {ev.action} not allowed from {state}")
        target = edge.target.value if edge.target else state
        if ev.to_state != target:
            problems.append(f"{ev.seq}: {ev.action} ended in {ev.to_state}, not {target}")
        state = ev.to_state
    return problems


# The columns replay rebuilds (identity, applicant and submission data are not in the ledger).
CHECKED = (
    "state",
    "version",
    "code",
    "received_at",
    "clock_start_at",
    "duration_amount",
    "duration_unit",
    "calendar_key",
    "promised_due_at",
    "legal_due_at",
    "extended_due_at",
    "paused_since",
    "paused_seconds",
    "supplement_count",
    "apology_count",
    "current_step",
    "step_due_at",
    "resolved_at",
    "returned_at",
    "stopped_at",
    "finished_at",
    "assigned_to_id",
    "current_unit_id",
)


def _dt(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def replay(
    events: Iterable[DossierEvent],
    *,
    agency_id: int,
    user_id: Callable[[str], int | None],
    unit_id: Callable[[str], int | None],
    calendar: Callable[[str], Calendar],
) -> dict[str, Any]:
    """The materialised columns implied by one dossier's events (in ``seq`` order)."""
    c: dict[str, Any] = dict.fromkeys(CHECKED)
    c.update(
        version=0, paused_seconds=0, supplement_count=0, apology_count=0, current_unit_id=agency_id
    )
    cutoff = time(15, 0)
    pauses: list[tuple[datetime, datetime | None]] = []
    for ev in events:
        data = ev.data or {}
        if ev.kind == "transition":
            c["version"] += 1
            c["state"] = ev.to_state
            if ev.action == "receive":
                c["received_at"] = ev.at
            elif ev.action in ("assign", "reassign"):
                c["assigned_to_id"] = user_id(data["assignee"])
            elif ev.action == "release":
                c["assigned_to_id"] = None
            elif ev.action == "forward":
                c["assigned_to_id"] = None
                c["current_unit_id"] = unit_id(data["to_unit"])
            elif ev.action == "request_supplement":
                c["supplement_count"] += 1
            elif ev.action == "apologize":
                c["apology_count"] += 1
            elif ev.action == "resolve":
                c["resolved_at"] = ev.at
            elif ev.action == "return_result":
                c["returned_at"] = ev.at
        elif ev.kind == "started":
            duration = data["duration"]
            c.update(
                code=data["code"],
                clock_start_at=_dt(data["effective_start"]),
                duration_amount=duration["amount"],
                duration_unit=duration["unit"],
                calendar_key=data["calendar"],
                promised_due_at=_dt(data["due_at"]),
                legal_due_at=_dt(data["due_at"]),
            )
            hh, mm = data.get("cutoff", "15:00").split(":")
            cutoff = time(int(hh), int(mm))
        elif ev.kind == "step_entered":
            c["current_step"] = data["step"]
            c["step_due_at"] = _dt(data.get("due_at"))
        elif ev.kind == "paused":
            c["paused_since"] = ev.at
            pauses.append((ev.at, None))
        elif ev.kind == "resumed":
            paused = int(data["paused_working_seconds"])
            c["paused_since"] = None
            c["paused_seconds"] += paused
            c["legal_due_at"] = _dt(data.get("legal_due_at"))
            if c["step_due_at"] is not None:
                cal = calendar(c["calendar_key"])
                c["step_due_at"] = cal.shift_working(c["step_due_at"], timedelta(seconds=paused))
            if pauses and pauses[-1][1] is None:
                pauses[-1] = (pauses[-1][0], ev.at)
        elif ev.kind == "extended":
            c["extended_due_at"] = _dt(data["new_due_at"])
        elif ev.kind == "finished":
            c.update(finished_at=ev.at, current_step=None, step_due_at=None)
        elif ev.kind == "stopped":
            c.update(stopped_at=ev.at, finished_at=ev.at, current_step=None, step_due_at=None)
        elif ev.kind == "reprojected":
            # Same rule as clock.reproject: the receipt's due date under the new calendar, moved
            # by the working time paused (closed pauses only).
            key = data["calendar_after"]
            cal = calendar(key)
            base = cal.due_at(
                c["received_at"],
                Duration(c["duration_amount"], c["duration_unit"]),
                cutoff=cutoff,
            )
            paused = sum(
                max(0, cal.working_seconds_between(a, b)) for a, b in pauses if b is not None
            )
            c.update(
                calendar_key=key,
                legal_due_at=cal.shift_working(base, timedelta(seconds=paused)),
                paused_seconds=paused,
            )
    return c


@dataclass(frozen=True)
class Mismatch:
    dossier_id: int
    column: str
    stored: Any
    replayed: Any


def check(session: Session, dossier_ids: list[int]) -> list[Mismatch]:
    """Replay the ledger of each dossier and list every column that differs from the row."""
    users = dict(session.execute(select(User.username, User.id)).all())
    units = dict(session.execute(select(Agency.code, Agency.id)).all())
    out: list[Mismatch] = []
    for start in range(0, len(dossier_ids), 1000):
        chunk = dossier_ids[start : start + 1000]
        rows = {d.id: d for d in session.scalars(select(Dossier).where(Dossier.id.in_(chunk)))}
        events: dict[int, list[DossierEvent]] = {i: [] for i in chunk}
        for ev in session.scalars(
            select(DossierEvent)
            .where(DossierEvent.dossier_id.in_(chunk))
            .order_by(DossierEvent.dossier_id, DossierEvent.seq)
        ):
            events[ev.dossier_id].append(ev)
        for dossier_id in chunk:
            d = rows.get(dossier_id)
            if d is None:
                continue
            for problem in illegal_transitions(events[dossier_id]):
                out.append(Mismatch(dossier_id, "transition", problem, None))
            replayed = replay(
                events[dossier_id],
                agency_id=d.agency_id,
                user_id=users.get,
                unit_id=units.get,
                calendar=lambda key: clock.calendar_by_key(session, key)[1],
            )
            for column in CHECKED:
                stored = getattr(d, column)
                if stored != replayed[column]:
                    out.append(Mismatch(dossier_id, column, stored, replayed[column]))
        session.expunge_all()
    return out

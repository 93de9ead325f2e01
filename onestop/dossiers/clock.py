"""The dossier clock: which calendar applies, re-projection from the ledger, and the
per-dossier on-time verdict of Decision 766/QĐ-TTg."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from onestop.calendars import resolution
from onestop.core.clock import VN_TZ
from onestop.dossiers.models import Dossier, DossierEvent
from onestop.dossiers.states import State
from onestop.worktime import Calendar, Duration, TimeUnit


def calendar_for(session: Session, agency_id: int, *, now: datetime) -> tuple[str, Calendar]:
    """The calendar in force for an agency at ``now``, with the key that identifies its
    version (stored with the dossier: the same calendar comes back later by key)."""
    return resolution.calendar_for_agency(session, agency_id, now=now)


def calendar_by_key(session: Session, key: str | None) -> tuple[str, Calendar]:
    """The calendar a dossier was received under (or re-projected to)."""
    if key is None:
        raise ValueError("dossier has no calendar yet")
    return key, resolution.calendar_by_key(session, key)


def _pauses(session: Session, d: Dossier) -> list[tuple[datetime, datetime | None]]:
    """Pause intervals from the ledger, the last one open when the clock is paused now."""
    rows = session.execute(
        select(DossierEvent.kind, DossierEvent.at)
        .where(DossierEvent.dossier_id == d.id, DossierEvent.kind.in_(("paused", "resumed")))
        .order_by(DossierEvent.seq)
    ).all()
    out: list[tuple[datetime, datetime | None]] = []
    for kind, at in rows:
        if kind == "paused":
            out.append((at, None))
        elif out and out[-1][1] is None:
            out[-1] = (out[-1][0], at)
    return out


def _cutoff(session: Session, d: Dossier) -> time:
    data = session.scalar(
        select(DossierEvent.data).where(
            DossierEvent.dossier_id == d.id, DossierEvent.kind == "started"
        )
    )
    hh, mm = (data or {}).get("cutoff", "15:00").split(":")
    return time(int(hh), int(mm))


def reproject(session: Session, d: Dossier, key: str, cal: Calendar) -> dict[str, Any]:
    """Recompute the legal due date of a received dossier under ``cal`` from its ledger.

    The promised date printed on the receipt is never touched; only the legal due date (and
    the working time paused) follow the new calendar.
    """
    if d.received_at is None or d.duration_amount is None or d.duration_unit is None:
        raise ValueError(f"dossier {d.id} has not been received: it has no due date to move")
    base = cal.due_at(
        d.received_at,
        Duration(d.duration_amount, TimeUnit(d.duration_unit)),
        cutoff=_cutoff(session, d),
    )
    paused = sum(
        max(0, cal.working_seconds_between(start, end))
        for start, end in _pauses(session, d)
        if end is not None
    )
    return {
        "calendar_key": key,
        "legal_due_at": cal.shift_working(base, timedelta(seconds=paused)),
        "paused_seconds": paused,
    }


class Verdict(StrEnum):
    EARLY = "early"  # trước hạn
    ON_TIME = "on_time"  # đúng hạn
    LATE = "late"  # quá hạn
    LATE_WITH_APOLOGY = "late_with_apology"  # quá hạn, có văn bản xin lỗi
    IN_PROGRESS = "in_progress"  # đang xử lý, trong hạn
    OVERDUE = "overdue"  # đang xử lý, quá hạn
    NOT_COUNTED = "not_counted"  # chưa tiếp nhận, từ chối, hoặc rút trước khi xử lý


VERDICT_LABELS = {
    Verdict.EARLY: "Trước hạn",
    Verdict.ON_TIME: "Đúng hạn",
    Verdict.LATE: "Quá hạn",
    Verdict.LATE_WITH_APOLOGY: "Quá hạn (đã có văn bản xin lỗi, hẹn lại)",
    Verdict.IN_PROGRESS: "Đang giải quyết, trong hạn",
    Verdict.OVERDUE: "Đang giải quyết, quá hạn",
    Verdict.NOT_COUNTED: "Không tính",
}


@dataclass(frozen=True)
class VerdictResult:
    verdict: Verdict
    due_at: datetime | None  # the legal due date after the citizen's waiting time
    end_at: datetime | None

    @property
    def label(self) -> str:
        return VERDICT_LABELS[self.verdict]


def verdict(d: Dossier, cal: Calendar | None, *, at: datetime) -> VerdictResult:
    """Decision 766 progress verdict for one dossier at instant ``at``.

    On time ⇔ end of processing − time waiting for the citizen ≤ due date; we keep the waiting
    time inside the legal due date (it moved by the paused working time), which is the same
    comparison. A second supplement request makes the dossier late. [ours] early = resolved
    on a working day before the due day; on time = on the due day, not after the due time.
    """
    if d.received_at is None or d.legal_due_at is None or d.state == State.REFUSED:
        return VerdictResult(Verdict.NOT_COUNTED, None, None)
    due = d.legal_due_at
    second_supplement = d.supplement_count >= 2
    if d.finished_at is None:
        if d.paused_since is not None and cal is not None:
            waited = max(0, cal.working_seconds_between(d.paused_since, at))
            due = cal.shift_working(due, timedelta(seconds=waited))
        late = second_supplement or at > due
        return VerdictResult(Verdict.OVERDUE if late else Verdict.IN_PROGRESS, due, None)
    end = d.finished_at
    if second_supplement or end > due:
        v = Verdict.LATE_WITH_APOLOGY if d.apology_count else Verdict.LATE
        return VerdictResult(v, due, end)
    if end.astimezone(VN_TZ).date() < due.astimezone(VN_TZ).date():
        return VerdictResult(Verdict.EARLY, due, end)
    return VerdictResult(Verdict.ON_TIME, due, end)


def time_left_seconds(d: Dossier, cal: Calendar, *, at: datetime) -> int | None:
    """Working seconds until the legal due date (negative when overdue; None when not open)."""
    if d.legal_due_at is None or d.finished_at is not None:
        return None
    if d.paused_since is not None:
        return cal.working_seconds_between(d.paused_since, d.legal_due_at)
    return cal.working_seconds_between(at, d.legal_due_at)

"""The clock ledger: re-projection from the ledger agrees with the incremental path, follows a
calendar change, and the Decision 766/QĐ-TTg verdict of each dossier (docs/domain.md §3 and §8)."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from sqlalchemy import select, update

from onestop.calendars.services import OverrideInput, add_override
from onestop.core.audit import AuditEvent
from onestop.core.clock import VN_TZ
from onestop.dossiers import clock
from onestop.dossiers.models import Dossier
from onestop.dossiers.reprojection import reproject_open_dossiers
from tests.dossiers.helpers import act, ok, submit, supply
from tests.factories import AGENCY_A

# Cấp Giấy chứng nhận quyền sử dụng đất lần đầu: 20 working days, and land law takes the time
# the applicant spends paying out of the processing time (payment pauses the clock).
FIRST_LAND_CERTIFICATE = "1.013978"
HOUR = 3600


def vn(month: int, day: int, hh: int, mm: int = 0, ss: int = 0) -> datetime:
    """An instant in 2026, Vietnam time."""
    return datetime(2026, month, day, hh, mm, ss, tzinfo=VN_TZ)


def at_utc(value: str) -> datetime:
    return datetime.fromisoformat(value)


def received_dossier(world, frozen_clock, procedure: str | None = None) -> dict:
    """Submitted and received on Thursday 05/03/2026 at 09:00."""
    frozen_clock.set(vn(3, 5, 9))
    kw = {"procedure": procedure} if procedure else {}
    d = ok(submit(world.client, world["citizen"], **kw), 201)
    return ok(act(world.client, world["clerk_a"], d["id"], "receive"))


def stored(session, dossier_id: int) -> Dossier:
    return session.scalars(
        select(Dossier).where(Dossier.id == dossier_id).execution_options(populate_existing=True)
    ).one()


def test_reprojection_from_the_ledger_matches_the_incremental_clock_after_two_pauses(
    world, frozen_clock, session
):
    c, clerk, citizen = world.client, world["clerk_a"], world["citizen"]
    d = received_dossier(world, frozen_clock, FIRST_LAND_CERTIFICATE)
    promised = at_utc(d["promised_due_at"])
    # Pause 1: supplement requested Monday 09/03 10:00, supplied Wednesday 11/03 14:00:
    # 5.5 h + 8 h + 5 h = 18.5 working hours.
    frozen_clock.set(vn(3, 9, 10))
    ok(act(c, clerk, d["id"], "request_supplement", {"missing": ["Sơ đồ thửa đất"]}))
    frozen_clock.set(vn(3, 11, 14))
    ok(supply(c, citizen, d["id"], {"note": "Đã nộp sơ đồ"}))
    # Pause 2: land taxes requested Friday 20/03 09:00, paid Tuesday 24/03 11:00:
    # 6.5 h + 8 h + 3.5 h = 18 working hours.
    frozen_clock.set(vn(3, 20, 9))
    ok(act(c, clerk, d["id"], "request_payment", {"reason": "Nộp tiền sử dụng đất"}))
    frozen_clock.set(vn(3, 24, 11))
    d = ok(act(c, clerk, d["id"], "confirm_payment"))

    assert d["paused_working_seconds"] == int(36.5 * HOUR)
    assert at_utc(d["promised_due_at"]) == promised  # the receipt never changes
    row = stored(session, d["id"])
    key, cal = clock.calendar_by_key(session, row.calendar_key)
    assert cal.working_seconds_between(promised, row.legal_due_at) == int(36.5 * HOUR)

    replayed = clock.reproject(session, row, key, cal)
    assert replayed["legal_due_at"] == row.legal_due_at
    assert replayed["paused_seconds"] == row.paused_seconds == int(36.5 * HOUR)


def test_a_day_off_added_after_receipt_moves_the_legal_due_date_not_the_promised_one(
    world, frozen_clock, session
):
    d = received_dossier(world, frozen_clock)
    # Receipt day not counted: Fri 06, Mon 09, Tue 10 → due Tuesday 17:00.
    assert at_utc(d["promised_due_at"]) == vn(3, 10, 17)
    assert d["legal_due_at"] == d["promised_due_at"]

    # Friday: the commune announces Monday 09/03 as an extra day off.
    frozen_clock.set(vn(3, 6, 10))
    add_override(
        session,
        OverrideInput(
            date=date(2026, 3, 9),
            kind="day_off",
            name="Nghỉ để phục vụ bầu cử",
            source="Thông báo số 15/TB-UBND ngày 06/03/2026",
            agency_code=AGENCY_A,
        ),
        actor=None,
        now=frozen_clock(),
    )
    session.commit()

    # The ledger replayed under the new calendar: one working day later, Wednesday 17:00.
    row = stored(session, d["id"])
    key, cal = clock.calendar_for(session, row.agency_id, now=frozen_clock())
    assert key != row.calendar_key
    assert clock.reproject(session, row, key, cal)["legal_due_at"] == vn(3, 11, 17)

    # The re-projection job applies it and says why; the receipt's date stays.
    report = reproject_open_dossiers(session, now=frozen_clock())
    session.commit()
    assert report.moved >= 1
    after = ok(world.client.get(f"/api/v1/dossiers/{d['id']}", headers=world["citizen"]))
    assert at_utc(after["legal_due_at"]) == vn(3, 11, 17)
    assert after["promised_due_at"] == d["promised_due_at"]
    logged = session.scalars(
        select(AuditEvent.action).where(AuditEvent.action == "calendar.dossiers_reprojected")
    ).all()
    assert logged


def resolve_at(world, frozen_clock, dossier_id: int, when: datetime) -> dict:
    frozen_clock.set(when)
    return ok(act(world.client, world["manager_a"], dossier_id, "resolve", {"result": "Đã cấp"}))


@pytest.mark.parametrize(
    ("resolved_at", "verdict", "label"),
    [
        (vn(3, 9, 10), "early", "Trước hạn"),  # Monday, the working day before the due day
        (vn(3, 10, 8), "on_time", "Đúng hạn"),  # the due day, in the morning
        (vn(3, 10, 17), "on_time", "Đúng hạn"),  # exactly at the due time
        (vn(3, 10, 17, 0, 1), "late", "Quá hạn"),  # one second after
        (vn(3, 11, 8), "late", "Quá hạn"),  # the next morning
    ],
)
def test_verdict_of_a_resolved_dossier(world, frozen_clock, resolved_at, verdict, label):
    d = received_dossier(world, frozen_clock)  # due Tuesday 10/03 17:00
    d = resolve_at(world, frozen_clock, d["id"], resolved_at)
    assert d["verdict"]["verdict"] == verdict and d["verdict"]["label"] == label
    # Returning the result later does not change the end of processing (state 9 counts).
    frozen_clock.set(vn(3, 20, 9))
    d = ok(act(world.client, world["clerk_a"], d["id"], "return_result", {"method": "desk"}))
    assert d["verdict"]["verdict"] == verdict


def test_late_with_an_apology_still_counts_late(world, frozen_clock):
    d = received_dossier(world, frozen_clock)
    frozen_clock.set(vn(3, 9, 9))  # Monday 09:00: more than one working day before the due date
    d = ok(
        act(
            world.client,
            world["manager_a"],
            d["id"],
            "apologize",
            {"reason": "Chờ kết quả xác minh", "new_due_at": vn(3, 13, 17).isoformat()},
        )
    )
    assert at_utc(d["extended_due_at"]) == vn(3, 13, 17)
    # Resolved before the new date but after the legal one: late, with an apology.
    d = resolve_at(world, frozen_clock, d["id"], vn(3, 12, 9))
    assert d["verdict"]["verdict"] == "late_with_apology"
    assert d["verdict"]["label"] == "Quá hạn (đã có văn bản xin lỗi, hẹn lại)"


def test_a_second_supplement_request_counts_the_dossier_late(world, frozen_clock, session):
    c, clerk, citizen = world.client, world["clerk_a"], world["citizen"]
    d = received_dossier(world, frozen_clock)
    # The marriage-status procedure allows one request; a sector whose law allows more is
    # simulated by raising the dossier's own limit (copied from the procedure at submission).
    session.execute(update(Dossier).where(Dossier.id == d["id"]).values(max_supplement_requests=2))
    session.commit()
    for when, missing in ((vn(3, 6, 8), "Tờ khai"), (vn(3, 6, 10), "Bản sao CCCD")):
        frozen_clock.set(when)
        ok(act(c, clerk, d["id"], "request_supplement", {"missing": [missing]}))
        frozen_clock.advance(hours=1)
        ok(supply(c, citizen, d["id"]))
    d = resolve_at(world, frozen_clock, d["id"], vn(3, 9, 9))  # a day early by the clock
    assert d["supplement_count"] == 2
    assert d["verdict"]["verdict"] == "late"


def test_in_progress_until_the_due_time_then_overdue_and_waiting_time_excluded(
    world, frozen_clock, session
):
    d = received_dossier(world, frozen_clock)  # due Tuesday 10/03 17:00
    row = stored(session, d["id"])
    _, cal = clock.calendar_by_key(session, row.calendar_key)
    assert clock.verdict(row, cal, at=vn(3, 10, 16, 59)).verdict == clock.Verdict.IN_PROGRESS
    assert clock.verdict(row, cal, at=vn(3, 10, 17, 1)).verdict == clock.Verdict.OVERDUE
    assert clock.verdict(row, cal, at=vn(3, 10, 17, 1)).label == "Đang giải quyết, quá hạn"

    # Monday 09:00 the citizen is asked to supplement; on Thursday, past the original due
    # date, the dossier is still in time: the days waiting for the citizen do not count.
    frozen_clock.set(vn(3, 9, 9))
    ok(act(world.client, world["clerk_a"], d["id"], "request_supplement", {"missing": ["Ảnh"]}))
    frozen_clock.set(vn(3, 12, 9))
    waiting = ok(world.client.get(f"/api/v1/dossiers/{d['id']}", headers=world["citizen"]))
    assert waiting["paused"] is True
    assert waiting["verdict"]["verdict"] == "in_progress"
    # Supplied Thursday 09:00 after exactly three working days: due Friday 13/03 17:00.
    d = ok(supply(world.client, world["citizen"], d["id"]))
    assert at_utc(d["legal_due_at"]) == vn(3, 13, 17)
    row = stored(session, d["id"])
    assert clock.verdict(row, cal, at=vn(3, 13, 16)).verdict == clock.Verdict.IN_PROGRESS
    assert clock.verdict(row, cal, at=vn(3, 16, 8)).verdict == clock.Verdict.OVERDUE
    frozen_clock.set(vn(3, 16, 8))
    now_overdue = ok(world.client.get(f"/api/v1/dossiers/{d['id']}", headers=world["citizen"]))
    assert now_overdue["verdict"]["verdict"] == "overdue"

"""Open dossiers follow calendar changes made after their receipt; the receipt date does not."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from onestop.calendars import services
from onestop.core.audit import AuditEvent
from onestop.dossiers.models import Dossier, DossierEvent
from onestop.dossiers.reprojection import reproject_open_dossiers
from onestop.worktime import Duration
from tests.dossiers.helpers import act, ok, submit, supply

OVERRIDES = "/api/v1/calendar/overrides"


def vn(y, m, d, hh, mm=0):
    """An instant given in Vietnam time (UTC+7)."""
    return datetime(y, m, d, hh - 7, mm, tzinfo=UTC)


def receive(world, frozen_clock) -> int:
    frozen_clock.set(vn(2026, 3, 5, 9))  # Thursday
    d = ok(submit(world.client, world["citizen"]), 201)
    ok(act(world.client, world["clerk_a"], d["id"], "receive"))  # 3 working days
    return d["id"]


def test_a_day_off_added_after_receipt_moves_the_legal_due_date_not_the_promise(
    world, frozen_clock, session
):
    c = world.client
    plain = receive(world, frozen_clock)
    paused = receive(world, frozen_clock)
    # The second dossier waits for the citizen from Friday 10:00 to Monday 10:00.
    frozen_clock.set(vn(2026, 3, 6, 10))
    ok(act(c, world["clerk_a"], paused, "request_supplement", {"missing": ["Bản sao CCCD"]}))
    frozen_clock.set(vn(2026, 3, 9, 10))
    ok(supply(c, world["citizen"], paused, {"note": "Đã bổ sung"}))
    d1, d2 = session.get(Dossier, plain), session.get(Dossier, paused)
    old_key = d1.calendar_key
    assert d1.legal_due_at == vn(2026, 3, 10, 17)  # Friday, Monday, Tuesday
    assert d2.legal_due_at == vn(2026, 3, 11, 17)  # one working day paused
    version = d1.version

    # Monday 09/03 becomes a day off, announced after both receipts.
    frozen_clock.set(vn(2026, 3, 6, 15))
    body = {"date": "2026-03-09", "kind": "day_off", "name": "Nghỉ đột xuất", "source": "CĐ 7"}
    override = ok(c.post(OVERRIDES, json=body, headers=world["admin"]), 201)

    report = reproject_open_dossiers(session, now=frozen_clock())
    session.commit()
    assert (report.examined, report.moved) == (2, 2)
    d1, d2 = session.get(Dossier, plain), session.get(Dossier, paused)
    new_key, cal = services.calendar_for_agency(session, d1.agency_id, now=frozen_clock())
    assert new_key != old_key and d1.calendar_key == d2.calendar_key == new_key
    assert d1.legal_due_at == vn(2026, 3, 11, 17)  # Friday, Tuesday, Wednesday
    assert d1.promised_due_at == vn(2026, 3, 10, 17)  # what the receipt says never changes
    assert d1.version == version + 1  # a clerk holding the old ETag must reload
    # The pause now only counts Friday's working time (Monday is off).
    pause = cal.working_seconds_between(vn(2026, 3, 6, 10), vn(2026, 3, 9, 10))
    assert pause == (90 + 240) * 60  # Friday 10:00–11:30 and 13:00–17:00
    expected = cal.shift_working(
        cal.due_at(d2.received_at, Duration(3, "working_days")), timedelta(seconds=pause)
    )
    assert d2.legal_due_at == expected == vn(2026, 3, 12, 14, 30)  # Wednesday 17:00 + 5.5 h
    assert d2.paused_seconds == pause
    logged = session.scalars(
        select(AuditEvent).where(AuditEvent.action == "calendar.dossiers_reprojected")
    ).all()
    assert [(e.data["calendar_before"], e.data["moved"]) for e in logged] == [(old_key, 2)]
    # Each dossier's own ledger says why its due date moved.
    for dossier_id in (plain, paused):
        why = session.scalars(
            select(DossierEvent).where(
                DossierEvent.dossier_id == dossier_id, DossierEvent.kind == "reprojected"
            )
        ).all()
        assert [(e.data["calendar_before"], e.data["calendar_after"]) for e in why] == [
            (old_key, new_key)
        ]
    timeline = ok(c.get(f"/api/v1/dossiers/{plain}/timeline", headers=world["citizen"]))
    assert timeline["entries"][-1]["label"] == "Tính lại hạn giải quyết do lịch làm việc thay đổi"

    # Running again finds nothing to do.
    again = reproject_open_dossiers(session, now=frozen_clock())
    assert (again.groups, again.examined, again.moved) == (0, 0, 0)

    # Removing the day off brings the first dossier back to Tuesday.
    ok_resp = c.delete(f"{OVERRIDES}/{override['id']}", headers=world["admin"])
    assert ok_resp.status_code == 204
    back = reproject_open_dossiers(session, now=frozen_clock())
    session.commit()
    assert back.moved == 2
    assert session.get(Dossier, plain).legal_due_at == vn(2026, 3, 10, 17)
    assert session.get(Dossier, plain).calendar_key == old_key
    assert session.get(Dossier, paused).legal_due_at == vn(2026, 3, 11, 17)


def test_a_change_that_does_not_touch_a_dossier_only_relabels_it(world, frozen_clock, session):
    plain = receive(world, frozen_clock)
    version = session.get(Dossier, plain).version
    body = {"date": "2026-12-31", "kind": "day_off", "name": "Nghỉ cuối năm", "source": "TB 9"}
    ok(world.client.post(OVERRIDES, json=body, headers=world["admin"]), 201)
    report = reproject_open_dossiers(session, now=frozen_clock())
    session.commit()
    assert (report.examined, report.moved) == (1, 0)
    d = session.get(Dossier, plain)
    assert d.legal_due_at == vn(2026, 3, 10, 17) and d.version == version
    key, _ = services.calendar_for_agency(session, d.agency_id, now=frozen_clock())
    assert d.calendar_key == key


def test_cli_prints_due_dates_days_off_and_reprojects(app, session, frozen_clock):
    runner = app.test_cli_runner()
    due = runner.invoke(
        args=[
            "onestop", "calendar", "due", "--received-at", "2026-02-12T10:00:00+07:00",
            "--amount", "3", "--unit", "working_days",
        ]
    )  # fmt: skip
    assert due.exit_code == 0, due.output
    assert "Hạn giải quyết: 17 giờ 00 phút, Thứ Ba 24/02/2026" in due.output
    assert "Không tính Thứ Ba 17/02/2026: Tết Nguyên Đán" in due.output

    naive = runner.invoke(
        args=["onestop", "calendar", "due", "--received-at", "2026-02-12T10:00",
              "--amount", "3", "--unit", "working_days"]
    )  # fmt: skip
    assert naive.exit_code != 0 and "múi giờ" in naive.output

    show = runner.invoke(args=["onestop", "calendar", "show", "2026"])
    assert show.exit_code == 0, show.output
    lines = show.output.splitlines()
    saturday = next(line for line in lines if "22/08/2026" in line)
    assert "Ngày làm việc bù" in saturday and "nguồn:" in saturday
    assert any("27/04/2026" in line and "nghỉ bù" in line.lower() for line in lines)
    assert not any("Chủ Nhật" in line and "Ngày nghỉ hằng tuần" in line for line in lines)

    reproject = runner.invoke(args=["onestop", "calendar", "reproject"])
    assert reproject.exit_code == 0 and "Đã xem 0 hồ sơ" in reproject.output

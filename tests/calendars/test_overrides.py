"""Administrators change the calendar: overrides and agency hours, versioned and audited."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
from sqlalchemy import select

from onestop.agencies.services import get_by_code
from onestop.calendars import resolution, services
from onestop.calendars.models import CalendarVersion
from onestop.core.access import Role
from onestop.core.audit import AuditEvent, verify
from onestop.core.clock import now
from onestop.worktime import build_calendar
from tests.factories import AGENCY_A, AGENCY_B, login, make_user, seed_agencies

OVERRIDES = "/api/v1/calendar/overrides"
DESK_OF_A = "000.31.01.H56"  # a unit under agency A: inherits its calendar


def due_at(client, received_at: str, amount: int, unit: str, agency: str | None = None) -> str:
    params = {"received_at": received_at, "amount": amount, "unit": unit}
    if agency:
        params["agency"] = agency
    resp = client.get(f"/api/v1/calendar/due-date?{urlencode(params)}")
    assert resp.status_code == 200, resp.json
    return resp.json["due_at"]


@pytest.fixture
def admin(client, session) -> dict[str, str]:
    seed_agencies(session)
    return login(client, make_user(session, Role.ADMIN).username)


def extra_day_off(**overrides) -> dict:
    return {
        "date": "2026-02-09",
        "kind": "day_off",
        "name": "Nghỉ do bão số 3",
        "source": "Công điện 12/CĐ-UBND",
        **overrides,
    }


def calendar_events(session, stream: str) -> list[AuditEvent]:
    return list(
        session.scalars(
            select(AuditEvent).where(AuditEvent.stream == stream).order_by(AuditEvent.seq)
        )
    )


def test_an_extra_day_off_moves_due_dates_and_removing_it_restores_them(client, session, admin):
    before = due_at(client, "2026-02-05T10:00:00+07:00", 3, "working_days")
    assert before == "2026-02-10T17:00:00+07:00"
    version_before = services.current_version(session)
    key_before = client.get("/api/v1/calendar/days?from=2026-02-09&to=2026-02-09").json[
        "calendar_versions"
    ]

    resp = client.post(OVERRIDES, json=extra_day_off(), headers=admin)
    assert resp.status_code == 201, resp.json
    created = resp.json
    assert created["kind"] == "day_off" and created["agency_code"] is None
    assert created["created_version"] == version_before + 1

    # Monday 09/02 is off now: the third working day is Wednesday 11/02.
    assert due_at(client, "2026-02-05T10:00:00+07:00", 3, "working_days") == (
        "2026-02-11T17:00:00+07:00"
    )
    day = client.get("/api/v1/calendar/days?from=2026-02-09&to=2026-02-09").json
    assert day["days"][0]["working"] is False
    assert day["days"][0]["kind"] == "extra_day_off"
    assert day["days"][0]["source"] == "Công điện 12/CĐ-UBND"
    assert day["calendar_versions"] != key_before

    listed = client.get(f"{OVERRIDES}?year=2026", headers=admin).json
    assert [o["id"] for o in listed["items"]] == [created["id"]]
    assert listed["calendar_version_number"] == version_before + 1

    removed = client.delete(f"{OVERRIDES}/{created['id']}", headers=admin)
    assert removed.status_code == 204
    assert due_at(client, "2026-02-05T10:00:00+07:00", 3, "working_days") == before
    # The same calendar as before the change: the same key, under a newer version number.
    again = client.get("/api/v1/calendar/days?from=2026-02-09&to=2026-02-09").json
    assert again["calendar_versions"] == key_before
    assert services.current_version(session) == version_before + 2

    # Removed, not deleted: it stays in the history.
    assert client.get(OVERRIDES, headers=admin).json["items"] == []
    history = client.get(f"{OVERRIDES}?include_removed=true", headers=admin).json["items"]
    assert history[0]["id"] == created["id"] and history[0]["removed_at"]

    events = calendar_events(session, "calendar:national")
    assert [e.action for e in events] == ["calendar.override_added", "calendar.override_removed"]
    assert events[0].data["source"] == "Công điện 12/CĐ-UBND"
    assert events[0].data["calendar_before"] != events[0].data["calendar_after"]
    assert events[1].data["calendar_after"] == events[0].data["calendar_before"]
    assert events[0].actor_role == "administrator"
    assert list(verify(session)) == []

    # Removing twice changes nothing and records nothing.
    assert client.delete(f"{OVERRIDES}/{created['id']}", headers=admin).status_code == 204
    assert len(calendar_events(session, "calendar:national")) == 2


def test_a_make_up_saturday_added_by_an_administrator_is_worked(client, admin):
    # Saturday 07/03/2026 becomes a working day: Friday 06/03 + 1 working day is that Saturday.
    assert due_at(client, "2026-03-06T10:00:00+07:00", 1, "working_days") == (
        "2026-03-09T17:00:00+07:00"
    )
    body = extra_day_off(date="2026-03-07", kind="working_day", name="Thứ Bảy làm việc bù")
    assert client.post(OVERRIDES, json=body, headers=admin).status_code == 201
    assert due_at(client, "2026-03-06T10:00:00+07:00", 1, "working_days") == (
        "2026-03-07T17:00:00+07:00"
    )


def test_removing_a_computed_holiday_makes_it_a_working_day(client, admin):
    # Hùng Kings' compensatory day, Monday 27/04/2026.
    assert due_at(client, "2026-04-24T10:00:00+07:00", 1, "working_days") == (
        "2026-04-28T17:00:00+07:00"
    )
    body = extra_day_off(date="2026-04-27", kind="remove_holiday", name="Không nghỉ bù")
    assert client.post(OVERRIDES, json=body, headers=admin).status_code == 201
    assert due_at(client, "2026-04-24T10:00:00+07:00", 1, "working_days") == (
        "2026-04-27T17:00:00+07:00"
    )


@pytest.mark.parametrize(
    ("body", "status", "slug", "field"),
    [
        (extra_day_off(source=""), 422, "request.invalid", "source"),
        ({k: v for k, v in extra_day_off().items() if k != "source"}, 422, "request.invalid",
         "source"),
        (extra_day_off(kind="holiday"), 422, "request.invalid", "kind"),
        (extra_day_off(date="2026-02-08"), 422, "worktime.invalid_spec", "date"),  # a Sunday
        (extra_day_off(date="2026-02-10", kind="working_day"), 422, "worktime.invalid_spec",
         "date"),
        (extra_day_off(date="2040-02-09"), 422, "worktime.invalid_spec", "date"),
        (extra_day_off(agency="000.99.99.H56"), 404, "agency.not_found", None),
        (extra_day_off(name="Nghỉ\u202e"), 422, "request.invalid", "name"),
    ],
)  # fmt: skip
def test_bad_overrides_are_refused_and_change_nothing(
    client, session, admin, body, status, slug, field
):
    version = services.current_version(session)
    resp = client.post(OVERRIDES, json=body, headers=admin)
    assert resp.status_code == status and resp.json["type"] == slug, resp.json
    if field:
        assert field in resp.json["errors"]["json"]
    assert services.current_version(session) == version
    assert calendar_events(session, "calendar:national") == []


def test_a_second_override_on_the_same_date_is_a_conflict(client, admin):
    assert client.post(OVERRIDES, json=extra_day_off(), headers=admin).status_code == 201
    again = client.post(OVERRIDES, json=extra_day_off(name="Trùng"), headers=admin)
    assert again.status_code == 409 and again.json["type"] == "calendar.override_exists"


def test_unknown_override_id_is_404(client, admin):
    resp = client.delete(f"{OVERRIDES}/424242", headers=admin)
    assert resp.status_code == 404 and resp.json["type"] == "calendar.override_not_found"


@pytest.mark.parametrize("role", [Role.CITIZEN, Role.CLERK, Role.MANAGER])
def test_only_administrators_change_the_calendar(client, session, role):
    seed_agencies(session)
    headers = login(
        client,
        make_user(session, role, agencies=(AGENCY_A,) if role != Role.CITIZEN else ()).username,
    )
    resp = client.post(OVERRIDES, json=extra_day_off(), headers=headers)
    assert resp.status_code == 403 and resp.json["type"] == "auth.forbidden"
    hours = client.put(
        f"/api/v1/calendar/agencies/{AGENCY_A}/working-hours",
        json={"valid_from": "2026-01-01", "weekly": {"mon": ["08:00-12:00"]}, "source": "QĐ 1"},
        headers=headers,
    )
    assert hours.status_code == 403
    assert due_at(client, "2026-02-05T10:00:00+07:00", 3, "working_days") == (
        "2026-02-10T17:00:00+07:00"
    )


def test_an_agency_override_applies_to_the_agency_and_below_only(client, admin):
    body = extra_day_off(agency=AGENCY_A, name="Nghỉ bầu cử tại phường")
    resp = client.post(OVERRIDES, json=body, headers=admin)
    assert resp.status_code == 201 and resp.json["agency_code"] == AGENCY_A
    received = "2026-02-05T10:00:00+07:00"
    assert due_at(client, received, 3, "working_days", AGENCY_A) == "2026-02-11T17:00:00+07:00"
    assert due_at(client, received, 3, "working_days", DESK_OF_A) == "2026-02-11T17:00:00+07:00"
    assert due_at(client, received, 3, "working_days", AGENCY_B) == "2026-02-10T17:00:00+07:00"
    assert due_at(client, received, 3, "working_days") == "2026-02-10T17:00:00+07:00"


WEEKLY_A = {d: ["07:00-11:00", "13:30-17:30"] for d in ("mon", "tue", "wed", "thu", "fri")}


def put_hours(client, headers, code=AGENCY_A, **body):
    payload = {
        "valid_from": "2026-01-01",
        "weekly": WEEKLY_A,
        "source": "Quyết định 45/QĐ-UBND về giờ làm việc",
        **body,
    }
    return client.put(
        f"/api/v1/calendar/agencies/{code}/working-hours", json=payload, headers=headers
    )


def test_an_agency_with_its_own_hours_gets_its_own_working_hour_deadlines(client, session, admin):
    received = "2026-03-09T10:00:00+07:00"  # a Monday
    # National hours: 10:00–11:30 and 13:00–15:30 make four working hours.
    assert due_at(client, received, 4, "working_hours", AGENCY_A) == "2026-03-09T15:30:00+07:00"

    resp = put_hours(client, admin)
    assert resp.status_code == 200, resp.json
    assert resp.json["hours_from"] == AGENCY_A
    assert resp.json["weekly"]["mon"] == ["07:00-11:00", "13:30-17:30"]
    assert resp.json["weekly"]["sat"] == []

    # Own hours: 10:00–11:00 and 13:30–16:30.
    assert due_at(client, received, 4, "working_hours", AGENCY_A) == "2026-03-09T16:30:00+07:00"
    assert due_at(client, received, 4, "working_hours", DESK_OF_A) == "2026-03-09T16:30:00+07:00"
    assert due_at(client, received, 4, "working_hours", AGENCY_B) == "2026-03-09T15:30:00+07:00"
    # Days end at the agency's closing time.
    assert due_at(client, received, 1, "working_days", AGENCY_A) == "2026-03-10T17:30:00+07:00"

    inherited = client.get(f"/api/v1/calendar/agencies/{DESK_OF_A}/working-hours").json
    assert inherited["hours_from"] == AGENCY_A and inherited["own"] == []
    national = client.get(f"/api/v1/calendar/agencies/{AGENCY_B}/working-hours").json
    assert national["hours_from"] is None
    assert national["weekly"]["mon"] == ["07:30-11:30", "13:00-17:00"]

    events = calendar_events(session, f"calendar:{AGENCY_A}")
    assert [e.action for e in events] == ["calendar.working_hours_set"]
    assert events[0].reason == "Quyết định 45/QĐ-UBND về giờ làm việc"


def test_hours_take_effect_from_their_date(client, admin):
    assert put_hours(client, admin, valid_from="2026-03-10").status_code == 200
    # Received the day before the new hours: the national hours still apply.
    assert due_at(client, "2026-03-09T10:00:00+07:00", 4, "working_hours", AGENCY_A) == (
        "2026-03-09T15:30:00+07:00"
    )
    assert due_at(client, "2026-03-10T10:00:00+07:00", 4, "working_hours", AGENCY_A) == (
        "2026-03-10T16:30:00+07:00"
    )
    days = client.get(f"/api/v1/calendar/days?from=2026-03-09&to=2026-03-10&agency={AGENCY_A}").json
    assert [d["periods"][0] for d in days["days"]] == ["07:30-11:30", "07:00-11:00"]
    assert len(days["calendar_versions"]) == 2


@pytest.mark.parametrize(
    ("body", "slug"),
    [
        ({"weekly": {"mon": ["11:00-07:00"]}}, "worktime.invalid_spec"),
        ({"weekly": {"mon": ["07:00-12:00", "11:00-17:00"]}}, "worktime.invalid_spec"),
        ({"weekly": {}}, "worktime.invalid_spec"),
        ({"weekly": {"monday": ["07:00-11:00"]}}, "request.invalid"),
        ({"weekly": {"mon": ["7h-11h"]}}, "request.invalid"),
        ({"source": ""}, "request.invalid"),
    ],
)
def test_bad_hours_are_refused(client, session, admin, body, slug):
    version = services.current_version(session)
    resp = put_hours(client, admin, **body)
    assert resp.status_code == 422 and resp.json["type"] == slug, resp.json
    assert services.current_version(session) == version


def test_calendar_for_agency_gives_a_key_that_rebuilds_the_same_calendar(client, session, admin):
    assert put_hours(client, admin).status_code == 200
    agency = get_by_code(session, DESK_OF_A)
    key, cal = services.calendar_for_agency(session, agency.id, now=now())
    session.commit()
    assert key == cal.version and key.startswith(f"agency-{AGENCY_A}@")
    # Another process knows nothing in memory: it rebuilds the calendar from the stored spec.
    assert session.get(CalendarVersion, key).spec["weekly"][0] == WEEKLY_A["mon"]
    resolution._BY_KEY._data.clear()
    resolution._RESOLVED._data.clear()
    build_calendar.cache_clear()
    rebuilt = services.calendar_by_key(session, key)
    assert rebuilt is not cal and rebuilt.version == key
    assert rebuilt.spec.weekly == cal.spec.weekly
    # Agencies without data of their own share the national calendar.
    national_key, _ = services.calendar_for_agency(
        session, get_by_code(session, AGENCY_B).id, now=now()
    )
    assert national_key == services.calendar_for_agency(session, None, now=now())[0]
    assert national_key.startswith("vn-national@")


def test_an_unknown_calendar_key_is_not_found(session):
    from onestop.core.errors import NotFound

    with pytest.raises(NotFound):
        services.calendar_by_key(session, "agency-000.00.00.H56@0000000000000000")


def test_an_agency_open_on_saturday_mornings_keeps_the_national_overrides(client, admin):
    """A desk open on Saturday mornings works the whole national make-up Saturday and stays
    closed on an announced day off that falls on a Saturday (Tết 2026 began Saturday 14/02)."""
    weekly = {**WEEKLY_A, "sat": ["07:30-11:30"]}
    resp = put_hours(client, admin, weekly=weekly)
    assert resp.status_code == 200, resp.json
    days = client.get(
        f"/api/v1/calendar/days?from=2026-08-15&to=2026-08-22&agency={AGENCY_A}"
    ).json["days"]
    by_date = {d["date"]: d for d in days}
    assert by_date["2026-08-15"]["working"] is True  # an ordinary Saturday: the agency's morning
    assert by_date["2026-08-22"]["working"] is True  # the national make-up Saturday
    tet = client.get(f"/api/v1/calendar/days?from=2026-02-14&to=2026-02-14&agency={AGENCY_A}")
    assert tet.json["days"][0]["working"] is False

"""The public calendar endpoints: due dates with their explanation, days, the holiday feed."""

from __future__ import annotations

from datetime import date, timedelta
from urllib.parse import urlencode

import pytest

from onestop.worktime import national_calendar

URL = "/api/v1/calendar/due-date"


def due(client, **params):
    return client.get(f"{URL}?{urlencode(params)}")


def test_three_working_days_before_tet_2026_end_before_the_break(client):
    """Received Thursday 05/02/2026 10:00: Friday, Monday, Tuesday; the Tết 2026 break
    (14/02–22/02, docs/domain.md §4) starts after the due date."""
    resp = due(client, received_at="2026-02-05T10:00:00+07:00", amount=3, unit="working_days")
    assert resp.status_code == 200, resp.json
    body = resp.json
    assert body["due_at"] == "2026-02-10T17:00:00+07:00"
    assert body["effective_start"] == "2026-02-05T10:00:00+07:00"
    counted = [s["date"] for s in body["explanation"] if s["kind"] == "counted"]
    assert counted == ["2026-02-06", "2026-02-09", "2026-02-10"]
    assert body["explanation"][-1]["text"] == "Hạn giải quyết: 17 giờ 00 phút, Thứ Ba 10/02/2026."
    assert body["calendar_version"] == national_calendar().version


def test_three_working_days_across_tet_2026_skip_the_whole_break(client):
    """Received Thursday 12/02/2026: day 1 is Friday 13/02, then nine days off (14/02–22/02),
    days 2 and 3 are Monday 23/02 and Tuesday 24/02."""
    resp = due(client, received_at="2026-02-12T10:00:00+07:00", amount=3, unit="working_days")
    assert resp.status_code == 200, resp.json
    assert resp.json["due_at"] == "2026-02-24T17:00:00+07:00"
    skipped = [s["date"] for s in resp.json["explanation"] if s["kind"] == "skipped"]
    assert skipped == [(date(2026, 2, 14) + timedelta(i)).isoformat() for i in range(9)]
    tet = next(s for s in resp.json["explanation"] if s.get("date") == "2026-02-17")
    assert "ngày nghỉ lễ, Tết" in tet["text"]


def test_make_up_saturday_22_08_2026_counts_as_a_working_day(client):
    """Thursday 20/08/2026 + 2 working days: Friday 21/08, then the make-up Saturday 22/08."""
    resp = due(client, received_at="2026-08-20T10:00:00+07:00", amount=2, unit="working_days")
    assert resp.status_code == 200, resp.json
    assert resp.json["due_at"] == "2026-08-22T17:00:00+07:00"
    saturday = next(s for s in resp.json["explanation"] if s.get("date") == "2026-08-22")
    assert saturday["kind"] == "counted" and saturday["reason"] == "makeup_working"
    assert "làm việc bù" in saturday["text"]


def test_received_in_the_evening_counts_from_the_next_morning(client):
    resp = due(client, received_at="2026-03-05T19:45:00+07:00", amount=4, unit="working_hours")
    assert resp.status_code == 200, resp.json
    assert resp.json["effective_start"] == "2026-03-06T07:30:00+07:00"
    assert resp.json["due_at"] == "2026-03-06T11:30:00+07:00"


def test_offset_other_than_vietnam_is_converted_and_plus_sent_unencoded_is_understood(client):
    # 03:00Z is 10:00 in Hà Nội; a "+" typed raw in a URL arrives as a space.
    utc = due(client, received_at="2026-02-05T03:00:00Z", amount=3, unit="working_days")
    raw = client.get(f"{URL}?received_at=2026-02-05T10:00:00+07:00&amount=3&unit=working_days")
    assert utc.status_code == raw.status_code == 200, (utc.json, raw.json)
    assert utc.json["due_at"] == raw.json["due_at"] == "2026-02-10T17:00:00+07:00"


def test_without_received_at_the_due_date_counts_from_now(client, frozen_clock):
    resp = due(client, amount=1, unit="same_day")  # the frozen clock: Thursday 05/03/2026 14:30
    assert resp.status_code == 200, resp.json
    assert resp.json["received_at"] == "2026-03-05T14:30:00+07:00"
    assert resp.json["due_at"] == "2026-03-05T17:00:00+07:00"


@pytest.mark.parametrize(
    ("params", "slug", "field"),
    [
        ({"received_at": "2026-02-05T10:00:00", "amount": 3, "unit": "working_days"},
         "worktime.naive_datetime", "received_at"),
        ({"received_at": "2026-02-05T10:00:00+07:00", "amount": -1, "unit": "working_days"},
         "worktime.invalid_amount", "amount"),
        ({"received_at": "2026-02-05T10:00:00+07:00", "amount": 3, "unit": "fortnights"},
         "worktime.unknown_unit", "unit"),
        ({"received_at": "2035-02-05T10:00:00+07:00", "amount": 3, "unit": "working_days"},
         "worktime.out_of_range", "received_at"),
        ({"received_at": "2026-02-05T10:00:00+07:00", "amount": 3, "unit": "working_days",
          "procedure": "1.004873", "channel": "online"},
         "calendar.ambiguous_duration", "procedure"),
        ({"received_at": "2026-02-05T10:00:00+07:00"}, "calendar.duration_required", "amount"),
        ({"received_at": "2026-02-05T10:00:00+07:00", "amount": 3},
         "calendar.duration_required", "unit"),
        ({"received_at": "hôm qua", "amount": 3, "unit": "working_days"},
         "request.invalid", "received_at"),
        ({"received_at": "2026-02-05T10:00:00+07:00", "amount": 3, "unit": "working_days",
          "agency": "000.99.99.H56"},
         "agency.not_found", "agency"),
        ({"amount": 3, "unit": "working_days", "days": 3}, "request.invalid", "days"),
    ],
)  # fmt: skip
def test_bad_input_is_a_422_in_the_error_shape(client, params, slug, field):
    resp = due(client, **params)
    assert resp.status_code == 422, resp.json
    body = resp.json
    assert body["code"] == 422 and body["type"] == slug and body["message"]
    assert field in body["errors"]["query"], body
    assert body["request_id"] == resp.headers["X-Request-ID"]


def test_days_say_which_days_are_worked_and_why(client):
    resp = client.get("/api/v1/calendar/days?from=2026-02-12&to=2026-02-24")
    assert resp.status_code == 200, resp.json
    days = {d["date"]: d for d in resp.json["days"]}
    assert len(days) == 13
    assert days["2026-02-13"]["working"] and days["2026-02-13"]["periods"] == [
        "07:30-11:30",
        "13:00-17:00",
    ]
    assert not any(
        days[(date(2026, 2, 14) + timedelta(i)).isoformat()]["working"] for i in range(9)
    )
    assert days["2026-02-17"]["kind"] == "holiday" and days["2026-02-17"]["kind_label"]
    assert days["2026-02-16"]["source"]  # confirmed by the yearly overrides file
    assert days["2026-02-23"]["working"]


@pytest.mark.parametrize(
    ("query", "slug"),
    [
        ("from=2026-01-01&to=2027-01-02", "calendar.range_too_long"),
        ("from=2026-03-01&to=2026-02-01", "worktime.invalid_amount"),
        ("from=2040-01-01&to=2040-01-31", "worktime.out_of_range"),
        ("from=2026-01-01", "request.invalid"),
    ],
)
def test_bad_day_ranges_are_refused(client, query, slug):
    resp = client.get(f"/api/v1/calendar/days?{query}")
    assert resp.status_code == 422 and resp.json["type"] == slug, resp.json
    assert resp.json["errors"]["query"]


def test_a_full_leap_year_is_within_the_cap(client):
    resp = client.get("/api/v1/calendar/days?from=2028-01-01&to=2028-12-31")
    assert resp.status_code == 200 and len(resp.json["days"]) == 366


def test_holiday_feed_is_icalendar_with_one_event_per_day_off_or_make_up_day(client):
    resp = client.get("/api/v1/calendar/holidays.ics?year=2026")
    assert resp.status_code == 200
    assert resp.headers["Content-Type"] == "text/calendar; charset=utf-8"
    raw = resp.get_data()
    assert raw.startswith(b"BEGIN:VCALENDAR\r\n") and raw.endswith(b"END:VCALENDAR\r\n")
    assert b"\n" not in raw.replace(b"\r\n", b"")  # every line ends with CRLF
    text = raw.decode("utf-8").replace("\r\n ", "")  # unfold (RFC 5545 §3.1)
    days = client.get("/api/v1/calendar/days?from=2026-01-01&to=2026-12-31").json["days"]
    notable = [
        d["date"].replace("-", "")
        for d in days
        if d["kind"] not in ("working", "weekend")  # holidays, days off, make-up days
    ]
    starts = [
        line.removeprefix("DTSTART;VALUE=DATE:")
        for line in text.split("\r\n")
        if line.startswith("DTSTART")
    ]
    assert text.count("BEGIN:VEVENT") == len(starts) == len(notable)
    assert starts == notable
    assert "20260217" in starts and "20260822" in starts and "20260427" in starts
    event = text.split("DTSTART;VALUE=DATE:20260822\r\n")[1].split("END:VEVENT")[0]
    assert "TRANSP:TRANSPARENT" in event and "làm việc bù" in event.lower()


def test_holiday_feed_refuses_a_year_outside_the_calendar(client):
    resp = client.get("/api/v1/calendar/holidays.ics?year=2045")
    assert resp.status_code == 422 and resp.json["type"] == "worktime.out_of_range"


@pytest.fixture
def catalogue(session):
    from tests.dossiers.helpers import sync_procedures

    sync_procedures(session)


def test_a_procedure_and_channel_give_the_appointment_date(client, catalogue):
    """Cấp Giấy xác nhận tình trạng hôn nhân (1.004873): 3 working days online."""
    resp = due(client, received_at="2026-03-05T09:00:00+07:00", procedure="1.004873",
               channel="online")  # fmt: skip
    assert resp.status_code == 200, resp.json
    assert resp.json["duration"] == {"amount": 3, "unit": "working_days", "text": "3 ngày làm việc"}
    assert resp.json["due_at"] == "2026-03-10T17:00:00+07:00"
    assert resp.json["procedure"] == "1.004873" and resp.json["channel"] == "online"


def test_a_same_day_procedure_uses_its_cut_off(client, catalogue):
    """Chứng thực bản sao (2.000815) is done the same day when asked for by 15:00
    (Decree 23/2015/NĐ-CP art. 7), otherwise the next working day."""
    early = due(client, received_at="2026-03-05T14:59:00+07:00", procedure="2.000815",
                channel="in_person")  # fmt: skip
    late = due(client, received_at="2026-03-06T15:30:00+07:00", procedure="2.000815",
               channel="in_person")  # fmt: skip
    assert early.json["due_at"] == "2026-03-05T17:00:00+07:00"
    assert late.json["due_at"] == "2026-03-09T17:00:00+07:00"  # Friday → Monday


@pytest.mark.parametrize(
    ("params", "slug", "field"),
    [
        ({"procedure": "2.000815", "channel": "online"}, "worktime.channel_not_offered", "channel"),
        ({"procedure": "2.000815", "channel": "fax"}, "worktime.unknown_channel", "channel"),
        ({"procedure": "9.999999", "channel": "online"}, "procedure.not_found", "procedure"),
        ({"procedure": "2.000815"}, "calendar.duration_required", "channel"),
    ],
)
def test_bad_procedure_queries_are_refused(client, catalogue, params, slug, field):
    resp = due(client, received_at="2026-03-05T09:00:00+07:00", **params)
    assert resp.status_code == 422 and resp.json["type"] == slug, resp.json
    assert field in resp.json["errors"]["query"]

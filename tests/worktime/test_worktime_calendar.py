"""The calendar itself: official days off, overrides and sources, specs, listing, iCalendar."""

from __future__ import annotations

import ast
import json
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import holidays
import pytest

from onestop.worktime import (
    CalendarSpec,
    Channel,
    ClockPolicy,
    Duration,
    Override,
    OverrideKind,
    Period,
    WorktimeError,
    build_calendar,
    days,
    national_calendar,
    national_spec,
    to_ics,
)

VN = ZoneInfo("Asia/Ho_Chi_Minh")
CAL = national_calendar()


def d(text: str) -> date:
    day, month, year = map(int, text.split("/"))
    return date(year, month, day)


def dates(*texts: str) -> set[date]:
    return {d(t) for t in texts}


# Typed from the official table (docs/domain.md §4): the days off falling Monday–Friday, and the
# Saturdays worked. 24/11/2026 is not a day off while the Labor Code amendment is unverified.
OFFICIAL = {
    2024: (
        dates(
            "01/01/2024", "08/02/2024", "09/02/2024", "12/02/2024", "13/02/2024", "14/02/2024",
            "18/04/2024", "29/04/2024", "30/04/2024", "01/05/2024", "02/09/2024", "03/09/2024",
        ),
        dates("04/05/2024"),
    ),
    2025: (
        dates(
            "01/01/2025", "27/01/2025", "28/01/2025", "29/01/2025", "30/01/2025", "31/01/2025",
            "07/04/2025", "30/04/2025", "01/05/2025", "02/05/2025", "01/09/2025", "02/09/2025",
        ),
        dates("26/04/2025"),
    ),
    2026: (
        dates(
            "01/01/2026", "16/02/2026", "17/02/2026", "18/02/2026", "19/02/2026", "20/02/2026",
            "27/04/2026", "30/04/2026", "01/05/2026", "31/08/2026", "01/09/2026", "02/09/2026",
        ),
        dates("22/08/2026"),
    ),
}  # fmt: skip


@pytest.mark.parametrize("year", sorted(OFFICIAL))
def test_calendar_matches_the_official_table(year: int) -> None:
    weekdays_off, saturdays_worked = OFFICIAL[year]
    listing = days(CAL, date(year, 1, 1), date(year, 12, 31))
    assert len(listing) == (366 if year == 2024 else 365)
    got_off = {
        date.fromisoformat(x["date"])
        for x in listing
        if not x["working"] and date.fromisoformat(x["date"]).weekday() < 5
    }
    got_worked = {
        date.fromisoformat(x["date"])
        for x in listing
        if x["working"] and date.fromisoformat(x["date"]).weekday() >= 5
    }
    assert got_off == weekdays_off
    assert got_worked == saturdays_worked


def test_every_swapped_day_in_python_holidays_has_its_makeup_saturday() -> None:
    spec = national_spec()
    makeup = {o.date for o in spec.overrides if o.kind is OverrideKind.WORKING_DAY}
    lib = holidays.country_holidays("VN", years=range(2020, 2031), language="vi")
    swapped_from = {
        datetime.strptime(name.rsplit(" ", 1)[1].rstrip(")"), "%d/%m/%Y").date()
        for name in lib.values()
        if name.startswith("Ngày nghỉ (thay cho")
    }
    assert swapped_from  # the library still labels swapped days as the code expects
    assert swapped_from == makeup


@pytest.mark.parametrize(
    ("day", "working", "kind", "name_part", "source_part"),
    [
        ("04/05/2024", True, "makeup_working", "Thứ Bảy làm việc bù", "2450/VPCP-KGVX"),
        ("29/04/2024", False, "swapped_day_off", "thay cho ngày 04/05/2024", "2450/VPCP-KGVX"),
        ("28/01/2025", False, "holiday", "Giao thừa Tết Nguyên Đán", "6150/TB-BLĐTBXH"),
        ("26/04/2025", True, "makeup_working", "Thứ Bảy làm việc bù", "chưa xác minh"),
        ("22/08/2026", True, "makeup_working", "Thứ Bảy làm việc bù", "chưa xác minh"),
        ("02/01/2023", False, "compensatory", "(nghỉ bù)", "khoản 3 Điều 111"),
        ("18/04/2024", False, "holiday", "Giỗ Tổ Hùng Vương", "Điều 112"),
        ("24/11/2026", True, "working", "Ngày làm việc", "chưa xác minh"),
        ("11/05/2024", False, "weekend", "Thứ Bảy", None),
        ("12/05/2024", False, "weekend", "Chủ Nhật", None),
    ],
)
def test_day_reasons_and_sources(
    day: str, working: bool, kind: str, name_part: str, source_part: str | None
) -> None:
    [info] = days(CAL, d(day), d(day))
    assert info["working"] is working
    assert info["kind"] == kind
    assert name_part in info["name"]
    if source_part is None:
        assert info["source"] is None
    else:
        assert source_part in info["source"]
    assert info["periods"] == (["07:30-11:30", "13:00-17:00"] if working else [])
    json.dumps(info)


def test_days_listing_is_inclusive_and_refuses_reversed_or_outside_ranges() -> None:
    listing = days(CAL, d("08/02/2024"), d("14/02/2024"))
    assert [x["weekday"] for x in listing] == [
        "Thứ Năm", "Thứ Sáu", "Thứ Bảy", "Chủ Nhật", "Thứ Hai", "Thứ Ba", "Thứ Tư"
    ]  # fmt: skip
    assert not any(x["working"] for x in listing)
    with pytest.raises(WorktimeError):
        days(CAL, d("14/02/2024"), d("08/02/2024"))
    with pytest.raises(WorktimeError) as info:
        days(CAL, d("25/12/2030"), d("05/01/2031"))
    assert info.value.type == "worktime.out_of_range"


# --- specs -----------------------------------------------------------------------------------


def test_spec_round_trips_through_plain_data_and_is_cached() -> None:
    spec = national_spec()
    data = json.loads(json.dumps(spec.to_dict(), ensure_ascii=False))
    again = CalendarSpec.from_dict(data)
    assert again == spec
    assert hash(again) == hash(spec)
    assert again.version == spec.version
    assert build_calendar(again) is build_calendar(spec)


def test_adding_an_override_changes_the_version_and_the_due_dates() -> None:
    spec = national_spec()
    closure = Override(d("07/05/2024"), OverrideKind.DAY_OFF, "Nghỉ đột xuất", "Quyết định thử")
    changed = spec.with_overrides(closure)
    assert changed.version != spec.version
    calendar = build_calendar(changed)
    received = datetime(2024, 5, 6, 10, 0, tzinfo=VN)
    # Tue 07/05 is now off: Wed 08 is day 1, Thu 09 day 2, Fri 10 day 3.
    assert calendar.due_at(received, Duration(3, "working_days")) == datetime(
        2024, 5, 10, 17, 0, tzinfo=VN
    )
    assert CAL.due_at(received, Duration(3, "working_days")) == datetime(
        2024, 5, 9, 17, 0, tzinfo=VN
    )
    [info] = days(calendar, d("07/05/2024"), d("07/05/2024"))
    assert (info["kind"], info["source"]) == ("extra_day_off", "Quyết định thử")


def test_agency_with_its_own_hours() -> None:
    spec = CalendarSpec.from_dict(
        {
            "name": "phuong-x",
            "weekly": [["08:00-12:00", "13:30-17:30"]] * 5 + [[], []],
            "makeup_periods": ["08:00-12:00", "13:30-17:30"],
            "overrides": [o.to_dict() for o in national_spec().overrides],
        }
    )
    calendar = build_calendar(spec)
    friday = datetime(2024, 5, 10, 16, 0, tzinfo=VN)
    # 1 h 30 on Friday, then Monday 08:00 + 30 min.
    assert calendar.add_working_hours(friday, 2) == datetime(2024, 5, 13, 8, 30, tzinfo=VN)
    assert calendar.add_working_days(friday, 1) == datetime(2024, 5, 13, 17, 30, tzinfo=VN)
    # The make-up Saturday 04/05/2024 is worked with the agency's hours.
    before_swap = datetime(2024, 5, 3, 16, 0, tzinfo=VN)
    assert calendar.add_working_hours(before_swap, 2) == datetime(2024, 5, 4, 8, 30, tzinfo=VN)
    assert calendar.version != national_spec().version


def test_calendar_in_a_zone_with_daylight_saving_counts_real_hours() -> None:
    spec = CalendarSpec(
        name="round-the-clock",
        tz="Europe/Berlin",
        weekly=((Period(0, 24 * 60),),) * 7,
        holidays_country=None,
        first_year=2024,
        last_year=2024,
    )
    calendar = build_calendar(spec)
    berlin = ZoneInfo("Europe/Berlin")
    start = datetime(2024, 3, 31, 0, 0, tzinfo=berlin)  # clocks go forward at 02:00
    end = datetime(2024, 4, 1, 0, 0, tzinfo=berlin)
    assert calendar.working_time_between(start, end) == timedelta(hours=23)
    assert calendar.add_working_hours(start, 23) == end


@pytest.mark.parametrize(
    ("override", "message_part"),
    [
        pytest.param(
            Override(d("07/05/2024"), OverrideKind.REMOVE_HOLIDAY, "x", "y"),
            "không phải ngày lễ",
            id="remove-a-day-that-is-no-holiday",
        ),
        pytest.param(
            Override(d("11/05/2024"), OverrideKind.DAY_OFF, "x", "y"),
            "đã là ngày nghỉ",
            id="day-off-on-a-saturday",
        ),
        pytest.param(
            Override(d("07/05/2024"), OverrideKind.WORKING_DAY, "x", "y"),
            "đã là ngày làm việc",
            id="working-day-on-a-weekday",
        ),
        pytest.param(
            Override(d("07/05/2024"), OverrideKind.CONFIRM_DAY_OFF, "x", "y"),
            "ngày làm việc",
            id="confirmed-day-off-that-is-working",
        ),
    ],
)
def test_overrides_that_change_nothing_are_refused(override: Override, message_part: str) -> None:
    with pytest.raises(WorktimeError) as info:
        build_calendar(national_spec().with_overrides(override))
    assert info.value.type == "worktime.invalid_spec"
    assert message_part in info.value.message


def test_a_calendar_without_the_makeup_saturday_is_refused() -> None:
    with pytest.raises(WorktimeError) as info:
        build_calendar(CalendarSpec(first_year=2024, last_year=2024))
    assert info.value.type == "worktime.invalid_spec"
    assert "29/04/2024" in info.value.message


@pytest.mark.parametrize(
    "data",
    [
        pytest.param({"tz": "Asia/Sai_Gon"}, id="unknown-zone"),
        pytest.param({"weekly": [["07:30-11:30"]] * 6}, id="six-days"),
        pytest.param({"weekly": [["07:30-12:00", "11:30-17:00"]] * 7}, id="overlap"),
        pytest.param({"weekly": [["17:00-07:30"]] * 7}, id="end-before-start"),
        pytest.param({"weekly": [[]] * 7}, id="no-working-day"),
        pytest.param({"colour": "red"}, id="unknown-key"),
        pytest.param({"first_year": 2031, "last_year": 2030}, id="years-reversed"),
    ],
)
def test_invalid_specs_are_refused(data: dict[str, object]) -> None:
    with pytest.raises(WorktimeError) as info:
        CalendarSpec.from_dict(data)
    assert info.value.type == "worktime.invalid_spec"


# --- clock policy ----------------------------------------------------------------------------


def test_clock_policy_defaults_and_channels() -> None:
    policy = ClockPolicy(in_person=Duration(5, "working_days"), online=Duration(4, "working_days"))
    assert policy.same_day_cutoff == time(15, 0)
    assert policy.max_supplement_requests == 1
    assert policy.payment_pauses_clock is False
    assert policy.duration_for("online") == Duration(4, "working_days")
    with pytest.raises(WorktimeError) as info:
        policy.duration_for(Channel.POSTAL)
    assert info.value.type == "worktime.channel_not_offered"
    with pytest.raises(WorktimeError) as info:
        policy.duration_for("fax")
    assert info.value.type == "worktime.unknown_channel"
    assert ClockPolicy.from_dict(json.loads(json.dumps(policy.to_dict()))) == policy
    hash(policy)
    received = datetime(2024, 5, 6, 10, 0, tzinfo=VN)
    assert CAL.due_for(received, policy, "online") == datetime(2024, 5, 10, 17, 0, tzinfo=VN)


def test_clock_policy_cutoff_reaches_same_day_due_dates() -> None:
    policy = ClockPolicy(in_person=Duration.same_day(), same_day_cutoff=time(16, 0))
    received = datetime(2024, 5, 6, 15, 30, tzinfo=VN)
    assert CAL.due_for(received, policy, "in_person") == datetime(2024, 5, 6, 17, 0, tzinfo=VN)


# --- iCalendar -------------------------------------------------------------------------------


def _unfold(text: str) -> list[str]:
    lines: list[str] = []
    for raw in text.split("\r\n"):
        if raw.startswith(" "):
            lines[-1] += raw[1:]
        elif raw:
            lines.append(raw)
    return lines


def test_ics_lists_holidays_and_makeup_days_in_rfc_5545_shape() -> None:
    now = datetime(2024, 1, 2, 9, 0, tzinfo=VN)
    text = to_ics(CAL, 2024, now=now)
    assert text.startswith("BEGIN:VCALENDAR\r\n") and text.endswith("END:VCALENDAR\r\n")
    assert "\n" not in text.replace("\r\n", "")
    assert all(len(line.encode()) <= 75 for line in text.split("\r\n"))
    lines = _unfold(text)
    events: list[dict[str, str]] = []
    for line in lines:
        if line == "BEGIN:VEVENT":
            events.append({})
        elif events and ":" in line and line != "END:VEVENT":
            key, value = line.split(":", 1)
            events[-1][key] = value
    by_day = {e["DTSTART;VALUE=DATE"]: e for e in events}
    makeup = by_day["20240504"]
    assert makeup["SUMMARY"].startswith("Thứ Bảy làm việc bù")
    assert makeup["TRANSP"] == "TRANSPARENT"
    assert makeup["DTEND;VALUE=DATE"] == "20240505"
    assert "2450/VPCP-KGVX" in makeup["DESCRIPTION"]
    assert by_day["20240212"]["SUMMARY"] == "Mùng ba Tết Nguyên Đán"
    assert by_day["20240212"]["CATEGORIES"] == "Ngày nghỉ lễ\\, Tết"  # comma escaped
    assert "20240511" not in by_day  # ordinary Saturdays are not events
    assert all(e["DTSTAMP"] == "20240102T020000Z" for e in events)
    assert len({e["UID"] for e in events}) == len(events)
    # Twelve weekday days off, two holidays on the Tết weekend and one make-up Saturday; the
    # 31/08–01/09 weekend before National Day holds no holiday.
    assert len(events) == 12 + 2 + 1


def test_ics_uids_are_stable_between_exports() -> None:
    first = to_ics(CAL, 2025, now=datetime(2025, 1, 1, tzinfo=UTC))
    second = to_ics(CAL, 2025, now=datetime(2025, 6, 1, tzinfo=UTC))

    def uids(text: str) -> list[str]:
        return [x for x in _unfold(text) if x.startswith("UID:")]

    assert uids(first) == uids(second)
    assert first != second  # only DTSTAMP differs
    with pytest.raises(WorktimeError):
        to_ics(CAL, 2025, now=datetime(2025, 1, 1))


# --- package boundaries ----------------------------------------------------------------------


def test_worktime_imports_no_web_or_database_code() -> None:
    package = Path(__file__).resolve().parents[2] / "onestop" / "worktime"
    forbidden = ("flask", "sqlalchemy", "marshmallow", "werkzeug")
    for path in package.glob("*.py"):
        tree = ast.parse(path.read_text("utf-8"))
        assert ast.get_docstring(tree), f"{path.name} has no module docstring"
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                assert not name.startswith(forbidden), f"{path.name} imports {name}"
                if name.startswith("onestop"):
                    assert name.startswith("onestop.worktime"), f"{path.name} imports {name}"

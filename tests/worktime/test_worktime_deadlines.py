"""Due dates on the national calendar, worked out by hand from the official days-off table.

The official table (docs/domain.md §4):
2024: 01/01; Tết 08/02–14/02; 18/04; 27/04–01/05 (Mon 29/04 swapped); 31/08–03/09; works Sat 04/05.
2025: 01/01; Tết 25/01–02/02; 07/04; 30/04–04/05 (Fri 02/05 swapped); 30/08–02/09; works Sat 26/04.
2026: 01/01; Tết 14/02–22/02; 27/04; 30/04–03/05; 29/08–02/09 (Mon 31/08 swapped); works Sat 22/08.
Working hours Monday–Friday 07:30–11:30 and 13:00–17:00, Asia/Ho_Chi_Minh (+07:00).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from onestop.worktime import (
    Duration,
    TimeUnit,
    WorktimeError,
    explain_due,
    national_calendar,
)

VN = ZoneInfo("Asia/Ho_Chi_Minh")
CAL = national_calendar()


def at(text: str) -> datetime:
    """'2024-05-06 10:00' in Vietnam time."""
    return datetime.fromisoformat(text).replace(tzinfo=VN)


WD, WH, SD, CD = (
    TimeUnit.WORKING_DAYS,
    TimeUnit.WORKING_HOURS,
    TimeUnit.SAME_DAY,
    TimeUnit.CALENDAR_DAYS,
)

CASES = [
    # --- working days: receipt day not counted, due at 17:00 of working day N ---------------
    pytest.param("2024-05-06 10:00", 3, WD, "2024-05-09 17:00", id="wd-domain-example-mon-to-thu"),
    pytest.param("2024-02-07 16:00", 3, WD, "2024-02-19 17:00", id="wd-skips-tet-2024"),
    pytest.param("2025-01-24 09:00", 2, WD, "2025-02-04 17:00", id="wd-skips-tet-2025"),
    pytest.param("2026-02-13 10:00", 1, WD, "2026-02-23 17:00", id="wd-skips-tet-2026-nine-days"),
    pytest.param("2026-02-18 09:00", 1, WD, "2026-02-24 17:00", id="wd-received-during-tet-2026"),
    pytest.param(
        "2024-02-12 10:00", 1, WD, "2024-02-16 17:00", id="wd-received-on-tet-holiday-2024"
    ),
    pytest.param(
        "2024-04-26 10:00", 3, WD, "2024-05-04 17:00", id="wd-makeup-saturday-2024-counts"
    ),
    pytest.param(
        "2025-04-24 10:00", 2, WD, "2025-04-26 17:00", id="wd-makeup-saturday-2025-counts"
    ),
    pytest.param(
        "2026-08-21 10:00", 1, WD, "2026-08-22 17:00", id="wd-makeup-saturday-2026-counts"
    ),
    pytest.param(
        "2024-05-04 09:00", 1, WD, "2024-05-06 17:00", id="wd-received-on-makeup-saturday"
    ),
    pytest.param(
        "2025-04-29 10:00", 2, WD, "2025-05-06 17:00", id="wd-30-4-2025-with-swapped-friday"
    ),
    pytest.param("2026-04-29 10:00", 1, WD, "2026-05-04 17:00", id="wd-30-4-2026"),
    pytest.param(
        "2026-04-24 10:00", 1, WD, "2026-04-28 17:00", id="wd-hung-kings-2026-compensatory"
    ),
    pytest.param("2024-08-30 10:00", 1, WD, "2024-09-04 17:00", id="wd-national-day-2024"),
    pytest.param("2025-08-29 10:00", 1, WD, "2025-09-03 17:00", id="wd-national-day-2025"),
    pytest.param(
        "2026-08-28 10:00", 1, WD, "2026-09-03 17:00", id="wd-national-day-2026-swapped-monday"
    ),
    pytest.param("2022-12-30 10:00", 1, WD, "2023-01-03 17:00", id="wd-new-year-2023-compensatory"),
    pytest.param("2026-11-23 10:00", 1, WD, "2026-11-24 17:00", id="wd-culture-day-24-11-not-off"),
    pytest.param(
        "2024-05-06 17:00", 3, WD, "2024-05-10 17:00", id="wd-received-at-closing-is-after-hours"
    ),
    pytest.param("2024-05-06 12:00", 3, WD, "2024-05-09 17:00", id="wd-received-at-lunch"),
    pytest.param("2024-05-06 07:00", 3, WD, "2024-05-09 17:00", id="wd-received-before-opening"),
    pytest.param(
        "2024-05-11 10:00", 3, WD, "2024-05-16 17:00", id="wd-received-saturday-starts-monday"
    ),
    pytest.param("2024-05-06 10:00", 0, WD, "2024-05-06 17:00", id="wd-zero-is-end-of-day"),
    # --- working hours: skip lunch, nights and days off ---------------------------------------
    pytest.param("2024-05-06 08:00", 2, WH, "2024-05-06 10:00", id="wh-within-morning"),
    pytest.param("2024-05-06 10:30", 2, WH, "2024-05-06 14:00", id="wh-over-lunch"),
    pytest.param("2024-05-06 08:30", 3, WH, "2024-05-06 11:30", id="wh-ends-at-period-end"),
    pytest.param("2024-05-06 16:00", 2, WH, "2024-05-07 08:30", id="wh-over-night"),
    pytest.param("2024-05-10 16:00", 4, WH, "2024-05-13 10:30", id="wh-over-weekend"),
    pytest.param("2024-05-06 12:15", 1, WH, "2024-05-06 14:00", id="wh-received-at-lunch"),
    pytest.param("2024-05-06 19:00", 8, WH, "2024-05-07 17:00", id="wh-received-evening"),
    pytest.param("2025-01-24 15:00", 4, WH, "2025-02-03 09:30", id="wh-over-tet-2025"),
    pytest.param("2025-04-25 16:00", 2, WH, "2025-04-26 08:30", id="wh-into-makeup-saturday"),
    # --- same day: cut-off 15:00 inclusive ----------------------------------------------------
    pytest.param("2024-05-06 14:59", 1, SD, "2024-05-06 17:00", id="sd-before-cutoff"),
    pytest.param("2024-05-06 15:00", 1, SD, "2024-05-06 17:00", id="sd-at-cutoff-same-day"),
    pytest.param("2024-05-06 15:01", 1, SD, "2024-05-07 17:00", id="sd-after-cutoff-next-day"),
    pytest.param("2024-05-10 16:00", 1, SD, "2024-05-13 17:00", id="sd-after-cutoff-friday"),
    pytest.param("2024-04-30 10:00", 1, SD, "2024-05-02 17:00", id="sd-received-on-holiday"),
    pytest.param("2024-05-11 10:00", 1, SD, "2024-05-13 17:00", id="sd-received-saturday"),
    pytest.param(
        "2024-05-03 18:00", 1, SD, "2024-05-04 17:00", id="sd-evening-before-makeup-saturday"
    ),
    pytest.param("2024-05-06 06:00", 1, SD, "2024-05-06 17:00", id="sd-before-opening"),
    # --- calendar days: count every day, roll a non-working last day forward ------------------
    pytest.param("2024-05-06 10:00", 3, CD, "2024-05-09 17:00", id="cd-lands-on-working-day"),
    pytest.param("2024-05-06 10:00", 5, CD, "2024-05-13 17:00", id="cd-lands-on-saturday"),
    pytest.param("2026-02-09 10:00", 7, CD, "2026-02-23 17:00", id="cd-lands-on-tet-2026"),
    pytest.param("2024-05-02 10:00", 2, CD, "2024-05-04 17:00", id="cd-lands-on-makeup-saturday"),
    pytest.param("2024-05-10 18:00", 2, CD, "2024-05-15 17:00", id="cd-received-after-hours"),
    pytest.param(
        "2024-04-26 10:00", 7, CD, "2024-05-03 17:00", id="cd-holidays-inside-are-counted"
    ),
]


@pytest.mark.parametrize(("received", "amount", "unit", "expected"), CASES)
def test_due_date_matches_the_official_calendar(
    received: str, amount: int, unit: TimeUnit, expected: str
) -> None:
    due = CAL.due_at(at(received), Duration(amount, unit))
    assert due == at(expected)
    assert due.utcoffset() == timedelta(hours=7)


@pytest.mark.parametrize(("received", "amount", "unit", "expected"), CASES)
def test_explanation_reaches_the_same_due_date(
    received: str, amount: int, unit: TimeUnit, expected: str
) -> None:
    explanation = explain_due(CAL, at(received), Duration(amount, unit))
    assert explanation.due_at == at(expected)
    assert explanation.steps[-1].kind == "due"


def test_custom_cutoff_moves_the_same_day_limit() -> None:
    received = at("2024-05-06 15:30")
    assert CAL.due_at(received, Duration.same_day()) == at("2024-05-07 17:00")
    assert CAL.due_at(received, Duration.same_day(), cutoff=time(16, 0)) == at("2024-05-06 17:00")


def test_any_offset_in_gives_vietnam_time_out() -> None:
    received = datetime(2024, 5, 6, 3, 0, tzinfo=UTC)  # 10:00 in Hà Nội
    due = CAL.due_at(received, Duration(3, "working_days"))
    assert due.isoformat() == "2024-05-09T17:00:00+07:00"


def test_received_saturday_explains_skipped_weekend_and_effective_start() -> None:
    explanation = explain_due(CAL, at("2024-05-11 10:00"), Duration(3, WD))
    data = explanation.to_dict()
    assert data["effective_start"] == "2024-05-13T07:30:00+07:00"
    skipped = [s for s in data["steps"] if s["kind"] == "skipped"]
    assert [s["date"] for s in skipped] == ["2024-05-11", "2024-05-12"]
    assert "Thứ Bảy" in skipped[0]["text"] and "Chủ Nhật" in skipped[1]["text"]
    counted = [s["date"] for s in data["steps"] if s["kind"] == "counted"]
    assert counted == ["2024-05-14", "2024-05-15", "2024-05-16"]


def test_explanation_names_tet_and_the_makeup_saturday() -> None:
    tet = explain_due(CAL, at("2024-02-07 16:00"), Duration(3, WD)).to_dict()
    texts = " ".join(s["text"] for s in tet["steps"])
    assert "Mùng ba Tết Nguyên Đán" in texts
    assert "Giao thừa Tết Nguyên Đán" in texts

    swap = explain_due(CAL, at("2024-04-26 10:00"), Duration(3, WD)).to_dict()
    skipped = {s["date"]: s for s in swap["steps"] if s["kind"] == "skipped"}
    assert skipped["2024-04-29"]["reason"] == "swapped_day_off"
    assert skipped["2024-04-29"]["source"] == "Công văn 2450/VPCP-KGVX"
    last_counted = [s for s in swap["steps"] if s["kind"] == "counted"][-1]
    assert last_counted["date"] == "2024-05-04"
    assert "Thứ Bảy làm việc bù" in last_counted["text"]


def test_explanation_of_a_pause_moves_the_due_date_by_its_working_time() -> None:
    # Paused from Tue 07/05 10:00 to Wed 08/05 10:00: 1 h 30 + 4 h + 2 h 30 = 8 working hours.
    pause = (at("2024-05-07 10:00"), at("2024-05-08 10:00"))
    explanation = explain_due(CAL, at("2024-05-06 10:00"), Duration(3, WD), pauses=[pause])
    assert explanation.paused_seconds == 8 * 3600
    assert explanation.due_at == at("2024-05-10 17:00")
    assert any(s.kind == "pause" and "8 giờ 00 phút" in s.text for s in explanation.steps)


@pytest.mark.parametrize(
    ("start", "minutes", "expected"),
    [
        pytest.param(
            "2024-05-09 17:00", 120, "2024-05-10 09:30", id="due-17h-plus-2h-next-morning"
        ),
        pytest.param("2024-05-10 17:00", 120, "2024-05-13 09:30", id="friday-plus-2h-monday"),
        pytest.param("2024-05-10 09:30", -120, "2024-05-09 17:00", id="back-2h-lands-on-17h"),
        pytest.param("2024-05-06 11:00", 60, "2024-05-06 13:30", id="over-lunch"),
        pytest.param("2024-04-26 16:00", 120, "2024-05-02 08:30", id="over-30-4-holidays"),
    ],
)
def test_shift_working_moves_by_working_time(start: str, minutes: int, expected: str) -> None:
    assert CAL.shift_working(at(start), minutes) == at(expected)
    assert CAL.shift_working(at(start), timedelta(minutes=minutes)) == at(expected)


@pytest.mark.parametrize(
    ("start", "end", "hours"),
    [
        pytest.param("2024-05-06 10:00", "2024-05-07 09:00", 7, id="one-night-7h"),
        pytest.param("2024-05-07 09:00", "2024-05-06 10:00", -7, id="signed-when-reversed"),
        pytest.param("2024-02-07 16:00", "2024-02-15 08:30", 2, id="across-tet-2024"),
        pytest.param("2024-05-11 08:00", "2024-05-12 16:00", 0, id="weekend-is-zero"),
        pytest.param("2024-05-06 12:00", "2024-05-06 12:45", 0, id="lunch-is-zero"),
        pytest.param("2024-05-03 17:00", "2024-05-06 07:30", 8, id="makeup-saturday-8h"),
    ],
)
def test_working_time_between(start: str, end: str, hours: int) -> None:
    assert CAL.working_time_between(at(start), at(end)) == timedelta(hours=hours)
    assert CAL.working_minutes_between(at(start), at(end)) == hours * 60


def test_working_minutes_round_toward_zero() -> None:
    start = at("2024-05-06 10:00")
    end = start + timedelta(minutes=1, seconds=59)
    assert CAL.working_minutes_between(start, end) == 1
    assert CAL.working_minutes_between(end, start) == -1


@pytest.mark.parametrize(
    ("instant", "working"),
    [
        pytest.param("2024-05-06 07:30", True, id="opening-is-inside"),
        pytest.param("2024-05-06 11:30", False, id="lunch-start-is-outside"),
        pytest.param("2024-05-06 11:29:59", True, id="last-second-of-morning"),
        pytest.param("2024-05-06 13:00", True, id="afternoon-start"),
        pytest.param("2024-05-06 17:00", False, id="closing-is-outside"),
        pytest.param("2024-05-04 09:00", True, id="makeup-saturday-2024"),
        pytest.param("2024-05-11 09:00", False, id="ordinary-saturday"),
        pytest.param("2026-02-16 09:00", False, id="tet-2026"),
    ],
)
def test_is_working_time(instant: str, working: bool) -> None:
    assert CAL.is_working_time(at(instant)) is working


def test_effective_and_next_working_start() -> None:
    assert CAL.effective_start(at("2024-05-06 10:00")) == at("2024-05-06 10:00")
    assert CAL.effective_start(at("2024-05-06 12:00")) == at("2024-05-06 13:00")
    assert CAL.effective_start(at("2024-04-27 12:00")) == at("2024-05-02 07:30")
    assert CAL.next_working_start(at("2024-05-06 10:00")) == at("2024-05-06 13:00")
    assert CAL.next_working_start(at("2024-05-06 13:00")) == at("2024-05-06 13:00")


# --- errors ----------------------------------------------------------------------------------


def test_naive_datetime_is_refused() -> None:
    with pytest.raises(WorktimeError) as info:
        CAL.due_at(datetime(2024, 5, 6, 10, 0), Duration(3, WD))
    assert info.value.type == "worktime.naive_datetime"
    assert isinstance(info.value, ValueError)
    with pytest.raises(WorktimeError, match="múi giờ"):
        CAL.working_time_between(datetime(2024, 5, 6), at("2024-05-07 10:00"))
    with pytest.raises(WorktimeError):
        explain_due(CAL, datetime(2024, 5, 6, 10), Duration(1, WD))


@pytest.mark.parametrize(
    ("amount", "unit", "slug"),
    [
        pytest.param(-1, "working_days", "worktime.invalid_amount", id="negative-amount"),
        pytest.param(2.5, "working_days", "worktime.invalid_amount", id="fractional-amount"),
        pytest.param(True, "working_days", "worktime.invalid_amount", id="bool-amount"),
        pytest.param(3, "months", "worktime.unknown_unit", id="unknown-unit"),
        pytest.param(2, "same_day", "worktime.invalid_amount", id="same-day-not-one"),
    ],
)
def test_invalid_duration_is_refused(amount: object, unit: str, slug: str) -> None:
    with pytest.raises(WorktimeError) as info:
        Duration(amount, unit)  # type: ignore[arg-type]
    assert info.value.type == slug
    assert info.value.message


@pytest.mark.parametrize(
    ("received", "amount"),
    [
        pytest.param("2019-12-31 10:00", 1, id="before-2020"),
        pytest.param("2031-01-02 10:00", 1, id="after-2030"),
        pytest.param("2030-12-27 10:00", 10, id="due-date-beyond-2030"),
    ],
)
def test_out_of_range_is_refused(received: str, amount: int) -> None:
    with pytest.raises(WorktimeError) as info:
        CAL.due_at(at(received), Duration(amount, WD))
    assert info.value.type == "worktime.out_of_range"
    assert "2020" in info.value.message and "2030" in info.value.message


def test_out_of_range_day_lookup() -> None:
    with pytest.raises(WorktimeError) as info:
        CAL.day(date(2031, 1, 1))
    assert info.value.type == "worktime.out_of_range"

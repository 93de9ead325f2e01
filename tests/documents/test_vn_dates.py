"""Vietnamese long date and time formats printed on the forms (Decree 30/2020/NĐ-CP, Appendix I)."""

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from onestop.core.clock import VN_TZ
from onestop.documents.render import (
    format_date_long,
    format_date_short,
    format_datetime_long,
    format_datetime_short,
    format_place_date,
)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (date(2026, 3, 5), "ngày 05 tháng 3 năm 2026"),
        # Months 1 and 2 take a leading zero, the others do not; days below 10 always do.
        (date(2026, 1, 9), "ngày 09 tháng 01 năm 2026"),
        (date(2026, 2, 28), "ngày 28 tháng 02 năm 2026"),
        (date(2025, 12, 31), "ngày 31 tháng 12 năm 2025"),
        (date(2026, 10, 10), "ngày 10 tháng 10 năm 2026"),
    ],
)
def test_long_date_pads_days_and_the_first_two_months(value: date, expected: str) -> None:
    assert format_date_long(value) == expected


def test_long_datetime_reads_hours_minutes_then_the_date() -> None:
    value = datetime(2026, 3, 5, 14, 30, tzinfo=VN_TZ)
    assert format_datetime_long(value) == "14 giờ 30 phút, ngày 05 tháng 3 năm 2026"
    early = datetime(2026, 1, 2, 8, 5, tzinfo=VN_TZ)
    assert format_datetime_long(early) == "08 giờ 05 phút, ngày 02 tháng 01 năm 2026"


def test_times_are_printed_in_vietnam_time_whatever_zone_they_were_stored_in() -> None:
    # 18:30 UTC on 4 March is 01:30 on 5 March in Hà Nội: the printed date is the Vietnamese one.
    stored = datetime(2026, 3, 4, 18, 30, tzinfo=UTC)
    assert format_datetime_long(stored) == "01 giờ 30 phút, ngày 05 tháng 3 năm 2026"
    assert format_date_long(stored) == "ngày 05 tháng 3 năm 2026"
    paris = datetime(2026, 3, 5, 8, 30, tzinfo=timezone(timedelta(hours=1)))
    assert format_datetime_short(paris) == "05/03/2026 14:30"


def test_place_and_date_line() -> None:
    assert format_place_date("Thanh Hóa", date(2026, 3, 5)) == "Thanh Hóa, ngày 05 tháng 3 năm 2026"


def test_short_formats() -> None:
    assert format_date_short(date(2026, 3, 5)) == "05/03/2026"
    assert format_datetime_short(datetime(2026, 3, 5, 7, 5, tzinfo=VN_TZ)) == "05/03/2026 07:05"


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        format_datetime_long(datetime(2026, 3, 5, 14, 30))

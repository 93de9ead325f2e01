"""Properties of the deadline arithmetic: random receipts, offsets, units, pauses and batches."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from onestop.worktime import (
    Duration,
    TimeUnit,
    WorktimeError,
    explain_due,
    national_calendar,
    project_due_batch,
)
from onestop.worktime.batch import as_datetime64, to_epoch_seconds

CAL = national_calendar()
VN = ZoneInfo("Asia/Ho_Chi_Minh")
ZONES = [VN, UTC, timezone(timedelta(hours=-5)), timezone(timedelta(hours=9, minutes=30))]

# Receipts from 2020 to late 2029, so every due date stays inside the supported years.
receipts = st.datetimes(
    min_value=datetime(2020, 1, 2),
    max_value=datetime(2029, 10, 1),
    timezones=st.sampled_from(ZONES),
).map(lambda t: t.replace(microsecond=0))


@st.composite
def durations(draw: st.DrawFn) -> Duration:
    unit = draw(st.sampled_from(list(TimeUnit)))
    if unit is TimeUnit.SAME_DAY:
        return Duration.same_day()
    top = 200 if unit is TimeUnit.WORKING_HOURS else 60
    return Duration(draw(st.integers(0, top)), unit)


SETTINGS = settings(max_examples=200, deadline=None)


@SETTINGS
@given(received=receipts, duration=durations())
def test_due_is_inside_or_at_the_end_of_a_working_period(
    received: datetime, duration: Duration
) -> None:
    due = CAL.due_at(received, duration)
    assert due >= received
    assert due.utcoffset() == timedelta(hours=7)
    inside = CAL.is_working_time(due)
    at_end = CAL.is_working_time(due - timedelta(seconds=1)) and not inside
    assert inside or at_end
    if duration.unit is not TimeUnit.WORKING_HOURS:
        # Day-based units end exactly when the working day ends.
        assert at_end
        assert due == CAL.working_day_end(due.date())


@SETTINGS
@given(
    received=receipts, later=st.timedeltas(timedelta(0), timedelta(days=20)), duration=durations()
)
def test_due_date_never_decreases_as_receipt_moves_later(
    received: datetime, later: timedelta, duration: Duration
) -> None:
    assert CAL.due_at(received, duration) <= CAL.due_at(received + later, duration)


@SETTINGS
@given(received=receipts, duration=durations(), more=st.integers(0, 30))
def test_due_date_never_decreases_as_amount_grows(
    received: datetime, duration: Duration, more: int
) -> None:
    if duration.unit is TimeUnit.SAME_DAY:
        return
    bigger = Duration(duration.amount + more, duration.unit)
    assert CAL.due_at(received, duration) <= CAL.due_at(received, bigger)


@SETTINGS
@given(received=receipts, hours=st.integers(0, 300))
def test_working_time_to_added_hours_is_exactly_those_hours(received: datetime, hours: int) -> None:
    due = CAL.add_working_hours(received, hours)
    assert CAL.working_time_between(received, due) == timedelta(hours=hours)


@SETTINGS
@given(
    received=receipts,
    duration=durations(),
    pause_offset=st.timedeltas(timedelta(0), timedelta(days=10)),
    pause_length=st.timedeltas(timedelta(0), timedelta(days=15)),
)
def test_a_pause_moves_the_due_date_by_exactly_its_working_time(
    received: datetime, duration: Duration, pause_offset: timedelta, pause_length: timedelta
) -> None:
    due = CAL.due_at(received, duration)
    start = received + pause_offset
    end = start + pause_length
    paused = CAL.working_time_between(start, end)
    moved = CAL.shift_working(due, paused)
    assert CAL.working_time_between(due, moved) == paused
    assert moved >= due
    explained = explain_due(CAL, received, duration, pauses=[(start, end)])
    assert explained.due_at == moved
    assert explained.paused_seconds == paused.total_seconds()
    # Resuming: shifting back by the same working time returns to the original due date.
    assert CAL.working_time_between(CAL.shift_working(moved, -paused), due) == timedelta(0)


@SETTINGS
@given(received=receipts, duration=durations())
def test_explained_due_date_equals_the_fast_path(received: datetime, duration: Duration) -> None:
    explanation = explain_due(CAL, received, duration)
    assert explanation.due_at == CAL.due_at(received, duration)
    assert explanation.effective_start == CAL.effective_start(received)


rows = st.lists(
    st.tuples(receipts, durations(), st.integers(0, 40 * 3600)), min_size=1, max_size=40
)


@settings(max_examples=100, deadline=None)
@given(rows=rows)
def test_batch_path_equals_the_scalar_path(
    rows: list[tuple[datetime, Duration, int]],
) -> None:
    received = to_epoch_seconds([r[0] for r in rows])
    units = np.array([r[1].unit.value for r in rows])
    amounts = np.array([r[1].amount for r in rows])
    paused = np.array([r[2] for r in rows], dtype=np.int64)
    got = project_due_batch(CAL, received, units, amounts, paused)
    expected = [
        CAL.shift_working(CAL.due_at(t, duration), timedelta(seconds=p)) for t, duration, p in rows
    ]
    assert got.tolist() == [int(e.timestamp()) for e in expected]
    # datetime64 in gives the same as epoch seconds in.
    again = project_due_batch(CAL, as_datetime64(received), units, amounts, paused)
    assert again.tolist() == got.tolist()


def test_batch_refuses_bad_rows_and_names_them() -> None:
    ok = int(datetime(2024, 5, 6, 10, tzinfo=VN).timestamp())
    too_early = int(datetime(2019, 6, 1, tzinfo=VN).timestamp())
    received = np.array([ok, too_early, ok])
    with pytest.raises(WorktimeError) as info:
        project_due_batch(CAL, received, np.array([1, 1, 1]), np.array([3, 3, 3]))
    assert info.value.type == "worktime.out_of_range"
    assert info.value.errors["rows"] == [1]
    with pytest.raises(WorktimeError) as info:
        project_due_batch(CAL, received[:1], np.array(["fortnights"]), np.array([3]))
    assert info.value.type == "worktime.unknown_unit"
    with pytest.raises(WorktimeError) as info:
        project_due_batch(CAL, received[:2], np.array([1, 1]), np.array([3, -1]))
    assert info.value.type == "worktime.invalid_amount"
    assert info.value.errors["rows"] == [1]

"""The built working calendar: day classification, a precomputed index and fast deadline arithmetic.

Long on purpose: the day index and the arithmetic on it share private state and are read together.

Counting rules (docs/domain.md §3):

* Instants are counted to the second; working periods are half-open, [07:30, 11:30).
* A dossier received outside working time (evening, lunch break, weekend, holiday) counts from the
  start of the next working period: its *effective start*. Every unit starts from it.
* N working days: the day of the effective start is not counted (Civil Code 2015 art. 147); day 1
  is the next working day; due at the end of working hours of working day N.
* N working hours: N hours of working time from the effective start, skipping breaks, nights and
  days off. A result that lands on the end of a period stays there (17:00, not 07:30 next day).
* Same day: effective start by the cut-off (default 15:00, inclusive) → end of that working day,
  after it → end of the next working day.
* N calendar days: day N after the effective start; when it is not a working day, the end of the
  next working day (Civil Code 2015 art. 148).

The index holds every working period of the supported years as epoch seconds with the working
seconds accumulated before it, so each operation is one or two binary searches.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from functools import lru_cache
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import holidays

from onestop.worktime.errors import (
    INVALID_AMOUNT,
    INVALID_SPEC,
    NAIVE_DATETIME,
    OUT_OF_RANGE,
    WorktimeError,
)
from onestop.worktime.policy import (
    DEFAULT_SAME_DAY_CUTOFF,
    Channel,
    ClockPolicy,
    Duration,
    TimeUnit,
)
from onestop.worktime.spec import CalendarSpec, Override, OverrideKind, Period

if TYPE_CHECKING:
    import numpy as np

WEEKDAY_NAMES = ("Thứ Hai", "Thứ Ba", "Thứ Tư", "Thứ Năm", "Thứ Sáu", "Thứ Bảy", "Chủ Nhật")

LABOR_CODE_HOLIDAY = "Bộ luật Lao động 2019, khoản 1 Điều 112"
LABOR_CODE_COMPENSATORY = "Bộ luật Lao động 2019, khoản 3 Điều 111"


class DayKind(StrEnum):
    """Why a day is working or not."""

    WORKING = "working"
    MAKEUP_WORKING = "makeup_working"  # ngày làm việc bù (a Saturday worked for a swapped day)
    WEEKEND = "weekend"  # ngày nghỉ hằng tuần
    HOLIDAY = "holiday"  # ngày nghỉ lễ, Tết
    COMPENSATORY = "compensatory"  # ngày nghỉ bù (a holiday fell on a weekend)
    SWAPPED_DAY_OFF = "swapped_day_off"  # ngày nghỉ hoán đổi (worked on a Saturday instead)
    EXTRA_DAY_OFF = "extra_day_off"  # ngày nghỉ theo thông báo riêng


KIND_LABELS: dict[DayKind, str] = {
    DayKind.WORKING: "Ngày làm việc",
    DayKind.MAKEUP_WORKING: "Ngày làm việc bù",
    DayKind.WEEKEND: "Ngày nghỉ hằng tuần",
    DayKind.HOLIDAY: "Ngày nghỉ lễ, Tết",
    DayKind.COMPENSATORY: "Ngày nghỉ bù",
    DayKind.SWAPPED_DAY_OFF: "Ngày nghỉ hoán đổi",
    DayKind.EXTRA_DAY_OFF: "Ngày nghỉ theo thông báo",
}


@dataclass(frozen=True, slots=True)
class DayInfo:
    """One calendar day: working or not, why (Vietnamese), the document behind it, its hours."""

    date: date
    working: bool
    kind: DayKind
    name: str
    source: str | None
    periods: tuple[Period, ...]

    @property
    def weekday_name(self) -> str:
        return WEEKDAY_NAMES[self.date.weekday()]

    @property
    def label(self) -> str:
        """Vietnamese reason for a sentence, e.g. "29 Tết (ngày nghỉ lễ, Tết)",
        "Quốc khánh (nghỉ bù)", "ngày nghỉ hằng tuần"."""
        if self.kind is DayKind.WEEKEND:
            return "ngày nghỉ hằng tuần"
        if self.kind is DayKind.HOLIDAY:
            return f"{self.name} (ngày nghỉ lễ, Tết)"
        if self.kind is DayKind.EXTRA_DAY_OFF:
            return f"{self.name} (ngày nghỉ theo thông báo)"
        return self.name

    def to_dict(self) -> dict[str, Any]:
        return {
            "date": self.date.isoformat(),
            "weekday": self.weekday_name,
            "working": self.working,
            "kind": self.kind.value,
            "kind_label": KIND_LABELS[self.kind],
            "name": self.name,
            "source": self.source,
            "periods": [str(p) for p in self.periods],
        }


def _holiday_kind(name: str) -> DayKind:
    # python-holidays (language "vi") labels compensatory days "… (nghỉ bù)" and swapped days
    # "Ngày nghỉ (thay cho ngày dd/mm/yyyy)"; the tests pin these labels.
    if name.endswith("(nghỉ bù)"):
        return DayKind.COMPENSATORY
    if name.startswith("Ngày nghỉ (thay cho"):
        return DayKind.SWAPPED_DAY_OFF
    return DayKind.HOLIDAY


def classify_days(spec: CalendarSpec) -> list[DayInfo]:
    """Every day of the spec's years, classified; raises ``worktime.invalid_spec`` on bad data."""
    first, last = date(spec.first_year, 1, 1), date(spec.last_year, 12, 31)
    lib: dict[date, str] = {}
    if spec.holidays_country:
        lib = dict(
            holidays.country_holidays(
                spec.holidays_country,
                years=range(spec.first_year, spec.last_year + 1),
                language="vi",
            )
        )
    overrides = {o.date: o for o in spec.overrides}
    for day in overrides:
        if not first <= day <= last:
            raise WorktimeError(
                INVALID_SPEC,
                f"Điều chỉnh ngày {day:%d/%m/%Y} nằm ngoài khoảng năm của lịch.",
                date=day.isoformat(),
            )
    swaps: dict[date, Override] = {
        o.swapped_with: o
        for o in spec.overrides
        if o.kind is OverrideKind.WORKING_DAY and o.swapped_with is not None
    }

    def fail(day: date, why: str) -> WorktimeError:
        return WorktimeError(INVALID_SPEC, f"Ngày {day:%d/%m/%Y}: {why}", date=day.isoformat())

    result: list[DayInfo] = []
    for offset in range((last - first).days + 1):
        day = first + timedelta(offset)
        weekday_periods = spec.weekly[day.weekday()]
        holiday = lib.get(day)
        override = overrides.get(day)
        if override is not None and override.kind is OverrideKind.REMOVE_HOLIDAY:
            if holiday is None:
                raise fail(day, "điều chỉnh bỏ ngày nghỉ lễ nhưng ngày này không phải ngày lễ.")
            holiday = None
        if holiday is not None:
            kind = _holiday_kind(holiday)
            source = {
                DayKind.HOLIDAY: LABOR_CODE_HOLIDAY,
                DayKind.COMPENSATORY: LABOR_CODE_COMPENSATORY,
            }.get(kind)
            if kind is DayKind.SWAPPED_DAY_OFF:
                if day not in swaps:
                    raise fail(
                        day,
                        f"ngày nghỉ hoán đổi ({holiday}) chưa có ngày làm việc bù tương ứng "
                        "trong danh sách điều chỉnh.",
                    )
                source = swaps[day].source
            info = DayInfo(day, False, kind, holiday, source, ())
        elif weekday_periods:
            info = DayInfo(day, True, DayKind.WORKING, "Ngày làm việc", None, weekday_periods)
        else:
            info = DayInfo(day, False, DayKind.WEEKEND, WEEKDAY_NAMES[day.weekday()], None, ())
        if override is not None:
            kind_o = override.kind
            if kind_o is OverrideKind.REMOVE_HOLIDAY:
                info = DayInfo(
                    day, info.working, info.kind, info.name, override.source, info.periods
                )
            elif kind_o is OverrideKind.DAY_OFF:
                if not info.working:
                    raise fail(day, "điều chỉnh thêm ngày nghỉ nhưng ngày này đã là ngày nghỉ.")
                info = DayInfo(
                    day, False, DayKind.EXTRA_DAY_OFF, override.name, override.source, ()
                )
            elif kind_o is OverrideKind.CONFIRM_DAY_OFF:
                if info.working and not _agency_weekend_hours(day):
                    raise fail(day, "văn bản xác nhận ngày nghỉ nhưng lịch tính ra ngày làm việc.")
                # An agency open on Saturdays still closes on an announced national day off.
                kind_c = info.kind if not info.working else DayKind.EXTRA_DAY_OFF
                info = DayInfo(
                    day,
                    False,
                    kind_c,
                    override.name if info.working else info.name,
                    override.source,
                    (),
                )
            else:  # WORKING_DAY
                if info.working and not _agency_weekend_hours(day):
                    raise fail(day, "điều chỉnh ngày làm bù nhưng ngày này đã là ngày làm việc.")
                # An agency that already works that Saturday morning works the full make-up day.
                if not spec.makeup_periods:
                    raise fail(day, "lịch không có giờ làm việc cho ngày làm bù.")
                info = DayInfo(
                    day,
                    True,
                    DayKind.MAKEUP_WORKING,
                    override.name,
                    override.source,
                    spec.makeup_periods,
                )
        result.append(info)
    by_date = {info.date: info for info in result}
    for swapped, override in swaps.items():
        if swapped not in by_date or by_date[swapped].working:
            raise fail(
                override.date,
                f"ngày làm bù thay cho ngày {swapped:%d/%m/%Y}, "
                "nhưng ngày đó không phải ngày nghỉ.",
            )
    return result


def _agency_weekend_hours(day: date) -> bool:
    """True on a Saturday or Sunday: national overrides (make-up Saturdays, announced days off)
    meet an agency's own weekend hours there, which is not a data error."""
    return day.weekday() >= 5


class Calendar:
    """A working calendar built from a ``CalendarSpec``; immutable, shared, thread-safe to read.

    All instants in must be timezone-aware (any offset); all instants out are in the calendar's
    zone. Obtain one with ``build_calendar(spec)`` so that it is built once per spec.
    """

    def __init__(self, spec: CalendarSpec) -> None:
        self.spec = spec
        self.version = spec.version
        self.tz = ZoneInfo(spec.tz)
        self.first_date = date(spec.first_year, 1, 1)
        self.last_date = date(spec.last_year, 12, 31)
        self._days: tuple[DayInfo, ...] = tuple(classify_days(spec))
        tz = self.tz

        def local_ts(day: date, minutes: int) -> int:
            day += timedelta(minutes // (24 * 60))
            minutes %= 24 * 60
            wall = datetime(day.year, day.month, day.day, minutes // 60, minutes % 60, tzinfo=tz)
            return int(wall.timestamp())

        self._midnight: list[int] = []  # local midnight of each day, then the end of the range
        self._wd_day: list[int] = []  # working-day ordinal → index of its calendar day
        self._wd_end: list[int] = []  # working-day ordinal → end of its last period
        p_start: list[int] = []
        p_end: list[int] = []
        p_cum_before: list[int] = []  # working seconds of the range before the period starts
        p_cum_end: list[int] = []
        p_wday: list[int] = []  # period → working-day ordinal
        cum = 0
        for j, info in enumerate(self._days):
            self._midnight.append(local_ts(info.date, 0))
            if not info.working:
                continue
            k = len(self._wd_day)
            self._wd_day.append(j)
            for period in info.periods:
                start, end = local_ts(info.date, period.start), local_ts(info.date, period.end)
                p_start.append(start)
                p_end.append(end)
                p_cum_before.append(cum)
                cum += end - start
                p_cum_end.append(cum)
                p_wday.append(k)
            self._wd_end.append(p_end[-1])
        if not p_start:
            raise WorktimeError(INVALID_SPEC, "Lịch không có ngày làm việc nào.")
        self._midnight.append(local_ts(self.last_date + timedelta(1), 0))
        self._p_start, self._p_end, self._p_wday = p_start, p_end, p_wday
        self._p_cum_before, self._p_cum_end = p_cum_before, p_cum_end
        self._total = cum
        self._n_periods = len(p_start)
        self._n_wd = len(self._wd_day)
        self._n_days = len(self._days)
        # First working-day ordinal on or after each calendar day (n_wd when there is none).
        self._next_wd: list[int] = [self._n_wd] * (self._n_days + 1)
        nxt = self._n_wd
        self._wd_of_day = {j: k for k, j in enumerate(self._wd_day)}
        for j in range(self._n_days - 1, -1, -1):
            nxt = self._wd_of_day.get(j, nxt)
            self._next_wd[j] = nxt
        self._wd_end_dt: list[datetime] = [datetime.fromtimestamp(t, tz) for t in self._wd_end]
        self._lo = self._midnight[0]
        self._hi = self._midnight[-1]
        self._last_period_end = p_end[-1]
        self._cutoffs: dict[time, list[int]] = {}
        self._index = {info.date: j for j, info in enumerate(self._days)}
        self._arrays: dict[str, np.ndarray] | None = None

    def __repr__(self) -> str:
        return f"<Calendar {self.version} {self.first_date.year}–{self.last_date.year}>"

    # ---- input and output ------------------------------------------------------------------

    def _ts(self, at: datetime, what: str = "thời điểm") -> int:
        if not isinstance(at, datetime) or at.tzinfo is None or at.utcoffset() is None:
            raise WorktimeError(
                NAIVE_DATETIME,
                f"{what.capitalize()} phải có múi giờ (ví dụ 2025-03-04T10:00:00+07:00).",
                value=repr(at),
            )
        ts = int(at.timestamp())
        if not self._lo <= ts < self._hi:
            raise self._out_of_range(at)
        return ts

    def _out_of_range(self, at: datetime | date | str) -> WorktimeError:
        return WorktimeError(
            OUT_OF_RANGE,
            f"Lịch làm việc chỉ hỗ trợ từ năm {self.first_date.year} đến năm "
            f"{self.last_date.year}; không tính được cho {at}.",
            first_year=self.first_date.year,
            last_year=self.last_date.year,
        )

    def _dt(self, ts: int) -> datetime:
        return datetime.fromtimestamp(ts, self.tz)

    def cutoff_instants(self, cutoff: time) -> list[int]:
        """Epoch seconds of ``cutoff`` (local time) on each working day, by working-day ordinal."""
        table = self._cutoffs.get(cutoff)
        if table is None:
            if not isinstance(cutoff, time) or cutoff.tzinfo is not None:
                raise WorktimeError(INVALID_AMOUNT, "Giờ chốt phải là giờ địa phương (HH:MM).")
            table = []
            for j in self._wd_day:
                d = self._days[j].date
                wall = datetime.combine(d, cutoff).replace(tzinfo=self.tz)
                table.append(int(wall.timestamp()))
            self._cutoffs[cutoff] = table
        return table

    # ---- days -------------------------------------------------------------------------------

    def day(self, d: date) -> DayInfo:
        """The classification of one date."""
        j = self._index.get(d)
        if j is None:
            raise self._out_of_range(d)
        return self._days[j]

    def is_working_day(self, d: date) -> bool:
        return self.day(d).working

    def day_range(self, first: date, last: date) -> list[DayInfo]:
        """The days from ``first`` to ``last`` inclusive."""
        if first > last:
            raise WorktimeError(INVALID_AMOUNT, "Ngày bắt đầu phải không sau ngày kết thúc.")
        i, j = self._index.get(first), self._index.get(last)
        if i is None:
            raise self._out_of_range(first)
        if j is None:
            raise self._out_of_range(last)
        return list(self._days[i : j + 1])

    # ---- instants ---------------------------------------------------------------------------

    def is_working_time(self, at: datetime) -> bool:
        """Whether ``at`` falls inside a working period (periods are half-open)."""
        ts = self._ts(at)
        i = bisect_right(self._p_start, ts) - 1
        return i >= 0 and ts < self._p_end[i]

    def _effective(self, ts: int) -> int:
        """Index of the period that contains ``ts`` or, if none does, of the next one."""
        i = bisect_right(self._p_start, ts) - 1
        if i < 0 or ts >= self._p_end[i]:
            i += 1
            if i >= self._n_periods:
                raise self._out_of_range(self._dt(ts))
        return i

    def effective_start(self, at: datetime) -> datetime:
        """``at`` itself in working time; otherwise the start of the next working period."""
        ts = self._ts(at)
        i = self._effective(ts)
        if ts >= self._p_start[i]:
            # The instant itself, to the microsecond: the tables count whole seconds, and a
            # clock that started before the reception it counts from would be wrong.
            return at.astimezone(self.tz)
        return self._dt(self._p_start[i])

    def next_working_start(self, at: datetime) -> datetime:
        """The start of the first working period that begins at or after ``at``."""
        ts = self._ts(at)
        i = bisect_left(self._p_start, ts)
        if i >= self._n_periods:
            raise self._out_of_range(at)
        return self._dt(self._p_start[i])

    def working_day_end(self, d: date) -> datetime:
        """End of working hours of working day ``d``."""
        info = self.day(d)
        if not info.working:
            raise WorktimeError(
                INVALID_AMOUNT, f"{info.weekday_name} {d:%d/%m/%Y} không phải ngày làm việc."
            )
        return self._wd_end_dt[self._wd_of_day[self._index[d]]]

    # ---- deadlines --------------------------------------------------------------------------

    def due_at(
        self,
        received_at: datetime,
        duration: Duration,
        *,
        cutoff: time = DEFAULT_SAME_DAY_CUTOFF,
    ) -> datetime:
        """The legal due instant for a dossier received at ``received_at`` (fast path).

        ``cutoff`` applies to ``same_day`` only. See the module docstring for the rules and
        ``explain_due`` for the same result with its derivation.
        """
        ts = self._ts(received_at, "thời điểm tiếp nhận")
        p_start = self._p_start
        i = bisect_right(p_start, ts) - 1
        if i < 0 or ts >= self._p_end[i]:
            i += 1
            if i >= self._n_periods:
                raise self._out_of_range(received_at)
            ts = p_start[i]
        unit = duration.unit
        n = duration.amount
        if unit is TimeUnit.WORKING_DAYS:
            k = self._p_wday[i] + n
        elif unit is TimeUnit.WORKING_HOURS:
            if n == 0:
                return self._dt(ts)
            target = self._p_cum_before[i] + ts - p_start[i] + n * 3600
            j = bisect_left(self._p_cum_end, target, i)
            if j >= self._n_periods:
                raise self._out_of_range(received_at)
            return self._dt(p_start[j] + target - self._p_cum_before[j])
        elif unit is TimeUnit.SAME_DAY:
            k = self._p_wday[i]
            if ts > self.cutoff_instants(cutoff)[k]:
                k += 1
        else:  # CALENDAR_DAYS
            j = self._wd_day[self._p_wday[i]] + n
            if j >= self._n_days:
                raise self._out_of_range(received_at)
            k = self._next_wd[j]
        if k >= self._n_wd:
            raise self._out_of_range(received_at)
        return self._wd_end_dt[k]

    def due_for(
        self, received_at: datetime, policy: ClockPolicy, channel: str | Channel
    ) -> datetime:
        """``due_at`` with the duration and cut-off a procedure's clock policy gives ``channel``."""
        return self.due_at(received_at, policy.duration_for(channel), cutoff=policy.same_day_cutoff)

    def add_working_days(self, at: datetime, days: int) -> datetime:
        return self.due_at(at, Duration(days, TimeUnit.WORKING_DAYS))

    def add_working_hours(self, at: datetime, hours: int) -> datetime:
        return self.due_at(at, Duration(hours, TimeUnit.WORKING_HOURS))

    def same_day(self, at: datetime, cutoff: time = DEFAULT_SAME_DAY_CUTOFF) -> datetime:
        return self.due_at(at, Duration.same_day(), cutoff=cutoff)

    def add_calendar_days(self, at: datetime, days: int) -> datetime:
        return self.due_at(at, Duration(days, TimeUnit.CALENDAR_DAYS))

    # ---- working time -----------------------------------------------------------------------

    def _w(self, ts: int) -> int:
        """Working seconds of the range before instant ``ts``."""
        i = bisect_right(self._p_start, ts) - 1
        if i < 0:
            return 0
        return self._p_cum_before[i] + min(ts, self._p_end[i]) - self._p_start[i]

    def working_seconds_between(self, start: datetime, end: datetime) -> int:
        """Working seconds from ``start`` to ``end``; negative when ``end`` is before ``start``."""
        return self._w(self._ts(end)) - self._w(self._ts(start))

    def working_time_between(self, start: datetime, end: datetime) -> timedelta:
        """Working time from ``start`` to ``end`` (signed), e.g. for pauses and "time left"."""
        return timedelta(seconds=self.working_seconds_between(start, end))

    def working_minutes_between(self, start: datetime, end: datetime) -> int:
        """Whole working minutes from ``start`` to ``end``, rounded toward zero (signed)."""
        seconds = self.working_seconds_between(start, end)
        return seconds // 60 if seconds >= 0 else -(-seconds // 60)

    def shift_working(self, at: datetime, amount: timedelta | int) -> datetime:
        """``at`` moved by ``amount`` of working time (an ``int`` counts minutes; may be negative).

        This is how a pause moves a due date: ``shift_working(due, paused)``. A result on the
        boundary between two periods is the end of the earlier one (17:00 rather than 07:30 the
        next working day), so a due date at 17:00 plus 2 working hours is 09:30 the next working
        day, and shifting back by the same amount returns to 17:00.
        """
        if isinstance(amount, timedelta):
            seconds = amount // timedelta(seconds=1)
        elif isinstance(amount, int) and not isinstance(amount, bool):
            seconds = amount * 60
        else:
            raise WorktimeError(INVALID_AMOUNT, "Lượng thời gian dịch chuyển không hợp lệ.")
        ts = self._ts(at)
        if seconds == 0:
            return self._dt(ts)
        target = self._w(ts) + seconds
        if not 0 <= target <= self._total:
            raise self._out_of_range(at)
        j = bisect_left(self._p_cum_end, target)
        return self._dt(self._p_start[j] + target - self._p_cum_before[j])

    # ---- arrays for the batch path ----------------------------------------------------------

    def arrays(self) -> dict[str, np.ndarray]:
        """The index as numpy arrays (built on first use), for ``onestop.worktime.batch``."""
        if self._arrays is None:
            import numpy as np

            i64 = np.int64
            self._arrays = {
                "p_start": np.asarray(self._p_start, dtype=i64),
                "p_end": np.asarray(self._p_end, dtype=i64),
                "p_cum_before": np.asarray(self._p_cum_before, dtype=i64),
                "p_cum_end": np.asarray(self._p_cum_end, dtype=i64),
                "p_wday": np.asarray(self._p_wday, dtype=i64),
                "wd_day": np.asarray(self._wd_day, dtype=i64),
                "wd_end": np.asarray(self._wd_end, dtype=i64),
                "next_wd": np.asarray(self._next_wd, dtype=i64),
            }
        return self._arrays

    @property
    def bounds(self) -> tuple[int, int, int]:
        """(first second, end of range, end of the last working period) as epoch seconds."""
        return self._lo, self._hi, self._last_period_end

    @property
    def total_working_seconds(self) -> int:
        return self._total


@lru_cache(maxsize=64)
def build_calendar(spec: CalendarSpec) -> Calendar:
    """The calendar for ``spec``, built once per distinct spec (keyed by its full contents)."""
    return Calendar(spec)


def national_calendar() -> Calendar:
    """The default national civil-service calendar (``build_calendar(national_spec())``)."""
    from onestop.worktime.spec import national_spec

    return build_calendar(national_spec())

"""Explained deadlines: the same due dates as ``Calendar.due_at``, with every step in Vietnamese.

This path walks the calendar day by day on purpose, independently of the index behind the fast
path, so the tests can check one against the other. It is for display (the receipt, the dossier
page, the calendar API), not for bulk work.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from onestop.worktime.calendar import KIND_LABELS, WEEKDAY_NAMES, Calendar, DayInfo
from onestop.worktime.errors import NAIVE_DATETIME, OUT_OF_RANGE, WorktimeError
from onestop.worktime.policy import DEFAULT_SAME_DAY_CUTOFF, Duration, TimeUnit


@dataclass(frozen=True, slots=True)
class Step:
    """One line of an explanation. ``kind`` is one of: received, effective_start, rule, counted,
    skipped, calendar_day, pause, due."""

    kind: str
    text: str
    date: str | None = None
    at: str | None = None
    reason: str | None = None  # a ``DayKind`` value
    reason_label: str | None = None  # its Vietnamese name, e.g. "Ngày nghỉ bù"
    source: str | None = None


@dataclass(frozen=True, slots=True)
class Explanation:
    """A due date with its derivation; ``to_dict()`` is ready for JSON."""

    received_at: datetime
    effective_start: datetime
    due_at: datetime
    duration: Duration
    rule: str
    steps: tuple[Step, ...]
    calendar_version: str
    paused_seconds: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "received_at": self.received_at.isoformat(),
            "effective_start": self.effective_start.isoformat(),
            "due_at": self.due_at.isoformat(),
            "duration": self.duration.to_dict(),
            "duration_text": str(self.duration),
            "rule": self.rule,
            "paused_seconds": self.paused_seconds,
            "calendar_version": self.calendar_version,
            "steps": [{k: v for k, v in asdict(s).items() if v is not None} for s in self.steps],
        }


def format_instant(at: datetime) -> str:
    """ "10 giờ 00 phút, Thứ Hai 06/05/2024" (the wording of form 01, with the weekday)."""
    return f"{at:%H} giờ {at:%M} phút, {WEEKDAY_NAMES[at.weekday()]} {at:%d/%m/%Y}"


def format_day(d: date) -> str:
    return f"{WEEKDAY_NAMES[d.weekday()]} {d:%d/%m/%Y}"


def format_working_time(seconds: int) -> str:
    hours, rest = divmod(abs(seconds), 3600)
    minutes = rest // 60
    sign = "-" if seconds < 0 else ""
    return f"{sign}{hours} giờ {minutes:02d} phút"


RULES: dict[TimeUnit, str] = {
    TimeUnit.WORKING_DAYS: (
        "{n} ngày làm việc: không tính ngày tiếp nhận, ngày thứ nhất là ngày làm việc kế tiếp; "
        "hạn là cuối giờ làm việc của ngày làm việc thứ {n} (Điều 147, 148 Bộ luật Dân sự 2015)."
    ),
    TimeUnit.WORKING_HOURS: (
        "{n} giờ làm việc tính từ thời điểm bắt đầu tính thời hạn, không tính giờ nghỉ trưa, "
        "ngoài giờ làm việc và ngày nghỉ."
    ),
    TimeUnit.SAME_DAY: (
        "Trong ngày: tiếp nhận đến {cutoff} thì hạn là cuối giờ làm việc của ngày đó; sau "
        "{cutoff} thì hạn là cuối giờ làm việc của ngày làm việc kế tiếp."
    ),
    TimeUnit.CALENDAR_DAYS: (
        "{n} ngày: tính cả ngày nghỉ, không tính ngày tiếp nhận; hạn là cuối giờ làm việc của "
        "ngày thứ {n}, nếu ngày đó là ngày nghỉ thì của ngày làm việc kế tiếp (Điều 147, 148 "
        "Bộ luật Dân sự 2015)."
    ),
}


class _Walker:
    """Day-by-day access to the calendar's working periods as aware datetimes."""

    def __init__(self, calendar: Calendar) -> None:
        self.calendar = calendar
        self.tz = calendar.tz

    def day(self, d: date) -> DayInfo:
        if not self.calendar.first_date <= d <= self.calendar.last_date:
            raise WorktimeError(
                OUT_OF_RANGE,
                f"Lịch làm việc chỉ hỗ trợ từ năm {self.calendar.first_date.year} đến năm "
                f"{self.calendar.last_date.year}; không tính được cho {d:%d/%m/%Y}.",
            )
        return self.calendar.day(d)

    def wall(self, d: date, minutes: int) -> datetime:
        d += timedelta(minutes // 1440)
        minutes %= 1440
        return datetime.combine(d, time(minutes // 60, minutes % 60)).replace(tzinfo=self.tz)

    def periods(self, d: date) -> list[tuple[datetime, datetime]]:
        return [(self.wall(d, p.start), self.wall(d, p.end)) for p in self.day(d).periods]

    def end_of_day(self, d: date) -> datetime:
        return self.periods(d)[-1][1]


def _skipped(info: DayInfo) -> Step:
    return Step(
        "skipped",
        f"Không tính {format_day(info.date)}: {info.label}.",
        date=info.date.isoformat(),
        reason=info.kind.value,
        reason_label=KIND_LABELS[info.kind],
        source=info.source,
    )


def explain_due(
    calendar: Calendar,
    received_at: datetime,
    duration: Duration,
    *,
    cutoff: time = DEFAULT_SAME_DAY_CUTOFF,
    pauses: Iterable[tuple[datetime, datetime]] = (),
) -> Explanation:
    """The due date of ``calendar.due_at(received_at, duration, cutoff=cutoff)`` with its steps.

    ``pauses`` are (start, end) intervals when the clock stood still (supplement requested, or
    payment where the procedure's law says so); the due date moves by their working time.
    """
    if not isinstance(received_at, datetime) or received_at.utcoffset() is None:
        raise WorktimeError(
            NAIVE_DATETIME, "Thời điểm tiếp nhận phải có múi giờ.", value=repr(received_at)
        )
    calendar.is_working_time(received_at)  # range check with the calendar's own message
    walk = _Walker(calendar)
    received = received_at.astimezone(walk.tz).replace(microsecond=0)
    steps: list[Step] = [
        Step(
            "received",
            f"Tiếp nhận hồ sơ lúc {format_instant(received)}.",
            at=received.isoformat(),
        )
    ]

    # Effective start: the first working instant at or after receipt.
    effective: datetime | None = None
    d = received.date()
    while effective is None:
        info = walk.day(d)
        for start, end in walk.periods(d):
            if received < end:
                effective = max(received, start)
                break
        else:
            if not info.working:
                steps.append(_skipped(info))
            d += timedelta(1)
    if effective == received:
        steps.append(
            Step(
                "effective_start",
                "Tiếp nhận trong giờ làm việc: thời hạn tính từ thời điểm tiếp nhận.",
                at=effective.isoformat(),
            )
        )
    else:
        steps.append(
            Step(
                "effective_start",
                "Tiếp nhận ngoài giờ làm việc: thời hạn tính từ đầu giờ làm việc kế tiếp, "
                f"{format_instant(effective)}.",
                at=effective.isoformat(),
            )
        )
    n = duration.amount
    rule = RULES[duration.unit].format(n=n, cutoff=cutoff.strftime("%H:%M"))
    steps.append(Step("rule", rule))

    def counted(d: date, text: str) -> Step:
        info = walk.day(d)
        return Step(
            "counted",
            text,
            date=d.isoformat(),
            reason=info.kind.value,
            reason_label=KIND_LABELS[info.kind],
            source=info.source,
        )

    unit = duration.unit
    if unit is TimeUnit.WORKING_DAYS:
        d, count = effective.date(), 0
        while count < n:
            d += timedelta(1)
            info = walk.day(d)
            if info.working:
                count += 1
                extra = f" ({info.name})" if info.kind.value != "working" else ""
                steps.append(counted(d, f"Ngày làm việc thứ {count}: {format_day(d)}{extra}."))
            else:
                steps.append(_skipped(info))
        due = walk.end_of_day(d)
    elif unit is TimeUnit.WORKING_HOURS:
        remaining, due, d = n * 3600, effective, effective.date()
        while remaining > 0:
            used = 0
            info = walk.day(d)
            if not info.working:
                steps.append(_skipped(info))
            for start, end in walk.periods(d):
                begin = max(start, effective)
                if begin >= end or remaining == 0:
                    continue
                # Timestamps, not datetime subtraction: same-zone subtraction ignores DST.
                begin_ts = int(begin.timestamp())
                take = min(remaining, int(end.timestamp()) - begin_ts)
                remaining -= take
                used += take
                due = datetime.fromtimestamp(begin_ts + take, walk.tz)
            if used:
                steps.append(
                    counted(d, f"{format_day(d)}: tính {format_working_time(used)} làm việc.")
                )
            d += timedelta(1)
    elif unit is TimeUnit.SAME_DAY:
        d = effective.date()
        cut = datetime.combine(d, cutoff).replace(tzinfo=walk.tz)
        if effective <= cut:
            steps.append(counted(d, f"Bắt đầu tính không muộn hơn {cutoff:%H:%M}: trả trong ngày."))
        else:
            steps.append(
                Step("counted", f"Bắt đầu tính sau {cutoff:%H:%M}: trả vào ngày làm việc kế tiếp.")
            )
            d += timedelta(1)
            while not walk.day(d).working:
                steps.append(_skipped(walk.day(d)))
                d += timedelta(1)
            steps.append(counted(d, f"Ngày trả kết quả: {format_day(d)}."))
        due = walk.end_of_day(d)
    else:  # CALENDAR_DAYS
        d = effective.date() + timedelta(n)
        info = walk.day(d)
        steps.append(
            Step(
                "calendar_day",
                f"Ngày thứ {n} sau ngày bắt đầu tính: {format_day(d)}.",
                date=d.isoformat(),
                reason=info.kind.value,
            )
        )
        while not walk.day(d).working:
            steps.append(_skipped(walk.day(d)))
            d += timedelta(1)
        if d != effective.date() + timedelta(n):
            steps.append(counted(d, f"Chuyển sang ngày làm việc kế tiếp: {format_day(d)}."))
        due = walk.end_of_day(d)

    paused = 0
    for start, end in pauses:
        seconds = calendar.working_seconds_between(start, end)
        paused += seconds
        steps.append(
            Step(
                "pause",
                f"Tạm dừng tính thời hạn từ {format_instant(start.astimezone(walk.tz))} đến "
                f"{format_instant(end.astimezone(walk.tz))}: cộng thêm "
                f"{format_working_time(seconds)} làm việc.",
                at=start.astimezone(walk.tz).isoformat(),
            )
        )
    if paused:
        due = calendar.shift_working(due, timedelta(seconds=paused))
    steps.append(Step("due", f"Hạn giải quyết: {format_instant(due)}.", at=due.isoformat()))
    return Explanation(
        received_at=received,
        effective_start=effective,
        due_at=due,
        duration=duration,
        rule=rule,
        steps=tuple(steps),
        calendar_version=calendar.version,
        paused_seconds=paused,
    )

"""Clock policy value objects: a processing time (``Duration``) and a ``ClockPolicy``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import time
from enum import StrEnum
from typing import Any

from onestop.worktime.errors import (
    CHANNEL_NOT_OFFERED,
    INVALID_AMOUNT,
    INVALID_SPEC,
    UNKNOWN_CHANNEL,
    UNKNOWN_UNIT,
    WorktimeError,
)

# Same-day procedures received after 15:00 are due the next working day (Hà Nội practice, e.g.
# QĐ 663/QĐ-TTPVHCC; Decree 61/2018 uses the same 15:00 cut-off for forwarding paper dossiers).
DEFAULT_SAME_DAY_CUTOFF = time(15, 0)


class TimeUnit(StrEnum):
    """Unit of a statutory processing time, as the national procedure database states it."""

    WORKING_DAYS = "working_days"  # ngày làm việc
    WORKING_HOURS = "working_hours"  # giờ làm việc
    SAME_DAY = "same_day"  # trong ngày
    CALENDAR_DAYS = "calendar_days"  # ngày (ngày lịch)

    @property
    def code(self) -> int:
        """Small integer used by the vectorised batch path (``onestop.worktime.batch``)."""
        return UNIT_CODES[self]

    @property
    def label(self) -> str:
        """Vietnamese name of the unit."""
        return UNIT_LABELS[self]


UNIT_CODES: dict[TimeUnit, int] = {
    TimeUnit.WORKING_DAYS: 1,
    TimeUnit.WORKING_HOURS: 2,
    TimeUnit.SAME_DAY: 3,
    TimeUnit.CALENDAR_DAYS: 4,
}
UNIT_LABELS: dict[TimeUnit, str] = {
    TimeUnit.WORKING_DAYS: "ngày làm việc",
    TimeUnit.WORKING_HOURS: "giờ làm việc",
    TimeUnit.SAME_DAY: "trong ngày",
    TimeUnit.CALENDAR_DAYS: "ngày",
}


class Channel(StrEnum):
    """How a dossier reached the desk; DVCQG channel codes 1, 2, 3. The one channel vocabulary:
    the catalogue, the dossiers and the calendars all use this enum."""

    IN_PERSON = "in_person"  # trực tiếp
    ONLINE = "online"  # trực tuyến
    POSTAL = "postal"  # qua dịch vụ bưu chính công ích

    @property
    def code(self) -> int:
        """The DVCQG channel code."""
        return CHANNEL_CODES[self]

    @property
    def label(self) -> str:
        """Vietnamese name of the channel."""
        return CHANNEL_TITLES[self]


CHANNEL_CODES: dict[Channel, int] = {Channel.IN_PERSON: 1, Channel.ONLINE: 2, Channel.POSTAL: 3}
# As a heading or list entry; ``CHANNEL_LABELS`` below is the form used inside a sentence.
CHANNEL_TITLES: dict[Channel, str] = {
    Channel.IN_PERSON: "Trực tiếp",
    Channel.ONLINE: "Trực tuyến",
    Channel.POSTAL: "Qua dịch vụ bưu chính công ích",
}

# One working day is eight working hours (07:30–11:30 and 13:00–17:00, docs/worktime.md); used
# only to compare durations (step budgets with the statutory time), never to compute deadlines.
HOURS_PER_WORKING_DAY = 8


def parse_unit(value: str | TimeUnit) -> TimeUnit:
    """The ``TimeUnit`` named by ``value``; ``WorktimeError(worktime.unknown_unit)`` otherwise."""
    try:
        return TimeUnit(value)
    except ValueError:
        known = ", ".join(u.value for u in TimeUnit)
        raise WorktimeError(
            UNKNOWN_UNIT, f"Đơn vị thời hạn không hợp lệ: {value!r} (dùng: {known}).", unit=value
        ) from None


@dataclass(frozen=True, slots=True)
class Duration:
    """A statutory processing time, e.g. ``Duration(3, "working_days")``.

    ``amount`` is a whole number >= 0. For ``same_day`` it must be 1 ("trong ngày"). Zero working
    days means the end of the (effective) day of receipt; zero hours means the effective start.
    """

    amount: int
    unit: TimeUnit

    def __post_init__(self) -> None:
        object.__setattr__(self, "unit", parse_unit(self.unit))
        amount = self.amount
        if isinstance(amount, bool) or not isinstance(amount, int):
            raise WorktimeError(
                INVALID_AMOUNT, "Thời hạn phải là một số nguyên không âm.", amount=repr(amount)
            )
        if amount < 0:
            raise WorktimeError(INVALID_AMOUNT, "Thời hạn không được là số âm.", amount=amount)
        if self.unit is TimeUnit.SAME_DAY and amount != 1:
            raise WorktimeError(
                INVALID_AMOUNT, "Thời hạn 'trong ngày' phải có số lượng là 1.", amount=amount
            )

    @classmethod
    def same_day(cls) -> Duration:
        return cls(1, TimeUnit.SAME_DAY)

    def __str__(self) -> str:
        if self.unit is TimeUnit.SAME_DAY:
            return "trong ngày"
        return f"{self.amount} {self.unit.label}"

    def to_dict(self) -> dict[str, Any]:
        return {"amount": self.amount, "unit": self.unit.value}

    def as_tuple(self) -> tuple[int, str]:
        """``(amount, unit)`` with the unit as a plain string."""
        return (self.amount, self.unit.value)

    def working_hours(self) -> int | None:
        """The duration in working hours, or None for calendar days (not convertible)."""
        if self.unit is TimeUnit.WORKING_DAYS:
            return self.amount * HOURS_PER_WORKING_DAY
        if self.unit is TimeUnit.WORKING_HOURS:
            return self.amount
        if self.unit is TimeUnit.SAME_DAY:
            return HOURS_PER_WORKING_DAY
        return None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Duration:
        try:
            return cls(data["amount"], data["unit"])
        except (KeyError, TypeError):
            raise WorktimeError(
                INVALID_AMOUNT, "Thời hạn cần có 'amount' và 'unit'.", value=repr(data)
            ) from None


def parse_channel(value: str | Channel) -> Channel:
    try:
        return Channel(value)
    except ValueError:
        raise WorktimeError(
            UNKNOWN_CHANNEL, f"Kênh nộp hồ sơ không hợp lệ: {value!r}.", channel=value
        ) from None


@dataclass(frozen=True, slots=True)
class ClockPolicy:
    """How the clock runs for one procedure version: processing time per channel and pause rules.

    A channel with ``None`` is not offered for the procedure.
    """

    in_person: Duration | None = None
    online: Duration | None = None
    postal: Duration | None = None
    same_day_cutoff: time = DEFAULT_SAME_DAY_CUTOFF
    # Decree 61/2018 (and Decree 118/2025 after it): a supplement is requested once during
    # processing unless the sector's law allows more; Decision 766 counts a second request late.
    max_supplement_requests: int = 1
    # Paying fees pauses the clock only where the procedure's own law says so (e.g. land).
    payment_pauses_clock: bool = False

    def __post_init__(self) -> None:
        if self.in_person is None and self.online is None and self.postal is None:
            raise WorktimeError(INVALID_SPEC, "Chính sách thời hạn cần ít nhất một kênh nộp.")
        cutoff = self.same_day_cutoff
        if not isinstance(cutoff, time) or cutoff.tzinfo is not None:
            raise WorktimeError(
                INVALID_SPEC, "Giờ chốt 'trong ngày' phải là giờ địa phương (không kèm múi giờ)."
            )
        if isinstance(self.max_supplement_requests, bool) or self.max_supplement_requests < 0:
            raise WorktimeError(INVALID_SPEC, "Số lần yêu cầu bổ sung tối đa không hợp lệ.")

    def duration_for(self, channel: str | Channel) -> Duration:
        """The processing time for ``channel``; an error if the procedure does not offer it."""
        channel = parse_channel(channel)
        duration: Duration | None = getattr(self, channel.value)
        if duration is None:
            raise WorktimeError(
                CHANNEL_NOT_OFFERED,
                f"Thủ tục không tiếp nhận hồ sơ qua kênh {CHANNEL_LABELS[channel]}.",
                channel=channel.value,
            )
        return duration

    def to_dict(self) -> dict[str, Any]:
        return {
            "durations": {
                c.value: d.to_dict() for c in Channel if (d := getattr(self, c.value)) is not None
            },
            "same_day_cutoff": self.same_day_cutoff.strftime("%H:%M"),
            "max_supplement_requests": self.max_supplement_requests,
            "payment_pauses_clock": self.payment_pauses_clock,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ClockPolicy:
        durations = data.get("durations") or {}
        kwargs: dict[str, Any] = {}
        for key, value in durations.items():
            kwargs[parse_channel(key).value] = Duration.from_dict(value)
        if "same_day_cutoff" in data:
            try:
                kwargs["same_day_cutoff"] = time.fromisoformat(str(data["same_day_cutoff"]))
            except ValueError:
                raise WorktimeError(
                    INVALID_SPEC, "Giờ chốt 'trong ngày' không hợp lệ (dạng HH:MM)."
                ) from None
        for key in ("max_supplement_requests", "payment_pauses_clock"):
            if key in data:
                kwargs[key] = data[key]
        return cls(**kwargs)


CHANNEL_LABELS: dict[Channel, str] = {
    Channel.IN_PERSON: "trực tiếp",
    Channel.ONLINE: "trực tuyến",
    Channel.POSTAL: "bưu chính công ích",
}

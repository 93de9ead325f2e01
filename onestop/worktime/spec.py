"""Calendar specifications as plain, hashable data: weekly periods, time zone, yearly overrides."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import date, timedelta
from datetime import date as _date  # a field below is named ``date``
from enum import StrEnum
from functools import lru_cache
from importlib import resources
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays
import yaml

from onestop.worktime.errors import INVALID_SPEC, WorktimeError

MINUTES_PER_DAY = 24 * 60


@dataclass(frozen=True, slots=True, order=True)
class Period:
    """A half-open working period [start, end) in minutes after local midnight (end may be 1440)."""

    start: int
    end: int

    def __post_init__(self) -> None:
        if not (0 <= self.start < self.end <= MINUTES_PER_DAY):
            raise WorktimeError(
                INVALID_SPEC,
                "Khoảng giờ làm việc không hợp lệ (bắt đầu phải trước kết thúc, trong một ngày).",
                period=[self.start, self.end],
            )

    @classmethod
    def parse(cls, text: str) -> Period:
        """``"07:30-11:30"`` → ``Period(450, 690)``; ``24:00`` is allowed as an end."""
        try:
            left, right = text.replace("–", "-").split("-")
            return cls(_minutes(left), _minutes(right))
        except (ValueError, AttributeError):
            raise WorktimeError(
                INVALID_SPEC, f"Khoảng giờ làm việc không hợp lệ: {text!r} (dạng HH:MM-HH:MM)."
            ) from None

    def __str__(self) -> str:
        return f"{_hhmm(self.start)}-{_hhmm(self.end)}"


def _minutes(text: str) -> int:
    hours, minutes = text.strip().split(":")
    if len(minutes) != 2 or not 0 <= int(minutes) < 60:
        raise ValueError(text)
    return int(hours) * 60 + int(minutes)


def _hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _periods(texts: Any) -> tuple[Period, ...]:
    if isinstance(texts, str) or not isinstance(texts, list | tuple):
        raise WorktimeError(INVALID_SPEC, "Giờ làm việc của một ngày phải là một danh sách.")
    return tuple(p if isinstance(p, Period) else Period.parse(p) for p in texts)


# Civil servants work Monday–Friday (Decision 188/1999/QĐ-TTg, 40-hour week); the hours are set
# locally, 07:30–11:30 and 13:00–17:00 being the most common.
STANDARD_DAY: tuple[Period, ...] = (Period(7 * 60 + 30, 11 * 60 + 30), Period(13 * 60, 17 * 60))
STANDARD_WEEK: tuple[tuple[Period, ...], ...] = (STANDARD_DAY,) * 5 + ((), ())


class OverrideKind(StrEnum):
    """What an override does to one date."""

    # An extra day off the rules do not know (e.g. a one-off closure announced by the government).
    DAY_OFF = "day_off"
    # A normally non-working day (a Saturday) worked in exchange for a weekday off (ngày làm bù).
    WORKING_DAY = "working_day"
    # A holiday computed by the rules that is not (yet) a day off, e.g. a holiday waiting for law.
    REMOVE_HOLIDAY = "remove_holiday"
    # A day off computed by the rules that an official announcement confirmed: changes nothing,
    # records the document, and fails the build if the rules ever stop making it a day off.
    CONFIRM_DAY_OFF = "confirm_day_off"


@dataclass(frozen=True, slots=True, order=True)
class Override:
    """One dated change to the rule-based calendar, with the document that announced it."""

    date: _date
    kind: OverrideKind
    name: str
    source: str
    # For a working day: the weekday given off in exchange (it must be a day off in the calendar).
    swapped_with: _date | None = None

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "kind", OverrideKind(self.kind))
        except ValueError:
            raise WorktimeError(
                INVALID_SPEC, f"Loại điều chỉnh không hợp lệ: {self.kind!r}.", kind=self.kind
            ) from None
        if not isinstance(self.date, date) or (
            self.swapped_with is not None and not isinstance(self.swapped_with, date)
        ):
            raise WorktimeError(INVALID_SPEC, "Ngày điều chỉnh phải là một ngày (YYYY-MM-DD).")
        if self.swapped_with is not None and self.kind is not OverrideKind.WORKING_DAY:
            # Only a make-up working day pays for a weekday off; the database refuses the rest
            # (ck_calendar_overrides_swap_only_for_working_day).
            raise WorktimeError(
                INVALID_SPEC,
                "Chỉ ngày làm bù (working_day) mới có ngày nghỉ hoán đổi (swapped_with).",
                date=self.date.isoformat(),
            )
        if not self.name.strip() or not self.source.strip():
            raise WorktimeError(
                INVALID_SPEC,
                f"Điều chỉnh ngày {self.date:%d/%m/%Y} cần có tên và văn bản nguồn.",
                date=self.date.isoformat(),
            )

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "date": self.date.isoformat(),
            "kind": self.kind.value,
            "name": self.name,
            "source": self.source,
        }
        if self.swapped_with is not None:
            data["swapped_with"] = self.swapped_with.isoformat()
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Override:
        try:
            return cls(
                date=_as_date(data["date"]),
                kind=data["kind"],
                name=str(data["name"]),
                source=str(data["source"]),
                swapped_with=_as_date(data["swapped_with"]) if data.get("swapped_with") else None,
            )
        except KeyError as exc:
            raise WorktimeError(
                INVALID_SPEC, f"Điều chỉnh thiếu trường {exc.args[0]!r}.", value=repr(data)
            ) from None


def _as_date(value: Any) -> date:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise WorktimeError(INVALID_SPEC, f"Ngày không hợp lệ: {value!r}.") from None


@dataclass(frozen=True, slots=True)
class CalendarSpec:
    """Everything a working calendar is built from; frozen and hashable, so it can key a cache.

    ``weekly`` holds the periods of Monday … Sunday; ``makeup_periods`` the hours of a make-up
    working day. Holidays come from python-holidays for ``holidays_country`` (``None``: no public
    holidays), then ``overrides`` apply. Years outside ``first_year``–``last_year`` are refused.
    """

    name: str = "vn-national"
    title: str = "Lịch làm việc của cơ quan hành chính nhà nước"
    tz: str = "Asia/Ho_Chi_Minh"
    weekly: tuple[tuple[Period, ...], ...] = STANDARD_WEEK
    makeup_periods: tuple[Period, ...] = STANDARD_DAY
    holidays_country: str | None = "VN"
    overrides: tuple[Override, ...] = field(default=())
    first_year: int = 2020
    last_year: int = 2030

    def __post_init__(self) -> None:
        try:
            ZoneInfo(self.tz)
        except (ZoneInfoNotFoundError, ValueError):
            raise WorktimeError(INVALID_SPEC, f"Múi giờ không tồn tại: {self.tz!r}.") from None
        weekly = tuple(tuple(sorted(day)) for day in self.weekly)
        if len(weekly) != 7:
            raise WorktimeError(INVALID_SPEC, "Lịch tuần phải có đủ 7 ngày (Thứ Hai … Chủ Nhật).")
        for day in (*weekly, self.makeup_periods):
            for before, after in pairwise(day):
                if after.start < before.end:
                    raise WorktimeError(
                        INVALID_SPEC, f"Các khoảng giờ làm việc chồng nhau: {before}, {after}."
                    )
        if not any(weekly):
            raise WorktimeError(INVALID_SPEC, "Lịch tuần không có ngày làm việc nào.")
        if not 1900 < self.first_year <= self.last_year < 2200:
            raise WorktimeError(INVALID_SPEC, "Khoảng năm của lịch không hợp lệ.")
        overrides = tuple(sorted(self.overrides))
        seen: set[date] = set()
        for item in overrides:
            if item.date in seen:
                raise WorktimeError(
                    INVALID_SPEC,
                    f"Ngày {item.date:%d/%m/%Y} có nhiều hơn một điều chỉnh.",
                    date=item.date.isoformat(),
                )
            seen.add(item.date)
        object.__setattr__(self, "weekly", weekly)
        object.__setattr__(self, "makeup_periods", tuple(sorted(self.makeup_periods)))
        object.__setattr__(self, "overrides", overrides)

    @property
    def fingerprint(self) -> str:
        """Short hash of the spec and of the holiday rules it uses: changes when any date may."""
        payload = self.to_dict()
        if self.holidays_country:
            # A new python-holidays release may move a date, so it is part of the version.
            payload["holidays_version"] = getattr(holidays, "__version__", "")
        blob = json.dumps(payload, sort_keys=True, ensure_ascii=False).encode()
        return hashlib.sha256(blob).hexdigest()[:16]

    @property
    def version(self) -> str:
        """``<name>@<fingerprint>``: what a dossier stores as the calendar version it was given."""
        return f"{self.name}@{self.fingerprint}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "title": self.title,
            "tz": self.tz,
            "weekly": [[str(p) for p in day] for day in self.weekly],
            "makeup_periods": [str(p) for p in self.makeup_periods],
            "holidays_country": self.holidays_country,
            "overrides": [o.to_dict() for o in self.overrides],
            "first_year": self.first_year,
            "last_year": self.last_year,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CalendarSpec:
        """Build from plain data (a database row, a YAML file); unknown keys are refused."""
        known = set(cls.__dataclass_fields__)
        unknown = set(data) - known
        if unknown:
            raise WorktimeError(INVALID_SPEC, f"Trường không hợp lệ: {', '.join(sorted(unknown))}.")
        kwargs: dict[str, Any] = {k: v for k, v in data.items() if k not in ("weekly", "overrides")}
        if "weekly" in data:
            kwargs["weekly"] = tuple(_periods(day) for day in data["weekly"])
        if "makeup_periods" in data:
            kwargs["makeup_periods"] = _periods(data["makeup_periods"])
        kwargs["overrides"] = tuple(
            o if isinstance(o, Override) else Override.from_dict(o)
            for o in data.get("overrides") or ()
        )
        return cls(**kwargs)

    def with_overrides(self, *extra: Override) -> CalendarSpec:
        """A copy with more overrides (e.g. one an administrator has just added)."""
        return CalendarSpec.from_dict({**self.to_dict(), "overrides": [*self.overrides, *extra]})


def load_overrides(text: str) -> tuple[Override, ...]:
    """Parse an overrides YAML document (see ``overrides.yaml``); ranges expand to single dates."""
    data = yaml.safe_load(text) or {}
    items: list[Override] = []
    for entry in data.get("overrides") or ():
        entry = dict(entry)
        if "from" in entry:
            first, last = _as_date(entry.pop("from")), _as_date(entry.pop("to"))
            for offset in range((last - first).days + 1):
                items.append(Override.from_dict({**entry, "date": first + timedelta(offset)}))
        else:
            items.append(Override.from_dict(entry))
    return tuple(items)


@lru_cache(maxsize=1)
def national_spec() -> CalendarSpec:
    """The default national civil-service calendar.

    Monday–Friday 07:30–11:30 and 13:00–17:00, Vietnam time (UTC+07:00), the Labor Code holidays
    from python-holidays and the yearly overrides in ``overrides.yaml``.
    """
    text = resources.files("onestop.worktime").joinpath("overrides.yaml").read_text("utf-8")
    return CalendarSpec(overrides=load_overrides(text))

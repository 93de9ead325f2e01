"""Publishing a calendar: the day-by-day listing (plain data) and an RFC 5545 iCalendar feed."""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime, timedelta
from typing import Any

from onestop.worktime.calendar import KIND_LABELS, Calendar, DayKind
from onestop.worktime.errors import NAIVE_DATETIME, WorktimeError


def days(calendar: Calendar, from_date: date, to_date: date) -> list[dict[str, Any]]:
    """Each day from ``from_date`` to ``to_date`` (inclusive): working or not, why, its source.

    Every item is JSON-ready: ``{"date", "weekday", "working", "kind", "kind_label", "name",
    "source", "periods"}``.
    """
    return [info.to_dict() for info in calendar.day_range(from_date, to_date)]


# Days worth an event: days off other than ordinary weekends, and make-up working days.
_EVENT_KINDS = frozenset(KIND_LABELS) - {DayKind.WORKING, DayKind.WEEKEND}


def _escape(text: str) -> str:
    # RFC 5545 §3.3.11: backslash, semicolon, comma and newline are escaped in TEXT values.
    return (
        text.replace("\\", "\\\\")
        .replace(";", "\\;")
        .replace(",", "\\,")
        .replace("\r\n", "\\n")
        .replace("\n", "\\n")
    )


def _fold(line: str) -> list[str]:
    # RFC 5545 §3.1: lines longer than 75 octets are folded; never split a UTF-8 character.
    out: list[str] = []
    current, size, limit = "", 0, 75
    for char in line:
        width = len(char.encode("utf-8"))
        if size + width > limit:
            out.append(current)
            current, size, limit = " ", 1, 75
        current += char
        size += width
    out.append(current)
    return out


def to_ics(calendar: Calendar, year: int, *, now: datetime) -> str:
    """An iCalendar (RFC 5545) text of the year's holidays, days off and make-up working days.

    One all-day VEVENT per day, with a UID stable across exports (calendar name, date, kind) so
    that subscribed clients update events instead of duplicating them. ``now`` is the DTSTAMP.
    Lines end with CRLF.
    """
    if not isinstance(now, datetime) or now.utcoffset() is None:
        raise WorktimeError(NAIVE_DATETIME, "Thời điểm xuất lịch phải có múi giờ.")
    infos = calendar.day_range(date(year, 1, 1), date(year, 12, 31))
    spec = calendar.spec
    stamp = now.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//onestop//worktime//VI",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        f"X-WR-CALNAME:{_escape(f'{spec.title} {year}')}",
        f"X-WR-TIMEZONE:{spec.tz}",
    ]
    for info in infos:
        if info.kind not in _EVENT_KINDS:
            continue
        uid_seed = f"{spec.name}|{info.date.isoformat()}|{info.kind.value}"
        uid = hashlib.sha256(uid_seed.encode()).hexdigest()[:24]
        description = KIND_LABELS[info.kind]
        if info.source:
            description += f". Nguồn: {info.source}"
        if info.working:
            description += ". Giờ làm việc: " + ", ".join(str(p) for p in info.periods)
        lines += [
            "BEGIN:VEVENT",
            f"UID:{uid}@{spec.name}.onestop",
            f"DTSTAMP:{stamp}",
            f"DTSTART;VALUE=DATE:{info.date:%Y%m%d}",
            f"DTEND;VALUE=DATE:{info.date + timedelta(1):%Y%m%d}",
            f"SUMMARY:{_escape(info.name)}",
            f"DESCRIPTION:{_escape(description)}",
            f"CATEGORIES:{_escape(KIND_LABELS[info.kind])}",
            # A day off blocks time in a client's free/busy view; a make-up working day does not.
            f"TRANSP:{'TRANSPARENT' if info.working else 'OPAQUE'}",
            "END:VEVENT",
        ]
    lines.append("END:VCALENDAR")
    return "".join(part + "\r\n" for line in lines for part in _fold(line))

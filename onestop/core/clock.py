"""The current time, in one place so tests can freeze it, and the business time zone."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

VN_TZ = ZoneInfo("Asia/Ho_Chi_Minh")

_source: Callable[[], datetime] = lambda: datetime.now(UTC)  # noqa: E731


def now() -> datetime:
    """Aware UTC now; services receive it as ``now=`` and never call this themselves."""
    return _source()


def today() -> date:
    """Today's business date in Vietnam."""
    return now().astimezone(VN_TZ).date()


def set_source(source: Callable[[], datetime]) -> Callable[[], datetime]:
    """Replace the time source (tests freeze time with this); returns the previous one."""
    global _source
    previous, _source = _source, source
    return previous

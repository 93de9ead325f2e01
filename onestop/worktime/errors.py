"""The working-time error type, with stable ``type`` slugs that the API maps to 422."""

from __future__ import annotations

from typing import Any

# Stable slugs: the API returns them as the error ``type``; never rename one.
NAIVE_DATETIME = "worktime.naive_datetime"
OUT_OF_RANGE = "worktime.out_of_range"
INVALID_AMOUNT = "worktime.invalid_amount"
UNKNOWN_UNIT = "worktime.unknown_unit"
UNKNOWN_CHANNEL = "worktime.unknown_channel"
CHANNEL_NOT_OFFERED = "worktime.channel_not_offered"
INVALID_SPEC = "worktime.invalid_spec"


class WorktimeError(ValueError):
    """A request the calendar cannot answer: bad input or a date outside the supported years.

    ``type`` is a stable slug (see the constants above), ``message`` is Vietnamese text for the
    person at the desk, ``errors`` carries machine-readable details.
    """

    status = 422

    def __init__(self, type: str, message: str, **errors: Any) -> None:
        super().__init__(message)
        self.type = type
        self.message = message
        self.errors: dict[str, Any] = errors

    def __repr__(self) -> str:
        return f"WorktimeError({self.type!r}, {self.message!r})"

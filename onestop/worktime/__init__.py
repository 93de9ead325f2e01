"""Working-time calendar and deadline arithmetic: pure functions and value objects, no Flask, no DB.

Typical use::

    from onestop.worktime import Duration, national_calendar

    cal = national_calendar()
    due = cal.due_at(received_at, Duration(3, "working_days"))   # fast path
    why = explain_due(cal, received_at, Duration(3, "working_days")).to_dict()
"""

from onestop.worktime.batch import as_datetime64, encode_units, project_due_batch
from onestop.worktime.calendar import (
    KIND_LABELS,
    WEEKDAY_NAMES,
    Calendar,
    DayInfo,
    DayKind,
    build_calendar,
    national_calendar,
)
from onestop.worktime.errors import WorktimeError
from onestop.worktime.explain import Explanation, Step, explain_due
from onestop.worktime.policy import (
    DEFAULT_SAME_DAY_CUTOFF,
    Channel,
    ClockPolicy,
    Duration,
    TimeUnit,
    parse_unit,
)
from onestop.worktime.publish import days, to_ics
from onestop.worktime.spec import (
    CalendarSpec,
    Override,
    OverrideKind,
    Period,
    load_overrides,
    national_spec,
)

__all__ = [
    "DEFAULT_SAME_DAY_CUTOFF",
    "KIND_LABELS",
    "WEEKDAY_NAMES",
    "Calendar",
    "CalendarSpec",
    "Channel",
    "ClockPolicy",
    "DayInfo",
    "DayKind",
    "Duration",
    "Explanation",
    "Override",
    "OverrideKind",
    "Period",
    "Step",
    "TimeUnit",
    "WorktimeError",
    "as_datetime64",
    "build_calendar",
    "days",
    "encode_units",
    "explain_due",
    "load_overrides",
    "national_calendar",
    "national_spec",
    "parse_unit",
    "project_due_batch",
    "to_ics",
]

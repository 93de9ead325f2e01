"""Calendar input and output schemas: due-date and day queries, overrides, agency hours."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate

from onestop.agencies.schemas import AGENCY_CODE
from onestop.calendars.models import OVERRIDE_KINDS
from onestop.calendars.services import WEEKDAY_KEYS
from onestop.core.pagination import PageArgsSchema, PageMetaSchema
from onestop.core.text import Text
from onestop.worktime import Channel, TimeUnit

# In a query string an unencoded "+" arrives as a space: "2026-02-05T10:00:00 07:00".
_SPACE_BEFORE_OFFSET = re.compile(r"^(.*T[0-9:.]+) ([0-9]{2}:?[0-9]{2})$")


class Instant(fields.String):
    """An ISO 8601 instant. A value without an offset is kept naive on purpose: the calendar
    refuses it with its own error (``worktime.naive_datetime``) instead of guessing a zone."""

    def __init__(self, **kwargs: Any) -> None:
        metadata = {"format": "date-time", **kwargs.pop("metadata", {})}
        super().__init__(metadata=metadata, **kwargs)

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> datetime:
        text = super()._deserialize(value, attr, data, **kwargs).strip()
        text = _SPACE_BEFORE_OFFSET.sub(r"\1+\2", text)
        try:
            return datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise ValidationError(
                "Thời điểm không đúng định dạng ISO 8601 (ví dụ 2026-02-05T10:00:00+07:00)."
            ) from None


class DueDateArgsSchema(Schema):
    received_at = Instant(
        metadata={
            "description": "time of receipt with its offset, e.g. 2026-02-05T10:00:00+07:00 "
            "(encode + as %2B); default now"
        }
    )
    amount = fields.Integer(
        validate=validate.Range(max=1000, error="Thời hạn tối đa là 1000 đơn vị."),
        metadata={"description": "processing time, with unit"},
    )
    unit = fields.String(
        validate=validate.Length(max=40),
        metadata={"enum": [u.value for u in TimeUnit]},
    )
    procedure = fields.String(
        validate=validate.Length(min=1, max=60),
        metadata={"description": "procedure code, with channel, instead of amount and unit"},
    )
    channel = fields.String(
        validate=validate.Length(max=40), metadata={"enum": [c.value for c in Channel]}
    )
    agency = fields.String(
        validate=AGENCY_CODE, metadata={"description": "agency code: its own calendar"}
    )


class StepSchema(Schema):
    kind = fields.String(required=True)
    text = fields.String(required=True, metadata={"description": "Vietnamese, for people"})
    date = fields.String()
    at = fields.String()
    reason = fields.String()
    source = fields.String()


class DurationSchema(Schema):
    amount = fields.Integer(required=True)
    unit = fields.String(required=True)
    text = fields.String(required=True)


class DueDateSchema(Schema):
    due_at = fields.String(required=True, metadata={"description": "ISO 8601, +07:00"})
    effective_start = fields.String(required=True)
    received_at = fields.String(required=True)
    duration = fields.Nested(DurationSchema, required=True)
    rule = fields.String(required=True)
    procedure = fields.String(allow_none=True)
    channel = fields.String(allow_none=True)
    calendar_version = fields.String(required=True)
    explanation = fields.List(fields.Nested(StepSchema), required=True)


class DaysArgsSchema(Schema):
    from_ = fields.Date(required=True, data_key="from")
    to = fields.Date(required=True)
    agency = fields.String(validate=AGENCY_CODE)


class DaySchema(Schema):
    date = fields.String(required=True)
    weekday = fields.String(required=True)
    working = fields.Boolean(required=True)
    kind = fields.String(required=True)
    kind_label = fields.String(required=True)
    name = fields.String(required=True)
    source = fields.String(allow_none=True)
    periods = fields.List(fields.String(), required=True)


class DaysSchema(Schema):
    calendar_versions = fields.List(fields.String(), required=True)
    days = fields.List(fields.Nested(DaySchema), required=True)


class IcsArgsSchema(Schema):
    year = fields.Integer(
        validate=validate.Range(min=1900, max=2200),
        metadata={"description": "default: the current year"},
    )
    agency = fields.String(validate=AGENCY_CODE)


class OverrideListArgsSchema(PageArgsSchema):
    agency = fields.String(validate=AGENCY_CODE, metadata={"description": "one agency's own"})
    year = fields.Integer(validate=validate.Range(min=1900, max=2200))
    include_removed = fields.Boolean(load_default=False)


class OverrideSchema(Schema):
    id = fields.Integer(required=True)
    date = fields.Date(required=True)
    kind = fields.String(required=True, metadata={"enum": list(OVERRIDE_KINDS)})
    name = fields.String(required=True)
    source = fields.String(required=True)
    swapped_with = fields.Date(allow_none=True)
    agency_code = fields.Method("_agency_code", allow_none=True)
    created_at = fields.DateTime(required=True)
    created_version = fields.Integer(required=True)
    removed_at = fields.DateTime(allow_none=True)
    removed_version = fields.Integer(allow_none=True)

    def _agency_code(self, obj: Any) -> str | None:
        return obj.agency.code if obj.agency is not None else None


class OverridePageSchema(Schema):
    items = fields.List(fields.Nested(OverrideSchema), required=True)
    meta = fields.Nested(PageMetaSchema, required=True)
    calendar_version_number = fields.Integer(required=True)


class OverrideCreateSchema(Schema):
    date = fields.Date(required=True)
    kind = fields.String(required=True, validate=validate.OneOf(OVERRIDE_KINDS))
    name = Text(required=True, validate=validate.Length(min=2, max=300))
    source = Text(
        required=True,
        validate=validate.Length(min=2, max=300),
        metadata={"description": "number of the announcing document, e.g. Công văn 2450/VPCP"},
    )
    agency = fields.String(
        load_default=None, validate=AGENCY_CODE, metadata={"description": "default: national"}
    )
    swapped_with = fields.Date(
        load_default=None, metadata={"description": "working_day only: the weekday given off"}
    )


_PERIOD = fields.String(
    validate=validate.Regexp(
        r"^[0-2][0-9]:[0-5][0-9]-[0-2][0-9]:[0-5][0-9]$",
        error="Khoảng giờ phải có dạng HH:MM-HH:MM, ví dụ 07:30-11:30.",
    )
)


class WorkingHoursInputSchema(Schema):
    valid_from = fields.Date(required=True)
    weekly = fields.Dict(
        keys=fields.String(validate=validate.OneOf(WEEKDAY_KEYS)),
        values=fields.List(_PERIOD, validate=validate.Length(max=6)),
        required=True,
        metadata={"description": 'e.g. {"mon": ["07:00-11:00", "13:30-17:00"], ...}'},
    )
    makeup = fields.List(_PERIOD, load_default=None, validate=validate.Length(max=6))
    source = Text(required=True, validate=validate.Length(min=2, max=300))


class WorkingHoursArgsSchema(Schema):
    on = fields.Date(metadata={"description": "hours in force on this date (default today)"})


class WorkingHoursRowSchema(Schema):
    valid_from = fields.Date(required=True)
    weekly = fields.Dict(required=True)
    makeup = fields.List(fields.String(), required=True)
    source = fields.String(required=True)
    updated_version = fields.Integer(required=True)


class WorkingHoursSchema(Schema):
    agency_code = fields.String(required=True)
    hours_from = fields.String(
        allow_none=True, metadata={"description": "agency whose hours apply; null: national"}
    )
    weekly = fields.Dict(required=True)
    makeup = fields.List(fields.String(), required=True)
    calendar_version = fields.String(required=True)
    own = fields.List(fields.Nested(WorkingHoursRowSchema), required=True)

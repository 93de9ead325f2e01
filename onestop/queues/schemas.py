"""Queue query strings, the distribution bodies, and the row and page shapes."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from onestop.core.text import Text
from onestop.dossiers.states import Channel, State
from onestop.queues.queries import Sort

# Dates a dossier can have; outside them a filter is a mistake, refused with 422.
DAYS = validate.Range(min=date(2000, 1, 1), max=date(2100, 12, 31))
INSTANTS = validate.Range(
    min=datetime(2000, 1, 1, tzinfo=UTC), max=datetime(2100, 12, 31, tzinfo=UTC)
)


class QueueFilterArgsSchema(Schema):
    unit = Text(
        validate=validate.Length(max=40),
        metadata={"description": "one of the caller's units (agency code); default: all of them"},
    )
    procedure = Text(validate=validate.Length(max=40), metadata={"description": "procedure code"})
    sector = Text(validate=validate.Length(max=20), metadata={"description": "sector code"})
    channel = fields.Enum(Channel, by_value=True)
    online_level = fields.String(validate=validate.OneOf(["full", "partial"]))
    state = fields.Enum(State, by_value=True)
    assignee = Text(validate=validate.Length(max=120), metadata={"description": "user name"})
    received_from = fields.Date(
        validate=DAYS, metadata={"description": "first day of receipt (Hà Nội time)"}
    )
    received_to = fields.Date(
        validate=DAYS, metadata={"description": "last day of receipt (Hà Nội time)"}
    )
    due_before = fields.AwareDateTime(
        validate=INSTANTS, metadata={"description": "legal due date before this"}
    )
    q = Text(
        validate=validate.Length(min=2, max=100),
        metadata={"description": "dossier code prefix, or applicant name (diacritics optional)"},
    )

    @validates_schema
    def _range(self, data: dict[str, Any], **_: Any) -> None:
        a, b = data.get("received_from"), data.get("received_to")
        if a and b and a > b:
            raise ValidationError("Ngày bắt đầu phải trước ngày kết thúc.", "received_from")


class QueuePageArgsSchema(QueueFilterArgsSchema):
    sort = fields.Enum(
        Sort, by_value=True, load_default=Sort.DUE, metadata={"description": "always ascending"}
    )
    after = fields.String(
        validate=validate.Length(max=400),
        metadata={"description": "the `next` cursor of the previous page"},
    )
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=100))


class QueueStepSchema(Schema):
    code = fields.String()
    name = fields.String()
    budget = fields.String(allow_none=True, metadata={"description": "the step's own budget"})
    due_at = fields.AwareDateTime(allow_none=True)
    time_left_working_seconds = fields.Integer(allow_none=True)
    time_left_text = fields.String(allow_none=True)


class QueueRowSchema(Schema):
    id = fields.Integer()
    version = fields.Integer(metadata={"description": 'send as If-Match: "d{id}-v{version}"'})
    code = fields.String(allow_none=True)
    submission_no = fields.String()
    procedure_code = fields.String()
    procedure_name = fields.String()
    applicant_name = fields.String(
        metadata={"description": "full for clerks; family name and initials for managers"}
    )
    channel = fields.String()
    channel_label = fields.String()
    state = fields.String()
    state_code = fields.Integer()
    state_label = fields.String()
    agency_code = fields.String(metadata={"description": "the agency that received it"})
    current_unit_code = fields.String()
    current_unit_name = fields.String()
    assigned_to = fields.String(allow_none=True)
    submitted_at = fields.AwareDateTime()
    received_at = fields.AwareDateTime(allow_none=True)
    legal_due_at = fields.AwareDateTime(allow_none=True)
    promised_due_at = fields.AwareDateTime(allow_none=True)
    extended_due_at = fields.AwareDateTime(allow_none=True)
    processing_time = fields.String(allow_none=True)
    paused = fields.Boolean()
    time_left_working_seconds = fields.Integer(
        allow_none=True, metadata={"description": "working seconds to the legal due date; < 0 late"}
    )
    time_left_text = fields.String(allow_none=True)
    overdue = fields.Boolean()
    due_soon = fields.Boolean()
    step = fields.Nested(QueueStepSchema, allow_none=True)


class QueuePageSchema(Schema):
    view = fields.String()
    label = fields.String()
    sort = fields.String()
    items = fields.List(fields.Nested(QueueRowSchema))
    next = fields.String(allow_none=True, metadata={"description": "cursor of the next page"})


class QueueTabSchema(Schema):
    view = fields.String()
    label = fields.String()
    count = fields.Integer(metadata={"description": "exact up to 999"})
    count_text = fields.String(metadata={"description": '"> 999" beyond'})
    capped = fields.Boolean()


class QueueTabsSchema(Schema):
    due_soon_share = fields.Float()
    tabs = fields.List(fields.Nested(QueueTabSchema))


class TakeNextSchema(Schema):
    unit = Text(validate=validate.Length(max=40), load_default=None)
    procedure = Text(validate=validate.Length(max=40), load_default=None)


class ReassignAllSchema(Schema):
    from_user = Text(required=True, validate=validate.Length(min=1, max=120))
    to_user = Text(
        load_default=None,
        validate=validate.Length(min=1, max=120),
        metadata={"description": "omit (or null) to give the dossiers back to the unit's queue"},
    )
    reason = Text(load_default=None, multiline=True, validate=validate.Length(max=2000))


class ReassignResultSchema(Schema):
    moved = fields.Integer()
    dossier_ids = fields.List(fields.Integer())
    to_user = fields.String(allow_none=True)

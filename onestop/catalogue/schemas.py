"""Query and output schemas of the public catalogue API (the contract, written by hand)."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, validate

from onestop.catalogue.definitions import DurationUnit, Level, OnlineLevel, ProcedureDefinition
from onestop.core.pagination import PageArgsSchema, PageMetaSchema
from onestop.core.text import Text

AGENCY_CODE = validate.Regexp(
    r"^[0-9A-Z]{2,4}(\.[0-9A-Z]{2,4}){1,5}$",
    error="Mã cơ quan không đúng định dạng (ví dụ 000.00.14.H56).",
)


class ProcedureListArgsSchema(PageArgsSchema):
    q = Text(
        validate=validate.Length(max=200),
        metadata={"description": "words of the name or code; case and diacritics ignored"},
    )
    level = fields.String(validate=validate.OneOf([str(x) for x in Level]))
    sector = Text(
        validate=validate.Length(max=200),
        metadata={"description": "sector code, or sector name (case and diacritics ignored)"},
    )
    online_level = fields.String(validate=validate.OneOf([str(x) for x in OnlineLevel]))
    agency = fields.String(
        validate=AGENCY_CODE,
        metadata={"description": "only procedures offered at this agency's desk"},
    )


class ProcedureDurationSchema(Schema):
    amount = fields.Integer(required=True)
    unit = fields.String(required=True, metadata={"enum": [str(u) for u in DurationUnit]})


class ProcedureSectorSchema(Schema):
    code = fields.String(allow_none=True)
    name = fields.String(required=True)


class ProcedureFeeSchema(Schema):
    name = fields.String(required=True)
    amount = fields.Integer(
        allow_none=True, metadata={"description": "VND; null when set locally (see notes)"}
    )
    notes = fields.String(allow_none=True)
    exemptions = fields.String(allow_none=True)


class ProcedureChannelSchema(Schema):
    channel = fields.String(required=True, metadata={"enum": ["in_person", "online", "postal"]})
    processing_time = fields.Nested(ProcedureDurationSchema, required=True)
    fees = fields.List(fields.Nested(ProcedureFeeSchema), required=True)
    notes = fields.String(allow_none=True)


class ProcedureDocumentSchema(Schema):
    slot = fields.String(required=True, metadata={"description": "stable code of the document"})
    name = fields.String(required=True)
    originals = fields.Integer(required=True)
    copies = fields.Integer(required=True)
    required = fields.Boolean(required=True)
    form = fields.String(allow_none=True)


class ProcedureDocumentGroupSchema(Schema):
    case = fields.String(required=True)
    documents = fields.List(fields.Nested(ProcedureDocumentSchema), required=True)


class ProcedureOfferedBySchema(Schema):
    all_communes = fields.Boolean(required=True)
    agencies = fields.List(fields.String(), required=True)


class ProcedureClockSchema(Schema):
    max_supplement_requests = fields.Integer(required=True)
    payment_pauses_clock = fields.Boolean(required=True)
    same_day_cutoff = fields.Method("_cutoff", metadata={"description": "HH:MM"})

    def _cutoff(self, obj: Any) -> str:
        return obj.same_day_cutoff.strftime("%H:%M")


class ProcedureStepSchema(Schema):
    code = fields.String(required=True)
    name = fields.String(required=True)
    role = fields.String(required=True)
    budget = fields.Nested(ProcedureDurationSchema, required=True)


class ProcedureSummarySchema(Schema):
    code = fields.String(required=True)
    version = fields.Integer(required=True)
    name = fields.String(required=True)
    level = fields.String(required=True, metadata={"enum": [str(x) for x in Level]})
    sector = fields.Method("_sector")
    online_level = fields.String(required=True, metadata={"enum": [str(x) for x in OnlineLevel]})
    full_online_eligible = fields.Boolean(required=True)
    processing_times = fields.Method("_times")

    def _sector(self, obj: Any) -> dict[str, Any]:
        return {"code": obj.sector_code, "name": obj.sector_name}

    def _times(self, obj: Any) -> list[dict[str, Any]]:
        definition: ProcedureDefinition = obj.as_definition()
        return [
            {"channel": str(c.channel), **_duration(c.processing_time)} for c in definition.channels
        ]


def _duration(duration: Any) -> dict[str, Any]:
    return {"amount": duration.amount, "unit": str(duration.unit)}


class ProcedurePageSchema(Schema):
    items = fields.List(fields.Nested(ProcedureSummarySchema), required=True)
    meta = fields.Nested(PageMetaSchema, required=True)


class ProcedureDetailSchema(Schema):
    """Everything a desk or a citizen needs before applying."""

    code = fields.String(required=True)
    version = fields.Integer(required=True)
    content_hash = fields.String(required=True)
    name = fields.String(required=True)
    decision = fields.String(required=True, metadata={"description": "publishing decision"})
    source_url = fields.String(required=True)
    level = fields.String(required=True)
    sector = fields.Nested(ProcedureSectorSchema, required=True)
    steps = fields.List(fields.String(), required=True)
    channels = fields.List(fields.Nested(ProcedureChannelSchema), required=True)
    document_groups = fields.List(fields.Nested(ProcedureDocumentGroupSchema), required=True)
    applicants = fields.List(fields.String(), required=True)
    competent_body = fields.String(required=True)
    coordinating_bodies = fields.List(fields.String(), required=True)
    result = fields.String(required=True)
    legal_basis = fields.List(fields.String(), required=True)
    conditions = fields.List(fields.String(), required=True)
    full_online_eligible = fields.Boolean(required=True)
    online_level = fields.String(required=True)
    offered_by = fields.Nested(ProcedureOfferedBySchema, required=True)
    clock = fields.Nested(ProcedureClockSchema, required=True)
    processing_steps = fields.List(fields.Nested(ProcedureStepSchema), required=True)
    notes = fields.List(fields.String(), required=True)

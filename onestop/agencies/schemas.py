"""Agency input and output schemas."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from onestop.agencies.models import AgencyKind
from onestop.core.pagination import PageArgsSchema, PageMetaSchema
from onestop.core.text import Text

AGENCY_CODE = validate.Regexp(
    r"^[0-9A-Z]{2,4}(\.[0-9A-Z]{2,4}){1,5}$",
    error="Mã cơ quan không đúng định dạng (ví dụ 000.00.14.H56).",
)


class AgencySchema(Schema):
    code = fields.String(required=True)
    name = fields.String(required=True)
    kind = fields.String(required=True, metadata={"enum": [k.value for k in AgencyKind]})
    parent_code = fields.Method("_parent_code", allow_none=True)
    place = fields.String()
    valid_from = fields.Date()
    valid_to = fields.Date(allow_none=True)

    def _parent_code(self, obj) -> str | None:
        return obj.parent.code if getattr(obj, "parent", None) is not None else None


class AgencyListArgsSchema(PageArgsSchema):
    kind = fields.String(validate=validate.OneOf([k.value for k in AgencyKind]))
    parent = fields.String(validate=AGENCY_CODE, metadata={"description": "parent agency code"})
    on = fields.Date(metadata={"description": "only agencies valid on this date (default today)"})


class AgencyPageSchema(Schema):
    items = fields.List(fields.Nested(AgencySchema), required=True)
    meta = fields.Nested(PageMetaSchema, required=True)


class AgencyCreateSchema(Schema):
    code = fields.String(required=True, validate=AGENCY_CODE)
    name = Text(required=True, printable=True, validate=validate.Length(min=2, max=300))
    kind = fields.Enum(AgencyKind, by_value=True, required=True)
    parent_code = fields.String(load_default=None, validate=AGENCY_CODE)
    valid_from = fields.Date(required=True)
    valid_to = fields.Date(load_default=None)
    place = Text(printable=True, load_default="", validate=validate.Length(max=100))
    address = Text(printable=True, load_default="", validate=validate.Length(max=500))

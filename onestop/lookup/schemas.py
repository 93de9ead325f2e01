"""Query arguments and the public status reply of the lookup API (no personal data in it)."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from onestop.lookup.services import MAX_CHECK_LENGTH, MAX_CODE_LENGTH


class LookupArgsSchema(Schema):
    code = fields.String(
        required=True,
        validate=validate.Length(min=1, max=MAX_CODE_LENGTH),
        metadata={"description": "dossier code from the receipt, e.g. 000.21.01.H56-260305-0001"},
    )
    check = fields.String(
        required=True,
        validate=validate.Length(min=1, max=MAX_CHECK_LENGTH),
        metadata={"description": "the 6-character check code printed beside the dossier code"},
    )


class PublicStatusSchema(Schema):
    """The status of a received dossier: state, procedure, agency and dates, nothing personal."""

    code = fields.String(required=True, metadata={"description": "dossier code"})
    state = fields.String(required=True, metadata={"description": "state slug, e.g. processing"})
    state_code = fields.Integer(
        required=True, metadata={"description": "national portal (DVCQG) status code, 1-10"}
    )
    state_label = fields.String(required=True, metadata={"description": "Vietnamese label"})
    procedure_code = fields.String(required=True)
    procedure_name = fields.String(required=True)
    agency_name = fields.String(required=True, metadata={"description": "receiving agency"})
    received_at = fields.AwareDateTime(allow_none=True)
    promised_due_at = fields.AwareDateTime(
        allow_none=True, metadata={"description": "return date printed on the receipt"}
    )
    legal_due_at = fields.AwareDateTime(
        allow_none=True,
        metadata={"description": "current legal due date (moves by time waiting for the citizen)"},
    )
    extended_due_at = fields.AwareDateTime(
        allow_none=True, metadata={"description": "new date set by an apology letter (form 04)"}
    )
    due_at = fields.AwareDateTime(
        allow_none=True, metadata={"description": "the date the result should now be expected"}
    )
    resolved_at = fields.AwareDateTime(allow_none=True)
    returned_at = fields.AwareDateTime(allow_none=True)
    verdict = fields.String(
        required=True, metadata={"description": "early | on_time | late | in_progress | ..."}
    )
    verdict_label = fields.String(required=True, metadata={"description": "Vietnamese label"})

"""Dossier input schemas, per-action transition bodies, and the output shapes per audience."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from onestop.core.pagination import PageArgsSchema, PageMetaSchema
from onestop.core.text import Text, printable
from onestop.dossiers.applicant import cccd_problem, tax_code_problem
from onestop.dossiers.states import Action, Channel, State

# Every free string is a ``Text`` field, codes and user names included: a NUL byte or a lone
# surrogate must be a 422 here, not reach a query (PostgreSQL refuses NUL with a server error).
# Every field whose text can reach a form (the applicant, addresses, notes, reasons, the missing
# papers, results) is ``printable``: a character the forms' fonts cannot draw is a 422 naming the
# field and the character, not a receipt that can never be issued (docs/documents.md).
PHONE = validate.Regexp(r"^\+?[0-9]{9,15}$", error="Số điện thoại không hợp lệ.")
DELIVERY = ["desk", "post", "online"]


class ApplicantSchema(Schema):
    kind = fields.String(load_default="person", validate=validate.OneOf(["person", "organisation"]))
    full_name = Text(required=True, printable=True, validate=validate.Length(min=2, max=200))
    id_number = Text(load_default=None, printable=True, metadata={"description": "CCCD, 12 digits"})
    tax_code = Text(load_default=None, printable=True, validate=validate.Length(max=14))
    birth_date = fields.Date(load_default=None)
    address = Text(load_default="", printable=True, validate=validate.Length(max=500))
    phone = fields.String(load_default=None, validate=PHONE)
    email = fields.Email(load_default=None, validate=[validate.Length(max=254), printable])

    @validates_schema
    def _identity(self, data: dict[str, Any], **_: Any) -> None:
        if data.get("kind", "person") == "person":
            if not data.get("id_number"):
                raise ValidationError("Cần số CCCD của người nộp.", "id_number")
            problem = cccd_problem(data["id_number"], data.get("birth_date"))
            if problem:
                raise ValidationError(problem, "id_number")
        else:
            if not data.get("tax_code"):
                raise ValidationError("Cần mã số thuế của tổ chức.", "tax_code")
            problem = tax_code_problem(data["tax_code"])
            if problem:
                raise ValidationError(problem, "tax_code")


class DossierCreateSchema(Schema):
    procedure_code = Text(required=True, validate=validate.Length(min=8, max=40))
    agency_code = Text(required=True, validate=validate.Length(max=40))
    channel = fields.Enum(Channel, by_value=True, required=True)
    applicant = fields.Nested(ApplicantSchema, required=True)
    sets_count = fields.Integer(strict=True, load_default=1, validate=validate.Range(min=1, max=20))
    result_delivery = fields.String(load_default="desk", validate=validate.OneOf(DELIVERY))
    delivery_address = Text(load_default="", printable=True, validate=validate.Length(max=500))
    note = Text(load_default="", multiline=True, printable=True, validate=validate.Length(max=2000))
    owner_username = Text(
        load_default=None,
        validate=validate.Length(max=120),
        metadata={"description": "clerks only: the citizen account the dossier belongs to"},
    )


REASON = Text(
    required=True, multiline=True, printable=True, validate=validate.Length(min=3, max=2000)
)
MISSING = fields.List(
    Text(printable=True, validate=validate.Length(min=2, max=500)),
    required=True,
    validate=validate.Length(min=1, max=50),
    metadata={"description": "one complete list of what is missing or must be corrected"},
)


def _opt_reason() -> Text:
    return Text(
        load_default=None, multiline=True, printable=True, validate=validate.Length(max=2000)
    )


ACTION_FIELDS: dict[Action, dict[str, fields.Field[Any]]] = {
    Action.INTAKE_INCOMPLETE: {"missing": MISSING},
    Action.RESUBMIT: {"note": _opt_reason()},
    Action.REFUSE: {"reason": REASON},
    Action.RECEIVE: {},
    Action.FORWARD: {
        "to_unit": Text(required=True, validate=validate.Length(max=40)),
        "step_code": Text(load_default=None, validate=validate.Length(max=40)),
        "result": Text(
            load_default=None, multiline=True, printable=True, validate=validate.Length(max=1000)
        ),
    },
    Action.ACCEPT_HANDOVER: {},
    Action.ASSIGN: {"assignee": Text(required=True, validate=validate.Length(max=120))},
    Action.REASSIGN: {
        "assignee": Text(required=True, validate=validate.Length(max=120)),
        "reason": _opt_reason(),
    },
    Action.RELEASE: {"reason": _opt_reason()},
    Action.REQUEST_SUPPLEMENT: {"missing": MISSING},
    Action.SUPPLY: {
        "note": _opt_reason(),
        "override_reason": Text(
            load_default=None,
            multiline=True,
            printable=True,
            validate=validate.Length(min=3, max=2000),
            metadata={
                "description": "staff only: why the supplement is accepted without an upload "
                "since the request (e.g. papers received at the desk); kept in the ledger"
            },
        ),
    },
    Action.REQUEST_PAYMENT: {"reason": _opt_reason()},
    Action.CONFIRM_PAYMENT: {
        "reference": Text(
            load_default=None,
            printable=True,
            validate=validate.Length(max=100),
            metadata={"description": "the receipt or transaction number of the payment"},
        )
    },
    Action.REQUEST_WITHDRAWAL: {"reason": _opt_reason()},
    Action.ACCEPT_WITHDRAWAL: {"reason": _opt_reason()},
    Action.DENY: {"reason": REASON},
    Action.APOLOGIZE: {"reason": REASON, "new_due_at": fields.AwareDateTime(required=True)},
    Action.RESOLVE: {
        "result": Text(
            required=True, multiline=True, printable=True, validate=validate.Length(min=3, max=2000)
        )
    },
    Action.RETURN_RESULT: {
        "method": fields.String(load_default=None, validate=validate.OneOf(DELIVERY))
    },
}


def action_schema(action: Action) -> type[Schema]:
    name = "".join(p.title() for p in action.value.split("_")) + "Schema"
    return Schema.from_dict(dict(ACTION_FIELDS[action]), name=name)


class DossierListArgsSchema(PageArgsSchema):
    state = fields.Enum(State, by_value=True)
    procedure = Text(validate=validate.Length(max=40))
    code = Text(validate=validate.Length(max=60))
    q = Text(validate=validate.Length(min=2, max=100), metadata={"description": "applicant name"})


class ApplicantOutSchema(Schema):
    kind = fields.String()
    full_name = fields.String()
    id_number = fields.String(
        allow_none=True, metadata={"description": "masked except for the assigned clerk"}
    )
    tax_code = fields.String(allow_none=True)
    birth_date = fields.Date(allow_none=True)
    address = fields.String()
    phone = fields.String(allow_none=True)
    email = fields.String(allow_none=True)


class VerdictSchema(Schema):
    verdict = fields.String()
    label = fields.String()
    due_at = fields.AwareDateTime(allow_none=True)


class DossierSchema(Schema):
    id = fields.Integer()
    code = fields.String(allow_none=True, metadata={"description": "issued at receipt"})
    submission_no = fields.String()
    version = fields.Integer()
    state = fields.String()
    state_code = fields.Integer(metadata={"description": "national portal status code 1–10"})
    state_label = fields.String()
    channel = fields.String()
    channel_code = fields.Integer()
    procedure_code = fields.String()
    procedure_name = fields.String()
    agency_code = fields.String()
    current_unit_code = fields.String()
    assigned_to = fields.String(allow_none=True)
    applicant = fields.Nested(ApplicantOutSchema)
    sets_count = fields.Integer()
    result_delivery = fields.String()
    submitted_at = fields.AwareDateTime()
    received_at = fields.AwareDateTime(allow_none=True)
    processing_time = fields.String(allow_none=True)
    promised_due_at = fields.AwareDateTime(allow_none=True)
    legal_due_at = fields.AwareDateTime(allow_none=True)
    extended_due_at = fields.AwareDateTime(allow_none=True)
    paused = fields.Boolean()
    paused_working_seconds = fields.Integer()
    time_left_working_seconds = fields.Integer(allow_none=True)
    supplement_count = fields.Integer()
    current_step = fields.String(allow_none=True)
    step_due_at = fields.AwareDateTime(allow_none=True)
    resolved_at = fields.AwareDateTime(allow_none=True)
    returned_at = fields.AwareDateTime(allow_none=True)
    finished_at = fields.AwareDateTime(allow_none=True)
    verdict = fields.Nested(VerdictSchema)
    lookup_url = fields.String(allow_none=True)
    check_code = fields.String(allow_none=True)


class DossierSummarySchema(Schema):
    id = fields.Integer()
    code = fields.String(allow_none=True)
    submission_no = fields.String()
    state = fields.String()
    state_label = fields.String()
    procedure_code = fields.String()
    applicant_name = fields.String()
    received_at = fields.AwareDateTime(allow_none=True)
    legal_due_at = fields.AwareDateTime(allow_none=True)


class DossierPageSchema(Schema):
    items = fields.List(fields.Nested(DossierSummarySchema))
    meta = fields.Nested(PageMetaSchema)


class TimelineEntrySchema(Schema):
    at = fields.AwareDateTime()
    at_text = fields.String(metadata={"description": "Vietnamese long form"})
    action = fields.String()
    label = fields.String()
    state = fields.String(allow_none=True)
    state_label = fields.String(allow_none=True)
    by = fields.String(metadata={"description": "role of the person who acted"})
    detail = fields.String(allow_none=True)


class TimelineSchema(Schema):
    code = fields.String(allow_none=True)
    entries = fields.List(fields.Nested(TimelineEntrySchema))


class HandoverSchema(Schema):
    seq = fields.Integer()
    from_unit = fields.String()
    to_unit = fields.String()
    handed_at = fields.AwareDateTime()
    handed_by = fields.String()
    accepted_at = fields.AwareDateTime(allow_none=True)
    accepted_by = fields.String(allow_none=True)
    step_code = fields.String(allow_none=True)
    step_name = fields.String()
    step_due_at = fields.AwareDateTime(allow_none=True)
    step_result = fields.String()

"""Request and response schemas of the issued-documents API (no snapshot, ever)."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

SHA256_HEX = validate.Regexp(r"^[0-9a-fA-F]{64}$", error="Phải là 64 chữ số thập lục phân.")


class NoArgsSchema(Schema):
    """No query parameters (unknown ones are refused with 422)."""


class IssuedDocumentSchema(Schema):
    id = fields.Integer(required=True)
    form_code = fields.String(
        required=True, metadata={"description": "form number, Circular 03/2025/TT-VPCP (01–07)"}
    )
    title = fields.String(required=True, metadata={"description": "the form's Vietnamese title"})
    issued_at = fields.AwareDateTime(required=True)
    sha256 = fields.String(required=True, metadata={"description": "SHA-256 of the PDF bytes"})
    size = fields.Integer(required=True, metadata={"description": "bytes"})
    signed = fields.Boolean(
        required=True, metadata={"description": "carries the agency's digital signature"}
    )
    supersedes_id = fields.Integer(
        allow_none=True, metadata={"description": "the earlier version this one replaces"}
    )
    download_url = fields.String(required=True)


class RegisterArgsSchema(Schema):
    agency_code = fields.String(required=True, validate=validate.Length(min=1, max=40))
    from_date = fields.Date(
        required=True, data_key="from", metadata={"description": "first day (Vietnam date)"}
    )
    to_date = fields.Date(
        required=True, data_key="to", metadata={"description": "last day, included"}
    )


class VerifyArgsSchema(Schema):
    sha256 = fields.String(
        required=True,
        validate=SHA256_HEX,
        metadata={"description": "SHA-256 of the PDF file, hexadecimal"},
    )


class VerificationSchema(Schema):
    """Whether onestop issued a document; never who it is about."""

    issued = fields.Boolean(required=True)
    sha256 = fields.String()
    form_code = fields.String()
    form_title = fields.String()
    dossier_code = fields.String(
        allow_none=True, metadata={"description": "absent for registers and pre-receipt forms"}
    )
    agency_code = fields.String()
    agency_name = fields.String()
    issued_at = fields.AwareDateTime()
    signed = fields.Boolean()
    superseded = fields.Boolean(
        metadata={"description": "a newer version of this document was issued later"}
    )

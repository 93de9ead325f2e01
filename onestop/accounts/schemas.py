"""Account input and output schemas (passwords are load-only and never serialised)."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from onestop.core.access import Role
from onestop.core.pagination import PageMetaSchema
from onestop.core.text import Text

USERNAME = validate.Regexp(
    r"^[A-Za-z0-9._@+-]{3,120}$",
    error="Tên đăng nhập gồm 3–120 ký tự: chữ không dấu, số, dấu chấm, gạch, @ hoặc +.",
)
PHONE = validate.Regexp(r"^\+?[0-9]{9,15}$", error="Số điện thoại không hợp lệ.")


class LoginSchema(Schema):
    username = fields.String(required=True, validate=validate.Length(min=1, max=120))
    password = fields.String(required=True, load_only=True, validate=validate.Length(max=128))
    device_token = fields.String(
        load_only=True,
        validate=validate.Length(max=100),
        metadata={"description": "the device_token of this client's last successful login"},
    )
    captcha = fields.String(
        load_only=True,
        validate=validate.Length(max=4096),
        metadata={"description": "a solved challenge, when the deployment configures one"},
    )


class TokenSchema(Schema):
    token = fields.String(required=True, metadata={"description": "send as Bearer token"})
    token_type = fields.String(required=True)
    expires_at = fields.AwareDateTime(required=True)
    user = fields.Nested(lambda: UserSchema(), required=True)
    device_token = fields.String(
        required=True,
        metadata={"description": "send it back with the next login from this client"},
    )


class RegisterSchema(Schema):
    username = fields.String(required=True, validate=USERNAME)
    password = fields.String(required=True, load_only=True, validate=validate.Length(max=128))
    full_name = Text(required=True, printable=True, validate=validate.Length(min=2, max=200))
    email = fields.Email(load_default=None, validate=validate.Length(max=254))
    phone = fields.String(load_default=None, validate=PHONE)


class UserCreateSchema(RegisterSchema):
    role = fields.Enum(Role, by_value=True, required=True)
    agency_codes = fields.List(
        fields.String(validate=validate.Length(max=40)),
        load_default=list,
        validate=validate.Length(max=20),
    )


class UserSchema(Schema):
    id = fields.Integer(required=True)
    username = fields.String(required=True)
    full_name = fields.String(required=True)
    email = fields.String(allow_none=True)
    phone = fields.String(allow_none=True)
    role = fields.String(required=True)
    is_active = fields.Boolean(required=True)
    agency_codes = fields.Method("_agency_codes")

    def _agency_codes(self, user) -> list[str]:
        return sorted(m.agency.code for m in getattr(user, "memberships", []) if m.agency)


class UserListArgsSchema(Schema):
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=100_000))
    page_size = fields.Integer(load_default=20, validate=validate.Range(min=1, max=100))
    role = fields.Enum(Role, by_value=True)


class UserPageSchema(Schema):
    items = fields.List(fields.Nested(UserSchema), required=True)
    meta = fields.Nested(PageMetaSchema, required=True)

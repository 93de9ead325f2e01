"""``/api/v1/auth`` (log in and out), ``/api/v1/accounts`` (self-service) and ``/api/v1/users``."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import current_app
from sqlalchemy import select

from onestop.accounts import services
from onestop.accounts.models import User
from onestop.accounts.schemas import (
    LoginSchema,
    RegisterSchema,
    TokenSchema,
    UserCreateSchema,
    UserListArgsSchema,
    UserPageSchema,
    UserSchema,
)
from onestop.core.access import Role, access, client_address, require_principal, set_authenticator
from onestop.core.clock import now
from onestop.core.errors import Unauthenticated
from onestop.core.pagination import paginate
from onestop.core.tx import transactional, unit_of_work
from onestop.extensions import Blueprint, db

blp = Blueprint(
    "accounts", __name__, url_prefix="/api/v1", description="Tài khoản và đăng nhập (accounts)"
)


def init_app(app: Any) -> None:
    def _authenticate(token: str):
        principal = services.authenticate(db.session, token, now=now())
        # End the read transaction: a write unit of work must start fresh (SQLite snapshot).
        db.session.rollback()
        return principal

    set_authenticator(app, _authenticate)
    profile = app.config.get("PASSWORD_HASH_PROFILE")
    if profile:
        services.set_password_profile(**profile)


@blp.route("/auth/tokens", methods=["POST"])
@access.public
@blp.arguments(LoginSchema)
@blp.response(201, TokenSchema)
@blp.alt_response(401, description="Wrong username or password")
@blp.alt_response(429, description="Too many failed attempts from this client")
def log_in(data: dict[str, Any]) -> dict[str, Any]:
    """Log in with username and password; returns an opaque bearer token.

    Failed attempts are throttled per account and client, and per client.
    """
    cfg = current_app.config
    throttle = services.ThrottlePolicy(
        per_account_client=cfg["LOGIN_MAX_FAILURES_PER_ACCOUNT_CLIENT"],
        per_client=cfg["LOGIN_MAX_FAILURES_PER_CLIENT"],
        window=timedelta(minutes=cfg["LOGIN_THROTTLE_WINDOW_MINUTES"]),
    )
    try:
        with unit_of_work():
            issued = services.login(
                db.session,
                data["username"],
                data["password"],
                client=client_address(),
                now=now(),
                ttl=timedelta(hours=cfg["TOKEN_TTL_HOURS"]),
                throttle=throttle,
            )
    except Unauthenticated:
        # The failure row must be kept even though the request fails: record it on its own.
        with unit_of_work():
            services.record_login_failure(
                db.session, data["username"], client=client_address(), now=now()
            )
        raise
    return {
        "token": issued.token,
        "token_type": "Bearer",
        "expires_at": issued.expires_at,
        "user": issued.user,
    }


@blp.route("/auth/tokens", methods=["DELETE"])
@access.authenticated
@blp.response(204)
@transactional
def log_out() -> None:
    """Log out: revoke the token used for this request."""
    services.logout(db.session, actor=require_principal(), now=now())


@blp.route("/accounts", methods=["POST"])
@access.public
@blp.arguments(RegisterSchema)
@blp.response(201, UserSchema)
@blp.alt_response(409, description="Username taken")
@transactional
def register(data: dict[str, Any]):
    """A citizen registers an account."""
    return services.register_citizen(
        db.session, services.NewUser(role=Role.CITIZEN, **data), now=now()
    )


@blp.route("/accounts/me")
@access.authenticated
@blp.response(200, UserSchema)
def me():
    """The logged-in user."""
    return services.get_user(db.session, require_principal().user_id)


@blp.route("/users")
@access.roles(Role.ADMIN)
@blp.arguments(UserListArgsSchema, location="query")
@blp.response(200, UserPageSchema)
def list_users(args: dict[str, Any]) -> dict[str, Any]:
    """List accounts (administrators)."""
    stmt = select(User).order_by(User.id)
    if args.get("role"):
        stmt = stmt.where(User.role == str(args["role"]))
    return paginate(db.session, stmt, args["page"], args["page_size"])


@blp.route("/users", methods=["POST"])
@access.roles(Role.ADMIN)
@blp.arguments(UserCreateSchema)
@blp.response(201, UserSchema)
@blp.alt_response(409, description="Username taken")
@blp.alt_response(422, description="Invalid data, e.g. staff without agency")
@transactional
def create_user(data: dict[str, Any]):
    """Create a staff account (clerk, manager, administrator) or a citizen (administrators)."""
    data["agency_codes"] = tuple(data["agency_codes"])
    return services.create_user(
        db.session, services.NewUser(**data), actor=require_principal(), now=now()
    )


@blp.route("/users/<int:user_id>/disable", methods=["POST"])
@access.roles(Role.ADMIN)
@blp.response(200, UserSchema)
@blp.alt_response(404, description="No such user")
@transactional
def disable_user(user_id: int):
    """Disable an account; every token it holds stops working at once."""
    user = services.get_user(db.session, user_id)
    return services.disable_user(db.session, user, actor=require_principal(), now=now())

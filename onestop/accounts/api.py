"""``/api/v1/auth`` (log in and out), ``/api/v1/accounts`` (self-service) and ``/api/v1/users``."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Any

from flask import current_app
from sqlalchemy import select

from onestop.accounts import services
from onestop.accounts.captcha import load_from_config, verifier_of
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
from onestop.core import ratelimit
from onestop.core.access import Role, access, client_address, require_principal, set_authenticator
from onestop.core.clock import now
from onestop.core.db import end_read_transaction
from onestop.core.errors import Unauthenticated
from onestop.core.pagination import paginate
from onestop.core.ratelimit import client_bucket
from onestop.core.tx import transactional, unit_of_work
from onestop.extensions import Blueprint, db

blp = Blueprint(
    "accounts", __name__, url_prefix="/api/v1", description="Tài khoản và đăng nhập (accounts)"
)


def init_app(app: Any) -> None:
    def _authenticate(token: str):
        principal = services.authenticate(db.session, token, now=now())
        # A write unit of work must start fresh on SQLite (its read snapshot); on PostgreSQL the
        # request goes on in this transaction.
        end_read_transaction(db.session)
        return principal

    set_authenticator(app, _authenticate)
    load_from_config(app)
    profile = app.config.get("PASSWORD_HASH_PROFILE")
    if profile:
        services.set_password_profile(**profile)


def _throttle_policy() -> services.ThrottlePolicy:
    cfg = current_app.config
    return services.ThrottlePolicy(
        per_account_client=int(cfg["LOGIN_MAX_FAILURES_PER_ACCOUNT_CLIENT"]),
        per_client=int(cfg["LOGIN_MAX_FAILURES_PER_CLIENT"]),
        window=timedelta(minutes=int(cfg["LOGIN_THROTTLE_WINDOW_MINUTES"])),
        account_free_failures=int(cfg["LOGIN_ACCOUNT_FREE_FAILURES"]),
        account_window=timedelta(hours=int(cfg["LOGIN_ACCOUNT_WINDOW_HOURS"])),
        account_max_delay=int(cfg["LOGIN_ACCOUNT_MAX_DELAY_SECONDS"]),
        per_device=int(cfg["LOGIN_MAX_FAILURES_PER_DEVICE"]),
        device_days=int(cfg["LOGIN_DEVICE_TOKEN_DAYS"]),
    )


def _device_key() -> bytes:
    """The device-token key, derived from SECRET_KEY so that it is never stored anywhere."""
    secret = str(current_app.config["SECRET_KEY"]).encode()
    return hashlib.sha256(b"onestop login device tokens\0" + secret).digest()


def _wait_for_account(delay: services.AccountDelay, captcha: str | None, client: str) -> None:
    """Unknown clients wait out an account's delay, then one of them gets the next attempt:
    claimed in the shared store, so attempts fired at once from many addresses (or workers)
    still get one. A solved CAPTCHA, where a verifier is configured, replaces the wait."""
    verifier = verifier_of(current_app)
    if verifier is not None and captcha and verifier(captcha, client=client):
        return
    kind = "auth.captcha_required" if verifier is not None else "auth.throttled"
    at = now()
    left = delay.remaining(at)
    if left > 0:
        raise services.throttled(left, kind)
    ratelimit.enforce(
        [ratelimit.Limit(delay.slot, 1, window_seconds=delay.seconds)],
        now=at,
        message=services.THROTTLED_MESSAGE,
        type=kind,
    )


@blp.route("/auth/tokens", methods=["POST"])
@access.public
@blp.arguments(LoginSchema)
@blp.response(201, TokenSchema)
@blp.alt_response(401, description="Wrong username or password")
@blp.alt_response(429, description="Too many failed attempts; see Retry-After")
def log_in(data: dict[str, Any]) -> dict[str, Any]:
    """Log in with username and password; returns an opaque bearer token and a device token.

    Send the `device_token` of the last successful login from this browser or app back with
    the next login: a known device is never slowed down by someone else's wrong guesses.
    Failed attempts are limited per account and client address, per client address, and per
    known device; after many failures of one account from anywhere, unknown clients get one
    attempt per growing delay (never a lockout). With a CAPTCHA verifier configured, a solved
    challenge in `captcha` replaces that wait. Details: docs/accounts.md.
    """
    policy = _throttle_policy()
    key = _device_key()
    username = data["username"].strip().lower()
    client = client_address()
    at = now()
    device = services.known_device(
        key, username, data.get("device_token"), now=at, max_days=policy.device_days
    )
    delay = services.check_throttle(
        db.session, username, client=client, device=device, now=at, policy=policy
    )
    db.session.rollback()  # end the read before the shared store and the unit of work
    if delay is not None:
        _wait_for_account(delay, data.get("captcha"), client)
    try:
        with unit_of_work():
            issued = services.login(
                db.session,
                username,
                data["password"],
                client=client,
                now=at,
                ttl=timedelta(hours=int(current_app.config["TOKEN_TTL_HOURS"])),
                device=device,
            )
    except Unauthenticated:
        # The failure row must be kept even though the request fails: record it on its own.
        with unit_of_work():
            services.record_login_failure(
                db.session, username, client=client, now=at, device=device
            )
        raise
    return {
        "token": issued.token,
        "token_type": "Bearer",
        "expires_at": issued.expires_at,
        "user": issued.user,
        "device_token": services.device_token(
            key, username, device or services.new_device_id(), now=at
        ),
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
@blp.alt_response(429, description="Too many registrations from this client; see Retry-After")
def register(data: dict[str, Any]):
    """A citizen registers an account.

    Limited per client address (`REGISTRATION_RATE_LIMIT_PER_CLIENT_PER_HOUR`), every attempt
    counted, whatever its outcome: the answer says whether a name is taken, so the limit is what
    keeps registration from being a fast way to find out who has an account (docs/accounts.md).
    """
    ratelimit.enforce(
        [
            ratelimit.Limit(
                f"accounts:register:client:{client_bucket(client_address())}",
                int(current_app.config["REGISTRATION_RATE_LIMIT_PER_CLIENT_PER_HOUR"]),
                window_seconds=3600,
            )
        ],
        now=now(),
        message="Quá nhiều lượt đăng ký tài khoản từ địa chỉ này; vui lòng thử lại sau.",
        type="account.rate_limited",
    )
    with unit_of_work():
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

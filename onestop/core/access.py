"""Who may call a route: every view declares a policy, and the principal making the request.

A route without a declared policy is a bug; ``tests/test_access_matrix.py`` walks the URL map
and fails on any. Scoping *which objects* a principal may touch is done in the queries of each
feature (docs/security.md decision 1); this module only answers "may this kind of caller be here".
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, TypeVar

from flask import current_app, g, request

from onestop.core.errors import PermissionDenied, Unauthenticated

F = TypeVar("F", bound=Callable[..., Any])


class Role(StrEnum):
    CITIZEN = "citizen"
    CLERK = "clerk"
    MANAGER = "manager"
    ADMIN = "administrator"


STAFF_ROLES = frozenset({Role.CLERK, Role.MANAGER, Role.ADMIN})


@dataclass(frozen=True)
class Principal:
    """The authenticated caller, as plain data that services receive as ``actor=``."""

    user_id: int
    username: str
    role: Role
    agency_ids: frozenset[int] = field(default_factory=frozenset)
    token_id: int | None = None

    @property
    def is_staff(self) -> bool:
        return self.role in STAFF_ROLES


Authenticator = Callable[[str], Principal | None]

# Endpoints Flask and flask-smorest add themselves (static files, the OpenAPI document, the docs
# page). They serve public, non-personal content.
FRAMEWORK_PUBLIC_ENDPOINTS = frozenset(
    {"static", "api-docs.openapi_json", "api-docs.openapi_swagger_ui", "apidocs_assets"}
)


def set_authenticator(app: Any, fn: Authenticator) -> None:
    app.extensions["onestop.authenticator"] = fn


def bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def current_principal() -> Principal | None:
    """The caller, authenticated at most once per request (None when anonymous)."""
    if "principal_loaded" not in g:
        token = bearer_token()
        principal = None
        if token:
            principal = current_app.extensions["onestop.authenticator"](token)
            if principal is None:
                raise Unauthenticated(
                    "Phiên đăng nhập không hợp lệ hoặc đã hết hạn.", type="auth.invalid_token"
                )
        g.principal = principal
        g.principal_loaded = True
    loaded: Principal | None = g.principal
    return loaded


def require_principal() -> Principal:
    principal = current_principal()
    if principal is None:
        raise Unauthenticated()
    return principal


def _declare(policy: str, responses: dict[str, str], secured: bool) -> Callable[[F], F]:
    def decorator(view: F) -> F:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if policy == "public":
                current_principal()  # a bad token is refused even where none is needed
            else:
                principal = require_principal()
                if policy.startswith("roles:"):
                    allowed = policy.removeprefix("roles:").split(",")
                    if principal.role not in allowed:
                        raise PermissionDenied()
            return view(*args, **kwargs)

        wrapper.access_policy = policy  # type: ignore[attr-defined]
        apidoc = getattr(wrapper, "_apidoc", None)
        if apidoc is None:
            apidoc = wrapper._apidoc = {}  # type: ignore[attr-defined]
        manual = apidoc.setdefault("manual_doc", {})
        manual.setdefault("responses", {}).update(responses)
        if secured:
            manual["security"] = [{"bearerAuth": []}]
        manual["x-access-policy"] = policy
        return wrapper  # type: ignore[return-value]

    return decorator


_COMMON = {"429": "TOO_MANY_REQUESTS", "500": "INTERNAL_SERVER_ERROR"}


class access:
    """Access-policy decorators. Put them right below ``@blp.route``."""

    @staticmethod
    def public(view: F) -> F:
        """Anyone, logged in or not."""
        return _declare("public", {**_COMMON}, secured=False)(view)

    @staticmethod
    def authenticated(view: F) -> F:
        """Any logged-in user; what they may see is narrowed by the feature's queries."""
        return _declare("authenticated", {"401": "UNAUTHORIZED", **_COMMON}, secured=True)(view)

    @staticmethod
    def roles(*roles: Role) -> Callable[[F], F]:
        """Only these roles; everyone else gets 403 (anonymous callers 401)."""
        policy = "roles:" + ",".join(sorted(str(r) for r in roles))
        responses = {"401": "UNAUTHORIZED", "403": "FORBIDDEN", **_COMMON}
        return _declare(policy, responses, secured=True)


def client_address() -> str:
    """The client's address, trusting only as many proxies as configured."""
    hops = int(current_app.config.get("TRUST_PROXY_HOPS", 0))
    if hops > 0:
        forwarded = [p.strip() for p in request.headers.get("X-Forwarded-For", "").split(",")]
        forwarded = [p for p in forwarded if p]
        if len(forwarded) >= hops:
            return forwarded[-hops]
    return request.remote_addr or "unknown"

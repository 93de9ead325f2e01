"""``/api/v1/lookup``: public dossier status by QR token or by code and check code, rate-limited."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from flask import Flask, Response, current_app

from onestop.core import ratelimit
from onestop.core.access import access, client_address
from onestop.core.clock import now
from onestop.core.ratelimit import client_bucket
from onestop.extensions import Blueprint, db
from onestop.lookup import services
from onestop.lookup.schemas import LookupArgsSchema, PublicStatusSchema

__all__ = ["blp", "client_bucket", "enforce_limits", "init_app"]

blp = Blueprint(
    "lookup",
    __name__,
    url_prefix="/api/v1/lookup",
    description="Tra cứu tình trạng hồ sơ (public status lookup)",
)

# Replies about a dossier must not be cached, indexed or leak the token in a Referer
# (ASVS 5.0 V14.2.1 and V14.3.2: secrets in URLs leak through caches, logs and referrers).
PRIVATE_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex, nofollow",
}


def private_headers(resp: Response) -> Response:
    for name, value in PRIVATE_HEADERS.items():
        resp.headers[name] = value
    return resp


blp.after_request(private_headers)


def enforce_limits(code: str | None) -> None:
    """Count this lookup against the client's limit and, for typed lookups, the code's limit.

    The per-code limit stops many clients together from guessing one dossier's check code; the
    QR token (192 bits) needs only the per-client limit. Raises 429 with ``Retry-After``.
    """
    cfg = current_app.config
    limits = [
        ratelimit.Limit(
            f"lookup:client:{client_bucket(client_address())}",
            int(cfg["LOOKUP_RATE_LIMIT_PER_MINUTE"]),
        )
    ]
    if code is not None:
        limits.append(
            ratelimit.Limit(
                f"lookup:code:{services.normalise_code(code)}",
                int(cfg["LOOKUP_RATE_LIMIT_PER_CODE_PER_MINUTE"]),
            )
        )
    ratelimit.enforce(
        limits,
        now=now(),
        message="Quá nhiều lượt tra cứu trong thời gian ngắn; vui lòng thử lại sau.",
        type="lookup.rate_limited",
    )


@blp.route("/by-token/<string:token>")
@access.public
@blp.response(200, PublicStatusSchema)
@blp.alt_response(404, description="No received dossier has this token")
def lookup_by_token(token: str) -> dict[str, Any]:
    """Status of a dossier from the token in the QR code of its receipt.

    Returns state, procedure, agency and dates only, never the applicant. Every failure is the
    same 404 reply, identical to a typed lookup's. Limited per client
    (`LOOKUP_RATE_LIMIT_PER_MINUTE`); over the limit the reply is 429 with `Retry-After`.
    """
    enforce_limits(None)
    return asdict(services.by_token(db.session, token, now=now()))


@blp.route("")
@access.public
@blp.arguments(LookupArgsSchema, location="query")
@blp.response(200, PublicStatusSchema)
@blp.alt_response(404, description="Unknown code, wrong check code, or not yet received")
def lookup_by_code(args: dict[str, Any]) -> dict[str, Any]:
    """Status of a dossier from its code and check code, as typed from the paper receipt.

    An unknown code and a wrong check code get the same 404 reply. Limited per client
    (`LOOKUP_RATE_LIMIT_PER_MINUTE`) and per dossier code from all clients together
    (`LOOKUP_RATE_LIMIT_PER_CODE_PER_MINUTE`); over a limit the reply is 429 with `Retry-After`.
    """
    enforce_limits(args["code"])
    return asdict(services.by_code(db.session, args["code"], args["check"], now=now()))


def init_app(app: Flask) -> None:
    """Register the HTML page people reach by scanning the QR code."""
    from onestop.lookup.pages import pages

    app.register_blueprint(pages)

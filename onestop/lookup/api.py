"""``/api/v1/lookup``: public dossier status by QR token or by code and check code, rate-limited."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from flask import Flask

from onestop.core.access import access
from onestop.core.clock import now
from onestop.core.ratelimit import client_bucket
from onestop.extensions import Blueprint, db
from onestop.lookup import services
from onestop.lookup.limits import enforce_limits, private_headers
from onestop.lookup.pages import pages
from onestop.lookup.schemas import LookupArgsSchema, PublicStatusSchema

__all__ = ["blp", "client_bucket", "enforce_limits", "init_app"]

blp = Blueprint(
    "lookup",
    __name__,
    url_prefix="/api/v1/lookup",
    description="Tra cứu tình trạng hồ sơ (public status lookup)",
)

blp.after_request(private_headers)


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
    app.register_blueprint(pages)

"""``/api/v1/procedures``: the public procedure catalogue (anyone may read it)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from onestop.catalogue import services
from onestop.catalogue.schemas import (
    ProcedureDetailSchema,
    ProcedureListArgsSchema,
    ProcedurePageSchema,
)
from onestop.core.access import access
from onestop.core.pagination import paginate
from onestop.extensions import Blueprint, db

blp = Blueprint(
    "procedures",
    __name__,
    url_prefix="/api/v1/procedures",
    description="Thủ tục hành chính (procedure catalogue)",
)


@blp.route("")
@access.public
@blp.arguments(ProcedureListArgsSchema, location="query")
@blp.response(200, ProcedurePageSchema)
@blp.alt_response(404, description="Unknown agency code in the agency filter")
def list_procedures(args: dict[str, Any]) -> dict[str, Any]:
    """List procedures in force, by code.

    `q` matches words of the name or the code, ignoring case and Vietnamese diacritics
    (`dang ky khai sinh` finds `Đăng ký khai sinh`). `agency` keeps the procedures offered at
    that desk: a commune's desk offers every commune-level procedure.
    """
    stmt = services.list_procedures(
        db.session,
        q=args.get("q"),
        level=args.get("level"),
        sector=args.get("sector"),
        online_level=args.get("online_level"),
        agency=args.get("agency"),
    )
    return paginate(db.session, stmt, args["page"], args["page_size"])


@blp.route("/<string:code>")
@access.public
@blp.response(200, ProcedureDetailSchema)
@blp.alt_response(404, description="No procedure in force with this code")
def get_procedure(code: str) -> dict[str, Any]:
    """One procedure in force: documents by case, channels with times and fees, legal basis."""
    version = services.get_current_version(db.session, code)
    definition = version.as_definition()
    return {
        **asdict(definition),
        "version": version.version,
        "channels": [asdict(c) for c in definition.channels],
        "clock": definition.clock,
    }

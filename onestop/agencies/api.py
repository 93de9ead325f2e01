"""``/api/v1/agencies``: the public agency tree, and creation by administrators."""

from __future__ import annotations

from typing import Any

from onestop.agencies import services
from onestop.agencies.schemas import (
    AgencyCreateSchema,
    AgencyListArgsSchema,
    AgencyPageSchema,
    AgencySchema,
)
from onestop.core.access import Role, access, require_principal
from onestop.core.clock import now, today
from onestop.core.pagination import paginate
from onestop.core.tx import transactional
from onestop.extensions import Blueprint, db

blp = Blueprint(
    "agencies", __name__, url_prefix="/api/v1/agencies", description="Cơ quan, đơn vị (agencies)"
)


@blp.route("")
@access.public
@blp.arguments(AgencyListArgsSchema, location="query")
@blp.response(200, AgencyPageSchema)
def list_agencies(args: dict[str, Any]) -> dict[str, Any]:
    """List agencies valid on a date (default today), optionally by kind or parent."""
    parent_id = None
    if args.get("parent"):
        parent_id = services.get_by_code(db.session, args["parent"]).id
    stmt = services.list_agencies(
        db.session, on=args.get("on") or today(), kind=args.get("kind"), parent_id=parent_id
    )
    return paginate(db.session, stmt, args["page"], args["page_size"])


@blp.route("/<string:code>")
@access.public
@blp.response(200, AgencySchema)
@blp.alt_response(404, description="No agency with this code")
def get_agency(code: str):
    """One agency by its official code."""
    return services.get_by_code(db.session, code)


@blp.route("", methods=["POST"])
@access.roles(Role.ADMIN)
@blp.arguments(AgencyCreateSchema)
@blp.response(201, AgencySchema)
@blp.alt_response(409, description="The code is already taken")
@blp.alt_response(422, description="Invalid data or tree rule broken")
@transactional
def create_agency(data: dict[str, Any]):
    """Create an agency (administrators)."""
    return services.create_agency(
        db.session, services.AgencyInput(**data), actor=require_principal(), now=now()
    )

"""Page parameters and the page envelope shared by every list endpoint."""

from __future__ import annotations

from typing import Any

from flask import current_app
from marshmallow import Schema, fields, validate
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session


class PageArgsSchema(Schema):
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=100_000))
    page_size = fields.Integer(load_default=20, validate=validate.Range(min=1, max=100))


class PageMetaSchema(Schema):
    page = fields.Integer(required=True)
    page_size = fields.Integer(required=True)
    total = fields.Integer(required=True)
    pages = fields.Integer(required=True)


def paginate(session: Session, stmt: Select[Any], page: int, page_size: int) -> dict[str, Any]:
    """Run ``stmt`` for one page; the total is counted in SQL, never by loading rows."""
    page_size = min(page_size, int(current_app.config["PAGE_SIZE_MAX"]))
    total = session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0
    items = session.scalars(stmt.limit(page_size).offset((page - 1) * page_size)).all()
    pages = (total + page_size - 1) // page_size
    return {
        "items": items,
        "meta": {"page": page, "page_size": page_size, "total": total, "pages": pages},
    }

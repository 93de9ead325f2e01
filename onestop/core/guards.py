"""Input the route schemas never see: path parameters, and query strings of routes without one.

Schemas refuse unknown fields in the bodies and query strings they parse (``StrictParser``),
but a route that declares no query arguments would silently ignore ``?anything``, and a path
parameter reaches the database without passing through any schema.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, request
from werkzeug.routing import IntegerConverter, Map

from onestop.core.errors import BadRequest, RuleViolation

# The largest value of an INTEGER column (PostgreSQL's int4, the type of every primary key).
# PostgreSQL refuses a larger parameter ("integer out of range") and SQLite one above 2**63-1.
ID_MAX = 2**31 - 1


class IdConverter(IntegerConverter):
    """``<int:...>`` bounded to what an identifier column can hold: a larger number does not
    match the route (404 in the error shape) instead of failing in the database (500). The
    OpenAPI document shows the bound as the parameter's ``maximum``."""

    def __init__(self, map: Map, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", ID_MAX)
        super().__init__(map, *args, **kwargs)


def bad_text(text: str) -> bool:
    # NUL is refused by PostgreSQL with a server error (and stored by SQLite); lone surrogates
    # cannot be encoded at all.
    return "\x00" in text or any("\ud800" <= ch <= "\udfff" for ch in text)


def _declares_query(view: object) -> bool:
    apidoc = getattr(view, "_apidoc", None) or {}
    params = (apidoc.get("arguments") or {}).get("parameters") or []
    return any(p.get("in") in ("query", "querystring") for p in params)


def refuse_unparsed_input(app: Flask) -> None:
    if bad_text(request.path) or any(
        isinstance(v, str) and bad_text(v) for v in (request.view_args or {}).values()
    ):
        raise BadRequest("Địa chỉ chứa ký tự không hợp lệ.", type="request.bad_path")
    if not request.args or request.endpoint is None:
        return
    view = app.view_functions.get(request.endpoint)
    if view is None or not request.path.startswith("/api/") or _declares_query(view):
        return
    unknown = {name: ["Unknown field."] for name in request.args}
    raise RuleViolation(
        "Địa chỉ này không nhận tham số truy vấn.",
        type="request.invalid",
        errors={"query": unknown},
    )

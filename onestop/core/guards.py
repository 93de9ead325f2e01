"""Input the route schemas never see: body sizes, path parameters, and query strings of routes
without one.

Schemas refuse unknown fields in the bodies and query strings they parse (``StrictParser``),
but a route that declares no query arguments would silently ignore ``?anything``, a path
parameter reaches the database without passing through any schema, and a body is read whole
before any schema looks at it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from flask import Flask, g, request
from werkzeug.routing import BaseConverter, IntegerConverter, Map

from onestop.core.errors import BadRequest, DomainError, RuleViolation

F = TypeVar("F", bound=Callable[..., Any])

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


class BodyTooLarge(DomainError):
    status = 413
    type = "request.too_large"
    default_message = "Dữ liệu gửi lên vượt quá dung lượng cho phép."


@dataclass(frozen=True)
class BodyLimit:
    """The setting that holds a route's largest body, and the error that refuses a larger one."""

    setting: str
    error: Callable[[], DomainError] | None = None


# Every route without a declaration takes JSON (or nothing): a dossier is a few KB.
JSON_BODY = BodyLimit("JSON_MAX_BYTES")


def body_limit(setting: str, error: Callable[[], DomainError] | None = None) -> Callable[[F], F]:
    """Give a route (an upload) a body limit other than ``JSON_MAX_BYTES``; put it below
    ``@access...`` so that the attribute reaches the registered view."""

    def decorator(view: F) -> F:
        view.body_limit = BodyLimit(setting, error)  # type: ignore[attr-defined]
        return view

    return decorator


def limit_request_body(app: Flask) -> None:
    """Refuse a body over the route's limit before a byte of it is read (OWASP API4:2023).

    A declared ``Content-Length`` over the limit is refused here; a body without one (chunked)
    is read through a stream that stops one chunk past the limit (``request.max_content_length``
    bounds Werkzeug's ``LimitedStream``). ``MAX_CONTENT_LENGTH`` caps every route.
    """
    view = app.view_functions.get(request.endpoint) if request.endpoint else None
    declared: BodyLimit = getattr(view, "body_limit", None) or JSON_BODY
    limit = int(app.config[declared.setting])
    cap = app.config.get("MAX_CONTENT_LENGTH")
    if cap is not None:
        limit = min(limit, int(cap))
    g.body_limit = limit
    g.body_too_large = declared.error or BodyTooLarge
    if (request.content_length or 0) > limit:
        raise g.body_too_large()
    # A streamed body stops one byte past the limit: Werkzeug's stream then either raises its
    # 413 on the next read (the error handler answers with the route's own error instead,
    # ``errors.register_error_handlers``) or, read at once with ``get_data``, returns
    # ``limit + 1`` bytes that ``check_body_size`` refuses.
    request.max_content_length = limit + 1


def check_body_size(raw: bytes) -> None:
    """Refuse a body read at once (``request.get_data``) that went past the route's limit."""
    if len(raw) > g.get("body_limit", len(raw)):
        raise g.body_too_large()


# JSON structure, scanned before ``json.loads``: the characters that open, close or separate
# values, and a string's opening quote. A string is skipped to its closing quote in one anchored
# match (possessive, so it never backtracks and never restarts at a later quote).
_JSON_STRUCTURE = re.compile(rb'[\[\]{},"]')
_JSON_STRING_REST = re.compile(rb'(?:[^"\\]++|\\.)*+"', re.DOTALL)


class JsonTooComplex(DomainError):
    status = 400
    type = "request.json_too_complex"
    default_message = "Dữ liệu JSON lồng nhau quá sâu hoặc có quá nhiều phần tử."


def check_json_shape(raw: bytes, *, max_depth: int, max_items: int) -> None:
    """Refuse a JSON body nested deeper than ``max_depth`` or holding more than ``max_items``
    values (keys included), before it is parsed.

    ``json.loads`` and every walk over its result recurse once per level: a 1 KB body of a
    thousand ``[`` was a server error and a 240 KB traceback. The scan stops as soon as either
    bound is passed, so its cost is bounded by the bounds, not by the body. Malformed JSON
    (an unterminated string, unbalanced brackets) is left for ``json.loads`` to report.
    """
    depth = items = 0
    pos = 0
    while (m := _JSON_STRUCTURE.search(raw, pos)) is not None:
        ch = raw[m.start()]
        pos = m.end()
        if ch == 0x22:  # '"': jump past the string
            end = _JSON_STRING_REST.match(raw, pos)
            if end is None:
                return
            pos = end.end()
            continue
        if ch in b"[{":
            depth += 1
            items += 1
            if depth > max_depth:
                raise JsonTooComplex(
                    f"Dữ liệu JSON lồng nhau quá {max_depth} cấp.", type="request.json_too_deep"
                )
        elif ch in b"]}":
            depth -= 1
        else:  # ','
            items += 1
        if items > max_items:
            raise JsonTooComplex(f"Dữ liệu JSON có quá {max_items} phần tử.")


class SlotConverter(BaseConverter):
    """``<slot:...>``: a document slot code as the catalogue defines it (lower_snake_case,
    starting with a letter, ``catalogue.filespec.SLOT_CODE``). ``/files/12`` is then a file id
    only, so ``OPTIONS`` and ``405`` answers list exactly the methods the OpenAPI document
    gives each path (``GET`` for a file, ``PUT`` for a slot), not both."""

    regex = r"[a-z][a-z0-9_]{1,47}"
    part_isolating = True

    @staticmethod
    def openapi_schema(_converter: BaseConverter) -> dict[str, Any]:
        return {"type": "string", "pattern": "^[a-z][a-z0-9_]{1,47}$"}


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

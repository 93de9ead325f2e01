"""``Idempotency-Key`` for creating and transitioning POSTs (docs/security.md decision 3).

Stripe's semantics: the same key with the same body replays the first response; the same key
with another body is a 422; no key where one is required is a 400. The record is written in
the same transaction as the work it protects, so a response is replayed only if its work was
committed, and a crashed request leaves no record and can simply be retried.

Concurrent retries: on PostgreSQL the second insert of a key waits for the first transaction
and then fails on the unique constraint, after which the stored response is replayed; on
SQLite writers are serialised by ``BEGIN IMMEDIATE``, so the second request sees the record.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

from flask import Response, request
from sqlalchemy import Integer, String, UniqueConstraint, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from onestop.core.access import current_principal
from onestop.core.clock import now
from onestop.core.db import Base
from onestop.core.errors import BadRequest, RuleViolation
from onestop.core.extensions import db
from onestop.core.guards import check_body_size
from onestop.core.tx import unit_of_work

F = TypeVar("F", bound=Callable[..., Any])
REPLAYED_HEADERS = ("ETag", "Location", "Content-Type")


class IdempotencyRecord(Base):
    """The first response to a POST with an ``Idempotency-Key``, replayed on retries."""

    __tablename__ = "idempotency_records"
    __table_args__ = (UniqueConstraint("principal", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    principal: Mapped[str] = mapped_column(String(40))
    key: Mapped[str] = mapped_column(String(100))
    request_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[int] = mapped_column(Integer)
    body: Mapped[str] = mapped_column(String)
    headers: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]


def _request_hash() -> str:
    h = hashlib.sha256()
    h.update(request.method.encode())
    h.update(b"\0" + request.path.encode() + b"\0")
    h.update(request.headers.get("If-Match", "").encode() + b"\0")
    body = request.get_data(cache=True)
    check_body_size(body)
    h.update(body)
    return h.hexdigest()


def _replay(rec: IdempotencyRecord, request_hash: str) -> Response:
    if rec.request_hash != request_hash:
        raise RuleViolation(
            "Khóa Idempotency-Key này đã được dùng cho một yêu cầu khác.",
            type="idempotency.key_reused",
        )
    resp = Response(rec.body, status=rec.status)
    for k, v in rec.headers.items():
        resp.headers[k] = v
    resp.headers["Idempotent-Replayed"] = "true"
    return resp


def idempotent(*, required: bool) -> Callable[[F], F]:
    """Wrap a POST view (below ``@access...``, above the smorest decorators).

    The wrapped view must not be ``@transactional``: this decorator owns the unit of work so
    that the record and the work commit together.
    """

    def decorator(view: F) -> F:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            key = request.headers.get("Idempotency-Key", "").strip()
            if not key:
                if required:
                    raise BadRequest(
                        "Thiếu tiêu đề Idempotency-Key (một chuỗi ngẫu nhiên cho mỗi lần nộp).",
                        type="idempotency.key_required",
                    )
                with unit_of_work():
                    return view(*args, **kwargs)
            if len(key) > 100 or not key.isprintable():
                raise BadRequest(
                    "Idempotency-Key dài tối đa 100 ký tự in được.", type="idempotency.key_invalid"
                )
            principal = current_principal()
            owner = f"user:{principal.user_id}" if principal else "anonymous"
            request_hash = _request_hash()
            session = db.session

            def stored() -> IdempotencyRecord | None:
                return session.scalar(
                    select(IdempotencyRecord).where(
                        IdempotencyRecord.principal == owner, IdempotencyRecord.key == key
                    )
                )

            try:
                with unit_of_work():
                    rec = stored()
                    if rec is not None:
                        return _replay(rec, request_hash)
                    resp = view(*args, **kwargs)
                    if not isinstance(resp, Response):
                        raise TypeError("idempotent views must return a Response")
                    if resp.status_code < 500:
                        session.add(
                            IdempotencyRecord(
                                principal=owner,
                                key=key,
                                request_hash=request_hash,
                                status=resp.status_code,
                                body=resp.get_data(as_text=True),
                                headers={
                                    h: resp.headers[h]
                                    for h in REPLAYED_HEADERS
                                    if h in resp.headers
                                },
                                created_at=now(),
                            )
                        )
                        session.flush()
                    return resp
            except IntegrityError:
                # Another request with the same key committed first: replay its response.
                with unit_of_work():
                    rec = stored()
                    if rec is None:
                        raise
                    return _replay(rec, request_hash)

        return wrapper  # type: ignore[return-value]

    return decorator

"""``Idempotency-Key`` for creating and transitioning POSTs (docs/security.md decision 3).

Stripe's semantics: the same key with the same body replays the first response; the same key
with another body is a 422; no key where one is required is a 400. The record is written in
the same transaction as the work it protects, so a response is replayed only if its work was
committed, and a crashed request leaves no record and can simply be retried.

Concurrent retries: on PostgreSQL the second insert of a key waits for the first transaction
and then fails on the unique constraint, after which the stored response is replayed; on
SQLite writers are serialised by ``BEGIN IMMEDIATE``, so the second request sees the record.

What is kept (docs/operations.md, "Idempotency records"): a reply can hold personal data (a
dossier with the applicant's name and CCCD), so the table never holds it readable. The key is
stored only as an HMAC under ``SECRET_KEY``, and the reply body is encrypted (AES-256-GCM) under
a key derived from ``SECRET_KEY`` *and* the client's own Idempotency-Key, which is not stored:
only a retry that presents the key can read it. Records are deleted after
``IDEMPOTENCY_RETENTION_HOURS`` by the ``purge_idempotency_records`` job; a retry after that is
a new request (Stripe keeps keys for 24 hours too).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import os
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, TypeVar

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from flask import Response, current_app, request
from sqlalchemy import Integer, String, UniqueConstraint, delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from onestop.core.access import current_principal
from onestop.core.clock import now
from onestop.core.db import Base, rowcount
from onestop.core.errors import BadRequest, Conflict, RuleViolation
from onestop.core.extensions import db
from onestop.core.guards import check_body_size
from onestop.core.scheduling import Job
from onestop.core.tx import unit_of_work

F = TypeVar("F", bound=Callable[..., Any])
REPLAYED_HEADERS = ("ETag", "Location", "Content-Type")


class IdempotencyRecord(Base):
    """The first response to a POST with an ``Idempotency-Key``, replayed on retries."""

    __tablename__ = "idempotency_records"
    __table_args__ = (UniqueConstraint("principal", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    principal: Mapped[str] = mapped_column(String(40))
    # HMAC-SHA256 of the client's key under SECRET_KEY (hex), never the key itself.
    key: Mapped[str] = mapped_column(String(100))
    request_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[int] = mapped_column(Integer)
    # base64(nonce + AES-GCM ciphertext) of the reply body, see ``_sealing_key``.
    body: Mapped[str] = mapped_column(String)
    headers: Mapped[dict[str, Any]]
    created_at: Mapped[datetime] = mapped_column(index=True)


def _secret() -> bytes:
    return str(current_app.config["SECRET_KEY"]).encode()


def _key_digest(owner: str, key: str) -> str:
    msg = b"idempotency-key\0" + owner.encode() + b"\0" + key.encode()
    return hmac.new(_secret(), msg, hashlib.sha256).hexdigest()


def _sealing_key(owner: str, key: str) -> bytes:
    """A key only a request presenting the same Idempotency-Key can derive."""
    msg = b"idempotency-body\0" + owner.encode() + b"\0" + key.encode()
    return hmac.new(_secret(), msg, hashlib.sha256).digest()


def _seal(body: bytes, owner: str, key: str) -> str:
    nonce = os.urandom(12)
    sealed = AESGCM(_sealing_key(owner, key)).encrypt(nonce, body, owner.encode())
    return base64.b64encode(nonce + sealed).decode("ascii")


def _open(stored: str, owner: str, key: str) -> bytes:
    raw = base64.b64decode(stored)
    try:
        return AESGCM(_sealing_key(owner, key)).decrypt(raw[:12], raw[12:], owner.encode())
    except InvalidTag:
        # SECRET_KEY was rotated since the first request: the reply cannot be read back.
        raise Conflict(
            "Không thể phát lại phản hồi của khóa Idempotency-Key này; hãy dùng khóa mới.",
            type="idempotency.unreadable",
        ) from None


def purge_expired(session: Session, *, now: datetime, retention: timedelta) -> int:
    """Delete the records older than ``retention``; the hourly ``purge_idempotency_records``
    job (``JOBS`` below) calls it."""
    result = session.execute(
        delete(IdempotencyRecord).where(IdempotencyRecord.created_at < now - retention)
    )
    return rowcount(result)


def _request_hash(owner: str, key: str) -> str:
    """Keyed like the body, so the stored hash cannot be matched against guessed bodies."""
    h = hmac.new(_sealing_key(owner, key), digestmod=hashlib.sha256)
    h.update(request.method.encode())
    h.update(b"\0" + request.path.encode() + b"\0")
    h.update(request.headers.get("If-Match", "").encode() + b"\0")
    body = request.get_data(cache=True)
    check_body_size(body)
    h.update(body)
    return h.hexdigest()


def _replay(rec: IdempotencyRecord, request_hash: str, key: str) -> Response:
    if rec.request_hash != request_hash:
        raise RuleViolation(
            "Khóa Idempotency-Key này đã được dùng cho một yêu cầu khác.",
            type="idempotency.key_reused",
        )
    resp = Response(_open(rec.body, rec.principal, key), status=rec.status)
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
            request_hash = _request_hash(owner, key)
            digest = _key_digest(owner, key)
            session = db.session

            def stored() -> IdempotencyRecord | None:
                return session.scalar(
                    select(IdempotencyRecord).where(
                        IdempotencyRecord.principal == owner, IdempotencyRecord.key == digest
                    )
                )

            try:
                with unit_of_work():
                    rec = stored()
                    if rec is not None:
                        return _replay(rec, request_hash, key)
                    resp = view(*args, **kwargs)
                    if not isinstance(resp, Response):
                        raise TypeError("idempotent views must return a Response")
                    if resp.status_code < 500:
                        session.add(
                            IdempotencyRecord(
                                principal=owner,
                                key=digest,
                                request_hash=request_hash,
                                status=resp.status_code,
                                body=_seal(resp.get_data(), owner, key),
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
                    return _replay(rec, request_hash, key)

        return wrapper  # type: ignore[return-value]

    return decorator


def _purge_idempotency_records(session: Session, now: datetime) -> str:
    hours = int(current_app.config["IDEMPOTENCY_RETENTION_HOURS"])
    return f"{purge_expired(session, now=now, retention=timedelta(hours=hours))} deleted"


# Collected by ``onestop.scheduler``.
JOBS = [
    Job(
        "purge_idempotency_records",
        timedelta(hours=1),
        _purge_idempotency_records,
        "Xóa phản hồi lưu cho Idempotency-Key quá thời hạn lưu giữ",
    ),
]

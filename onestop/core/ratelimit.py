"""Fixed-window request counters shared by every worker: Redis when configured, else the database.

A limit is "at most N hits per bucket per window" (``lookup:client:203.0.113.7``, 30 a minute).
Counters live outside the process, so the limit holds however many gunicorn workers or
machines serve the requests and survives restarts (an in-memory limiter multiplies the limit by
the number of workers: docs/security.md, "Rate limits"). Each hit is committed on its own, before
the request does its work, so a request that fails afterwards still counts.

Backends:

* Redis (``REDIS_URL``): ``INCR`` and ``EXPIRE`` in one ``MULTI``/``EXEC`` pipeline; the key
  carries the window start and expires by itself.
* The database: a ``rate_limit_counters`` row per (bucket, window), incremented with
  ``INSERT … ON CONFLICT DO UPDATE … RETURNING`` (PostgreSQL, and SQLite ≥ 3.35) in a short
  transaction of its own; expired rows are purged when a bucket opens a new window.

Views count hits with :func:`enforce` before their unit of work begins (a hit is a short
transaction of its own, which on SQLite must not wait behind the request's own write lock), or
with the :func:`limited` decorator where another decorator owns the unit of work.

When the shared store cannot be reached the limiter fails closed (503): an unlimited public
endpoint is what the limit exists to prevent (ASVS 5.0 V16.5.3).
"""

from __future__ import annotations

import functools
import hashlib
import ipaddress
import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, TypeVar

from flask import Flask, current_app
from sqlalchemy import Index, Integer, String, delete
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from onestop.core import clock
from onestop.core.db import Base, Database, begin_write
from onestop.core.errors import DomainError, TooManyRequests

log = logging.getLogger(__name__)

# Buckets are built from client input (a dossier code, an address); longer ones are hashed so a
# key never exceeds the column or bloats Redis.
MAX_BUCKET_LENGTH = 200


class RateLimitCounter(Base):
    """Hits of one bucket in one fixed window (the database backend)."""

    __tablename__ = "rate_limit_counters"
    __table_args__ = (Index("ix_rate_limit_counters_expires_at", "expires_at"),)

    bucket: Mapped[str] = mapped_column(String(MAX_BUCKET_LENGTH), primary_key=True)
    window_start: Mapped[datetime] = mapped_column(primary_key=True)
    count: Mapped[int] = mapped_column(Integer)
    expires_at: Mapped[datetime]


class LimiterUnavailable(DomainError):
    status = 503
    type = "rate_limit.unavailable"
    default_message = "Dịch vụ tạm thời không phục vụ được; vui lòng thử lại sau ít phút."


@dataclass(frozen=True)
class Limit:
    """At most ``max_hits`` hits on ``bucket`` per window of ``window_seconds``."""

    bucket: str
    max_hits: int
    window_seconds: int = 60


@dataclass(frozen=True)
class Outcome:
    """The counter after one hit; ``allowed`` is False once it is above the limit."""

    count: int
    limit: int
    retry_after: int  # whole seconds until the window ends (at least 1)

    @property
    def allowed(self) -> bool:
        return self.count <= self.limit


class Store(Protocol):
    def incr(self, bucket: str, window_start: datetime, window_seconds: int) -> int:
        """Add one hit to (bucket, window) and return the new count."""
        ...

    def close(self) -> None:
        """Release connections (the application normally keeps its store for its lifetime)."""
        ...


def bucket_key(bucket: str) -> str:
    if len(bucket) <= MAX_BUCKET_LENGTH:
        return bucket
    head = bucket[:40]
    return f"{head}#sha256:{hashlib.sha256(bucket.encode()).hexdigest()}"


def client_bucket(address: str) -> str:
    """The client part of a rate-limit key; an IPv6 client is its /64, since one subscriber
    usually holds a whole /64 and could otherwise change address at every guess."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address[:64]
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def window_of(now: datetime, seconds: int) -> tuple[datetime, datetime]:
    """The fixed window containing ``now``: windows are aligned on the epoch, so every worker
    agrees on them without talking to each other."""
    epoch = math.floor(now.timestamp())
    start = epoch - epoch % seconds
    begin = datetime.fromtimestamp(start, UTC)
    return begin, begin + timedelta(seconds=seconds)


class DatabaseStore:
    """Counters in ``rate_limit_counters``, each hit in its own short transaction.

    The session is not the request's: the hit commits even when the request's own unit of work
    rolls back, and it never commits anything the request had pending.
    """

    def __init__(self, make_session: sessionmaker[Session]) -> None:
        self._make_session = make_session

    def incr(self, bucket: str, window_start: datetime, window_seconds: int) -> int:
        expires_at = window_start + timedelta(seconds=window_seconds)
        with self._make_session() as session:
            begin_write(session)
            dialect = session.get_bind().dialect.name
            insert = pg_insert if dialect == "postgresql" else sqlite_insert
            stmt = (
                insert(RateLimitCounter)
                .values(bucket=bucket, window_start=window_start, count=1, expires_at=expires_at)
                .on_conflict_do_update(
                    index_elements=["bucket", "window_start"],
                    set_={"count": RateLimitCounter.count + 1},
                )
                .returning(RateLimitCounter.count)
            )
            count = session.execute(stmt).scalar_one()
            if count == 1:
                # A new window for this bucket: clear every expired window (any bucket). The
                # index on expires_at keeps this a short range scan, deleted in index order so
                # two purges never deadlock.
                session.execute(
                    delete(RateLimitCounter).where(RateLimitCounter.expires_at <= window_start)
                )
            session.commit()
        return count

    def close(self) -> None:
        """Nothing to release: sessions are opened and closed per hit."""


class RedisStore:
    """Counters in Redis under ``<prefix><bucket>:<window start, epoch seconds>``."""

    def __init__(self, client: Any, prefix: str) -> None:
        self._client = client
        self._prefix = prefix

    def close(self) -> None:
        self._client.close()

    def key(self, bucket: str, window_start: datetime) -> str:
        return f"{self._prefix}{bucket}:{int(window_start.timestamp())}"

    def incr(self, bucket: str, window_start: datetime, window_seconds: int) -> int:
        import redis

        key = self.key(bucket, window_start)
        try:
            pipe = self._client.pipeline(transaction=True)
            pipe.incr(key)
            # Twice the window: the key outlives its window even if this worker's clock is
            # a little behind the others'.
            pipe.expire(key, 2 * window_seconds)
            count, _ = pipe.execute()
        except redis.RedisError as exc:
            log.error("rate-limit store unreachable: %s", exc.__class__.__name__)
            raise LimiterUnavailable() from exc
        return int(count)


def store(app: Flask | None = None) -> Store:
    """The application's shared store, built on first use (creating the app connects nothing)."""
    app = app or current_app
    existing: Store | None = app.extensions.get("onestop.ratelimit")
    if existing is not None:
        return existing
    url = app.config.get("REDIS_URL")
    built: Store
    if url:
        import redis

        # Short timeouts: a stalled Redis must not hold every worker; the limiter then fails
        # closed with a 503.
        client = redis.Redis.from_url(url, socket_timeout=1.0, socket_connect_timeout=1.0)
        built = RedisStore(client, app.config["RATE_LIMIT_KEY_PREFIX"])
    else:
        built = DatabaseStore(Database.state(app).sessionmaker)
    app.extensions["onestop.ratelimit"] = built
    return built


def hit(limit: Limit, *, now: datetime, backend: Store | None = None) -> Outcome:
    """Count one hit on ``limit.bucket`` at ``now``."""
    start, end = window_of(now, limit.window_seconds)
    count = (backend or store()).incr(bucket_key(limit.bucket), start, limit.window_seconds)
    retry = max(1, math.ceil((end - now).total_seconds()))
    return Outcome(count=count, limit=limit.max_hits, retry_after=retry)


def enforce(
    limits: Sequence[Limit],
    *,
    now: datetime,
    backend: Store | None = None,
    message: str | None = None,
    type: str = "rate_limited",
) -> None:
    """Count a hit on each limit in order; raise 429 with ``Retry-After`` at the first one over.

    Later buckets are not counted once an earlier one refuses: a client already blocked by its
    own limit cannot keep using up the budget of a shared bucket (such as one dossier code).
    """
    for limit in limits:
        outcome = hit(limit, now=now, backend=backend)
        if not outcome.allowed:
            raise TooManyRequests(
                message, type=type, headers={"Retry-After": str(outcome.retry_after)}
            )


F = TypeVar("F", bound=Callable[..., Any])


def limited(
    limits: Callable[[], Sequence[Limit]], *, message: str | None = None, type: str = "rate_limited"
) -> Callable[[F], F]:
    """Enforce ``limits()`` before the view runs: put it below ``@access…`` (``limits`` may use
    the principal) and above ``@idempotent`` or ``@transactional``, so that the hits are
    counted before the request's unit of work begins. ``limits`` may return no limit at all."""

    def decorator(view: F) -> F:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            chosen = limits()
            if chosen:
                enforce(chosen, now=clock.now(), message=message, type=type)
            return view(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorator

"""Lookup fixtures: a received dossier, and the rate-limit store (database or Redis) under test."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
import redis
from flask import Flask

from tests.dossiers.helpers import World, act, make_world, ok, submit

REDIS_URL = "redis://127.0.0.1:6379/0"

# Thursday 05/03/2026 14:30 in Hà Nội: a working afternoon.
RECEIVED_AT = datetime(2026, 3, 5, 7, 30, tzinfo=UTC)


@dataclass(frozen=True)
class Received:
    id: int
    code: str
    check: str
    token: str
    detail: dict  # the dossier as the receiving clerk sees it


def receive_one(world: World) -> Received:
    """A citizen submits online and the clerk of agency A receives the dossier."""
    d = ok(submit(world.client, world["citizen"]), 201)
    d = ok(act(world.client, world["clerk_a"], d["id"], "receive"))
    assert d["code"] and d["check_code"] and d["lookup_url"]
    token = d["lookup_url"].rsplit("/tra-cuu/", 1)[1]
    return Received(d["id"], d["code"], d["check_code"], token, d)


@pytest.fixture
def world(client, session) -> World:
    return make_world(client, session)


@pytest.fixture
def received(world: World, frozen_clock) -> Received:
    frozen_clock.set(RECEIVED_AT)
    return receive_one(world)


def redis_client():
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1)
    try:
        client.ping()
    except redis.RedisError as exc:
        pytest.skip(f"no Redis server at {REDIS_URL} ({exc.__class__.__name__})")
    return client


@contextmanager
def counters_in_redis(app: Flask) -> Iterator[None]:
    """Point the app's limiter at Redis under a key prefix of its own, removed afterwards, so
    runs never see each other's counters (nor those of a server shared with other work)."""
    client = redis_client()
    prefix = f"onestop-test:{uuid.uuid4().hex}:"
    app.config.update(REDIS_URL=REDIS_URL, RATE_LIMIT_KEY_PREFIX=prefix)
    try:
        yield
    finally:
        store = app.extensions.pop("onestop.ratelimit", None)
        if store is not None:
            store.close()
        keys = list(client.scan_iter(match=f"{prefix}*"))
        if keys:
            client.delete(*keys)
        client.close()


@pytest.fixture(params=["database", "redis"])
def limiter(request, app: Flask) -> Iterator[str]:
    """Run the test once with counters in the database and once in Redis."""
    if request.param == "database":
        yield "database"
        return
    with counters_in_redis(app):
        yield "redis"


@pytest.fixture
def redis_limiter(app: Flask) -> Iterator[None]:
    with counters_in_redis(app):
        yield

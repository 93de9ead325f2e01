"""Rate limits of the public lookup, with counters in the database and in Redis.

Guessing must stop after the configured number of tries per client and per dossier code,
whichever worker answers: the counters live in shared storage (docs/security.md decision 7).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from onestop.core import ratelimit
from onestop.core.ratelimit import Limit, RateLimitCounter
from tests.lookup.conftest import redis_client


def guess(client, code: str, check: str, ip: str = "198.51.100.7", **headers):
    return client.get(
        "/api/v1/lookup",
        query_string={"code": code, "check": check},
        environ_base={"REMOTE_ADDR": ip},
        headers=headers,
    )


def wrong_check(right: str, n: int) -> str:
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    value = "".join(alphabet[(n // 32**i) % 32] for i in range(6))
    return value if value != right else "ZZZZZZ"


def test_many_guesses_from_one_client_are_refused_after_the_limit(
    app, client, received, limiter, frozen_clock
):
    limit = 12
    app.config.update(
        LOOKUP_RATE_LIMIT_PER_MINUTE=limit, LOOKUP_RATE_LIMIT_PER_CODE_PER_MINUTE=1000
    )
    statuses = []
    for n in range(40):
        # Other dossiers' codes and this one's, with wrong check codes; and forged proxy headers,
        # which are not trusted (TRUST_PROXY_HOPS is 0).
        code = received.code if n % 2 else received.code[:-4] + f"{n:04d}"
        resp = guess(
            client, code, wrong_check(received.check, n), **{"X-Forwarded-For": f"10.0.0.{n}"}
        )
        statuses.append(resp.status_code)
    assert statuses.count(200) == 0
    assert statuses[:limit] == [404] * limit
    assert statuses[limit:] == [429] * (40 - limit)

    # Even the right answer is refused until the window ends: the limit is not an oracle.
    refused = guess(client, received.code, received.check)
    assert refused.status_code == 429
    assert refused.json["type"] == "lookup.rate_limited"
    assert refused.json["message"].startswith("Quá nhiều lượt tra cứu")
    wait = int(refused.headers["Retry-After"])
    assert 1 <= wait <= 60
    # The token lookup shares the client's budget.
    assert (
        client.get(
            f"/api/v1/lookup/by-token/{received.token}",
            environ_base={"REMOTE_ADDR": "198.51.100.7"},
        ).status_code
        == 429
    )
    # Another client is not affected.
    assert guess(client, received.code, received.check, ip="198.51.100.8").status_code == 200

    frozen_clock.advance(seconds=wait)
    assert guess(client, received.code, received.check).status_code == 200


def test_one_dossier_code_is_limited_across_clients(app, client, received, limiter):
    per_code = 5
    app.config.update(
        LOOKUP_RATE_LIMIT_PER_MINUTE=1000, LOOKUP_RATE_LIMIT_PER_CODE_PER_MINUTE=per_code
    )
    statuses = [
        guess(
            client, received.code, wrong_check(received.check, n), ip=f"203.0.113.{n}"
        ).status_code
        for n in range(1, 21)
    ]
    assert statuses == [404] * per_code + [429] * (20 - per_code)
    # A fresh client with the right check code waits too; the QR link still works meanwhile.
    assert guess(client, received.code, received.check, ip="192.0.2.200").status_code == 429
    assert client.get(f"/api/v1/lookup/by-token/{received.token}").status_code == 200
    # The code is typed in any case: the limit is on the dossier, not on the spelling.
    assert guess(client, received.code.lower(), received.check, ip="192.0.2.201").status_code == 429
    # Other codes are unaffected.
    other = received.code[:-4] + "9998"
    assert guess(client, other, "ABCDEF", ip="192.0.2.202").status_code == 404


def test_an_ipv6_client_is_limited_by_its_64_block(app, client, received, limiter):
    app.config.update(LOOKUP_RATE_LIMIT_PER_MINUTE=3)
    for n in range(3):
        assert (
            guess(client, "X-260305-0001", "ABCDEF", ip=f"2001:db8:1:2::{n + 1}").status_code == 404
        )
    assert guess(client, "X-260305-0001", "ABCDEF", ip="2001:db8:1:2:ffff::9").status_code == 429
    assert guess(client, "X-260305-0001", "ABCDEF", ip="2001:db8:1:3::1").status_code == 404


def test_the_page_is_limited_too_and_says_so_in_vietnamese(app, client, received, limiter):
    app.config.update(LOOKUP_RATE_LIMIT_PER_MINUTE=2)
    for _ in range(2):
        assert client.get(f"/tra-cuu/{received.token}").status_code == 200
    resp = client.get(f"/tra-cuu/{received.token}")
    assert resp.status_code == 429
    assert resp.mimetype == "text/html"
    page = resp.get_data(as_text=True)
    assert "Quá nhiều lượt tra cứu" in page
    assert f"Vui lòng thử lại sau {resp.headers['Retry-After']} giây." in page
    assert received.code not in page


def test_an_unreachable_redis_fails_closed(app, client, received):
    """No limiter, no lookup: 503 rather than unlimited guessing (ASVS 5.0 V16.5.3)."""
    app.config.update(REDIS_URL="redis://127.0.0.1:1/0")
    app.extensions.pop("onestop.ratelimit", None)  # the submission already built the store
    resp = client.get(f"/api/v1/lookup/by-token/{received.token}")
    assert resp.status_code == 503
    assert resp.json["type"] == "rate_limit.unavailable"
    assert received.code not in resp.get_data(as_text=True)
    page = client.get(f"/tra-cuu/{received.token}")
    assert page.status_code == 503 and "Tạm thời chưa tra cứu được" in page.get_data(as_text=True)
    app.extensions.pop("onestop.ratelimit").close()


# ---- the limiter itself ------------------------------------------------------------------------

T0 = datetime(2026, 3, 5, 7, 30, 10, tzinfo=UTC)


def test_windows_are_fixed_and_aligned_on_the_minute():
    start, end = ratelimit.window_of(T0, 60)
    assert start == datetime(2026, 3, 5, 7, 30, tzinfo=UTC) and end - start == timedelta(minutes=1)
    assert ratelimit.window_of(T0 + timedelta(seconds=49), 60) == (start, end)
    assert ratelimit.window_of(T0 + timedelta(seconds=50), 60)[0] == end


def test_counters_count_per_bucket_and_window(app, limiter):
    store = ratelimit.store()
    a, b = f"t:{uuid.uuid4().hex}", f"t:{uuid.uuid4().hex}"
    outcomes = [ratelimit.hit(Limit(a, 3), now=T0 + timedelta(seconds=i)) for i in range(5)]
    assert [o.count for o in outcomes] == [1, 2, 3, 4, 5]
    assert [o.allowed for o in outcomes] == [True, True, True, False, False]
    assert outcomes[0].retry_after == 50 and outcomes[4].retry_after == 46
    assert ratelimit.hit(Limit(b, 3), now=T0, backend=store).count == 1
    assert ratelimit.hit(Limit(a, 3), now=T0 + timedelta(seconds=50)).count == 1


def test_long_buckets_are_hashed_to_a_bounded_key(app, limiter):
    long_a = "lookup:code:" + "A" * 500
    long_b = "lookup:code:" + "A" * 499 + "B"
    assert len(ratelimit.bucket_key(long_a)) <= ratelimit.MAX_BUCKET_LENGTH
    assert ratelimit.hit(Limit(long_a, 1), now=T0).count == 1
    assert ratelimit.hit(Limit(long_b, 1), now=T0).count == 1
    assert ratelimit.hit(Limit(long_a, 1), now=T0).count == 2


def test_the_database_store_purges_expired_windows(app, session):
    app.config["REDIS_URL"] = None
    for n in range(5):
        ratelimit.hit(Limit(f"old:{n}", 10), now=T0)
    count = select(func.count()).select_from(RateLimitCounter)
    assert session.scalar(count) == 5
    # Still within the window: nothing is purged.
    ratelimit.hit(Limit("new:0", 10), now=T0 + timedelta(seconds=20))
    assert session.scalar(count) == 6
    # The first new window after theirs ended clears them.
    ratelimit.hit(Limit("new:1", 10), now=T0 + timedelta(minutes=1))
    remaining = session.scalars(select(RateLimitCounter.bucket)).all()
    assert sorted(remaining) == ["new:1"]


def test_redis_keys_carry_the_prefix_and_expire(app, redis_limiter):
    ratelimit.hit(Limit("lookup:client:192.0.2.1", 5), now=T0)
    client = redis_client()
    keys = list(client.scan_iter(match=f"{app.config['RATE_LIMIT_KEY_PREFIX']}*"))
    assert len(keys) == 1 and keys[0].decode().endswith(f":{int(T0.timestamp()) - 10}")
    assert 0 < client.ttl(keys[0]) <= 120
    client.close()

"""Benchmark of the public lookup and its shared rate limiter, on the database and on Redis.

Run from the repository root (SQLite by default; set ONESTOP_TEST_DATABASE_URL to a PostgreSQL
URL to run against a fresh database on that server)::

    python tests/bench/lookup.py [--n 1000] [--workers 4] [--redis redis://127.0.0.1:6379/0]

Prints, for each limiter backend:

* the cost of one counted hit (µs) and hits per second in one process;
* end-to-end ``GET /api/v1/lookup/by-token/<token>`` and ``GET /tra-cuu/<token>`` latency
  (p50/p99, ms, through the Flask test client, no network);
* the shared-counter check: ``--workers`` processes hit one bucket with limit 100 at the same
  instant; exactly 100 hits must be allowed and the final count must equal the hits sent;
* the timing of "unknown code", "known code, wrong check code" and "right check code" (median of
  interleaved samples): the two failures must differ by less than 1 ms (docs/security.md,
  "Lookup enumeration").
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from onestop import create_app
from onestop.core import migrate, ratelimit
from onestop.core.db import Database, make_engine
from onestop.extensions import db
from tests.dbutil import backend, fresh_database
from tests.dossiers.helpers import act, make_world, ok, submit

SHARED_LIMIT = 100
INSTANT = datetime(2026, 3, 5, 7, 30, 10, tzinfo=UTC)


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def make_app(url: str, **config):
    return create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "bench-secret-key",
            "DATABASE_URL": url,
            "PASSWORD_HASH_PROFILE": {"time_cost": 1, "memory_cost": 1024, "parallelism": 1},
            "LOOKUP_RATE_LIMIT_PER_MINUTE": 10**9,
            "LOOKUP_RATE_LIMIT_PER_CODE_PER_MINUTE": 10**9,
            **config,
        }
    )


def _worker(url: str, redis_url: str | None, prefix: str, bucket: str, hits: int, q) -> None:
    app = make_app(url, REDIS_URL=redis_url, RATE_LIMIT_KEY_PREFIX=prefix)
    allowed, last = 0, 0
    with app.app_context():
        limit = ratelimit.Limit(bucket, SHARED_LIMIT)
        for _ in range(hits):
            outcome = ratelimit.hit(limit, now=INSTANT)
            allowed += outcome.allowed
            last = max(last, outcome.count)
        ratelimit.store().close()
    Database.state(app).engine.dispose()
    q.put((allowed, last))


def shared_counter(url: str, redis_url: str | None, workers: int, hits: int) -> tuple[int, int]:
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    prefix = f"onestop-bench:{uuid.uuid4().hex}:"
    bucket = f"bench:{uuid.uuid4().hex}"
    procs = [
        ctx.Process(target=_worker, args=(url, redis_url, prefix, bucket, hits, q))
        for _ in range(workers)
    ]
    for p in procs:
        p.start()
    results = [q.get() for _ in procs]
    for p in procs:
        p.join()
    if redis_url:
        import redis

        client = redis.Redis.from_url(redis_url)
        keys = list(client.scan_iter(match=f"{prefix}*"))
        if keys:
            client.delete(*keys)
        client.close()
    return sum(a for a, _ in results), max(c for _, c in results)


def run(url: str, redis_url: str | None, n: int, workers: int) -> bool:
    label = f"{backend()} database, limiter on {'Redis' if redis_url else 'the database'}"
    print(f"\n== {label}")
    app = make_app(
        url, REDIS_URL=redis_url, RATE_LIMIT_KEY_PREFIX=f"onestop-bench:{uuid.uuid4().hex}:"
    )
    passed = True
    with app.app_context():
        client = app.test_client()
        world = make_world(client, db.session)
        d = ok(submit(client, world["citizen"]), 201)
        d = ok(act(client, world["clerk_a"], d["id"], "receive"))
        token = d["lookup_url"].rsplit("/", 1)[1]
        code, check = d["code"], d["check_code"]
        db.session.close()

        t0 = time.perf_counter()
        for i in range(n):
            ratelimit.hit(ratelimit.Limit(f"bench:{i % 500}", 10**9), now=datetime.now(UTC))
        per_hit = (time.perf_counter() - t0) / n
        print(f"counted hit: {per_hit * 1e6:8.0f} µs   ({1 / per_hit:,.0f} hits/s, one process)")

        for name, path in (
            ("API by token", f"/api/v1/lookup/by-token/{token}"),
            ("page by token", f"/tra-cuu/{token}"),
        ):
            times = []
            for i in range(n):
                t0 = time.perf_counter()
                resp = client.get(path, environ_base={"REMOTE_ADDR": f"10.1.{i % 250}.{i % 200}"})
                times.append(time.perf_counter() - t0)
                assert resp.status_code == 200, resp.status_code
            p50, p99 = pct(times, 50) * 1e3, pct(times, 99) * 1e3
            print(f"{name:14s}: p50 {p50:6.2f} ms   p99 {p99:6.2f} ms")

        samples: dict[str, list[float]] = {"unknown code": [], "wrong check": [], "right check": []}
        queries = {
            "unknown code": {"code": code[:-4] + "9999", "check": "ABCDEF"},
            "wrong check": {"code": code, "check": "ABCDEF" if check != "ABCDEF" else "BCDEFG"},
            "right check": {"code": code, "check": check},
        }
        for _ in range(n):
            for name, query in queries.items():
                t0 = time.perf_counter()
                resp = client.get("/api/v1/lookup", query_string=query)
                samples[name].append(time.perf_counter() - t0)
        medians = {k: statistics.median(v) * 1e3 for k, v in samples.items()}
        for k, v in medians.items():
            print(f"typed lookup, {k:12s}: median {v:6.3f} ms")
        gap = abs(medians["unknown code"] - medians["wrong check"])
        ok_gap = gap < 1.0
        passed &= ok_gap
        print(f"failure timing gap: {gap:.3f} ms  {'PASS' if ok_gap else 'FAIL'} (< 1 ms)")
        ratelimit.store().close()
    Database.state(app).engine.dispose()

    hits = 250
    t0 = time.perf_counter()
    allowed, final = shared_counter(url, redis_url, workers, hits)
    elapsed = time.perf_counter() - t0
    good = allowed == SHARED_LIMIT and final == workers * hits
    passed &= good
    print(
        f"shared counter: {workers} processes × {hits} hits, limit {SHARED_LIMIT}: "
        f"{allowed} allowed, final count {final}  {'PASS' if good else 'FAIL'} "
        f"({elapsed:.1f} s including start-up)"
    )
    return passed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, fresh_database(Path(tmp), "bench") as url:
        engine = make_engine(url)
        migrate.upgrade(engine)
        engine.dispose()
        passed = run(url, None, args.n, args.workers)
        passed &= run(url, args.redis, args.n, args.workers)
    print("\nALL PASS" if passed else "\nSOME FAIL")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())

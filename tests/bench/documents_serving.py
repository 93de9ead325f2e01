"""Benchmark of issued documents: receipt availability after receipt, and serving stored PDFs.

Run from the repository root:
    python tests/bench/documents_serving.py [--dossiers 20] [--requests 1000]
On PostgreSQL:
    ONESTOP_TEST_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres \
    python tests/bench/documents_serving.py

Through the Flask test client, on a fresh migrated database (SQLite file by default):

* ``receive``: latency of ``POST /dossiers/<id>/receive`` with the receipt issued after the
  commit (before the response is sent) and without it, and whether the receipt is listed by the
  very next request;
* ``serve``: ``GET /dossiers/<id>/documents/<doc>`` of a stored receipt, as the owning citizen
  (a pure read) and as a clerk (a read plus the audit event of a staff read). Target p99 10 ms.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from onestop import create_app  # noqa: E402
from onestop.core import migrate  # noqa: E402
from onestop.core.db import make_engine  # noqa: E402
from onestop.core.events import Phase, bus_of  # noqa: E402
from onestop.documents.issuing import issue_after_transition  # noqa: E402
from onestop.dossiers.events import Transitioned  # noqa: E402
from onestop.extensions import db  # noqa: E402
from tests.conftest import CHEAP_HASH  # noqa: E402
from tests.dbutil import backend, fresh_database  # noqa: E402
from tests.dossiers.helpers import act, make_world, ok, submit  # noqa: E402


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def summary(values: list[float]) -> dict[str, float]:
    return {
        "n": len(values),
        "p50_ms": round(percentile(values, 0.50), 2),
        "p90_ms": round(percentile(values, 0.90), 2),
        "p99_ms": round(percentile(values, 0.99), 2),
        "max_ms": round(max(values), 2),
        "mean_ms": round(statistics.fmean(values), 2),
    }


def run(dossiers: int, requests: int, tmp: Path) -> dict[str, object]:
    with fresh_database(tmp, "bench") as url:
        engine = make_engine(url)
        migrate.upgrade(engine)
        engine.dispose()
        app = create_app(
            {
                "TESTING": True,
                "SECRET_KEY": "bench-secret-key-not-for-production",
                "DATABASE_URL": url,
                "PASSWORD_HASH_PROFILE": CHEAP_HASH,
                "STORAGE_DIR": str(tmp / "storage"),
            }
        )
        with app.app_context():
            client = app.test_client()
            world = make_world(client, db.session)
            db.session.close()

            receive_ms: list[float] = []
            available_now = 0
            receipts = []
            for _ in range(dossiers):
                d = ok(submit(client, world["citizen"]), 201)
                etag = client.get(f"/api/v1/dossiers/{d['id']}", headers=world["clerk_a"]).headers[
                    "ETag"
                ]
                t0 = time.perf_counter()
                ok(act(client, world["clerk_a"], d["id"], "receive", etag=etag))
                receive_ms.append((time.perf_counter() - t0) * 1000)
                listed = ok(
                    client.get(f"/api/v1/dossiers/{d['id']}/documents", headers=world["citizen"])
                )
                if [x["form_code"] for x in listed] == ["01"]:
                    available_now += 1
                    receipts.append(listed[0])

            # Baseline: the same reception with the issuing hook taken out.
            bus = bus_of(app)
            bus.unsubscribe(Transitioned, issue_after_transition)
            try:
                bare_ms: list[float] = []
                for _ in range(dossiers):
                    d = ok(submit(client, world["citizen"]), 201)
                    etag = client.get(
                        f"/api/v1/dossiers/{d['id']}", headers=world["clerk_a"]
                    ).headers["ETag"]
                    t0 = time.perf_counter()
                    ok(act(client, world["clerk_a"], d["id"], "receive", etag=etag))
                    bare_ms.append((time.perf_counter() - t0) * 1000)
            finally:
                bus.subscribe(Transitioned, issue_after_transition, phase=Phase.AFTER_COMMIT)

            doc = receipts[0]
            for who in ("citizen", "clerk_a"):  # warm-up: connections, caches
                for _ in range(20):
                    client.get(doc["download_url"], headers=world[who])
            serve: dict[str, list[float]] = {"citizen": [], "clerk_a": []}
            identical = True
            for i in range(requests):
                target = receipts[i % len(receipts)]
                for who in ("citizen", "clerk_a"):
                    t0 = time.perf_counter()
                    resp = client.get(target["download_url"], headers=world[who])
                    serve[who].append((time.perf_counter() - t0) * 1000)
                    assert resp.status_code == 200, resp.status_code
                    identical &= hashlib.sha256(resp.data).hexdigest() == target["sha256"]

    return {
        "backend": backend(),
        "receipt_bytes": doc["size"],
        "receive_with_receipt": summary(receive_ms),
        "receive_without_issuing": summary(bare_ms),
        "receipt_listed_by_the_next_request": f"{available_now}/{dossiers}",
        "serve_citizen": summary(serve["citizen"]),
        "serve_clerk_audited": summary(serve["clerk_a"]),
        "served_bytes_identical_to_stored": identical,
    }


def main() -> None:
    logging.basicConfig(level=logging.WARNING)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dossiers", type=int, default=20)
    parser.add_argument("--requests", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        result = run(args.dossiers, args.requests, Path(tmp))
    print(json.dumps(result, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()

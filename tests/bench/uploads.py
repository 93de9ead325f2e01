"""Benchmark of document uploads: type detection, durable storage writes, the whole PUT and GET.

Run from the repository root::

    python tests/bench/uploads.py [--repeat 20]

Uses a throw-away SQLite database and storage folder. Prints the median and the 95th
percentile per file size (100 KB, 1 MB, 10 MB) for: detecting the type from the bytes, writing
the blob (temporary file, fsync, rename, folder fsync), and a full ``PUT`` then ``GET`` through
the application (authentication, scope, limits, storage, row, audit event, commit), and the peak
resident memory of the process. Targets (docs/security.md, "Uploads"): validation p99 under 1 s,
well under 256 MB of memory.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import resource
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from onestop import create_app
from onestop.core import migrate
from onestop.core.db import make_engine
from onestop.dossiers.attachments import detect_media_type
from onestop.extensions import db
from onestop.storage import LocalStorage
from tests.dossiers.helpers import make_world, submit

SIZES = {"100 KB": 100 * 1024, "1 MB": 1024 * 1024, "10 MB": 10 * 1024 * 1024 - 64}


def fake_pdf(size: int) -> bytes:
    """A PDF-shaped body of ``size`` bytes with random content (each one a new blob)."""
    head, tail = b"%PDF-1.7\n", b"\n%%EOF\n"
    return head + os.urandom(size - len(head) - len(tail)).replace(b"<", b"(") + tail


def summary(times: list[float]) -> str:
    ms = sorted(t * 1000 for t in times)
    p95 = ms[min(len(ms) - 1, round(0.95 * (len(ms) - 1)))]
    return f"median {statistics.median(ms):8.2f} ms   p95 {p95:8.2f} ms"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="onestop-bench-"))
    url = f"sqlite:///{work / 'bench.sqlite3'}"
    engine = make_engine(url)
    migrate.upgrade(engine)
    engine.dispose()
    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "bench-only",
            "DATABASE_URL": url,
            "STORAGE_DIR": str(work / "storage"),
            "PASSWORD_HASH_PROFILE": {"time_cost": 1, "memory_cost": 1024, "parallelism": 1},
            "UPLOAD_MAX_DOSSIER_BYTES": 10**12,
        }
    )
    store = LocalStorage(work / "blobs")
    print(f"onestop upload benchmark, {args.repeat} runs per size, storage in {work}")
    with app.app_context():
        client = app.test_client()
        world = make_world(client, db.session)
        dossier = submit(client, world["citizen"]).json
        for label, size in SIZES.items():
            bodies = [fake_pdf(size) for _ in range(args.repeat)]
            detect, put, upload, download = [], [], [], []
            for body in bodies:
                t0 = time.perf_counter()
                detect_media_type(body)
                detect.append(time.perf_counter() - t0)
                t0 = time.perf_counter()
                store.put(body)
                put.append(time.perf_counter() - t0)
            for i, body in enumerate(bodies):
                headers = {**world["citizen"], "Content-Type": "application/pdf"}
                t0 = time.perf_counter()
                resp = client.put(
                    f"/api/v1/dossiers/{dossier['id']}/files/extra_{2 + i % 9}",
                    data=body,
                    headers=headers,
                )
                upload.append(time.perf_counter() - t0)
                assert resp.status_code == 201, resp.json
                t0 = time.perf_counter()
                got = client.get(resp.json["download_url"], headers=world["clerk_a"])
                download.append(time.perf_counter() - t0)
                assert hashlib.sha256(got.data).hexdigest() == resp.json["sha256"]
            print(f"{label:>7}  detect   {summary(detect)}")
            print(f"{label:>7}  store    {summary(put)}   (temp file, fsync, rename, dir fsync)")
            print(f"{label:>7}  PUT      {summary(upload)}   (whole request, SQLite)")
            print(f"{label:>7}  GET      {summary(download)}   (clerk: hash check + audit)")
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    shutil.rmtree(work, ignore_errors=True)
    print(f"peak RSS {peak_mb:.0f} MB (whole process, bodies held in memory included)")


if __name__ == "__main__":
    main()

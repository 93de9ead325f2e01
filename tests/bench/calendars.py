"""Benchmark of calendars in the service: the due-date endpoint and the re-projection job.

Run from the repository root (SQLite in a temporary file by default)::

    python tests/bench/calendars.py [--dossiers 100000] [--requests 2000]
    ONESTOP_TEST_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres \
        python tests/bench/calendars.py

Prints the median latency of ``GET /api/v1/calendar/due-date`` (cached calendar), the time of
``calendar_for_agency`` (cache hit) and of one re-projection after a national day off is added,
over N open dossiers received across 2026, with the rows per second of each.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
import uuid
from contextlib import ExitStack
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from sqlalchemy import insert, select

from onestop import create_app
from onestop.agencies.demo import seed_demo_agencies
from onestop.agencies.services import get_by_code
from onestop.calendars import services
from onestop.catalogue.filespec import load_folder
from onestop.catalogue.models import ProcedureVersion
from onestop.catalogue.services import sync_catalogue
from onestop.core import migrate
from onestop.dossiers.models import Dossier
from onestop.dossiers.reprojection import reproject_open_dossiers
from onestop.extensions import db
from onestop.worktime import Duration
from tests.dbutil import fresh_database
from tests.factories import AGENCY_A, SEED_TIME, make_user

ROOT = Path(__file__).resolve().parents[2]


def seed(n: int) -> None:
    session = db.session
    seed_demo_agencies(session, now=SEED_TIME)
    sync_catalogue(session, load_folder(ROOT / "procedures"), actor=None, now=SEED_TIME)
    user = make_user(session)
    agency = get_by_code(session, AGENCY_A)
    version_id = session.scalar(select(ProcedureVersion.id).limit(1))
    key, cal = services.calendar_for_agency(
        session, agency.id, on=date(2026, 1, 5), now=datetime(2026, 1, 5, 1, tzinfo=UTC)
    )
    rng = random.Random(7)
    start = datetime(2026, 1, 5, 0, 30, tzinfo=UTC)
    rows = []
    for i in range(n):
        received = start + timedelta(seconds=rng.randrange(0, 330 * 86400))
        amount = rng.choice([1, 3, 5, 7, 10, 15, 20, 30])
        due = cal.due_at(received, Duration(amount, "working_days"))
        rows.append(
            {
                "submission_no": f"B{i:09d}",
                "state": "processing",
                "channel": "online",
                "procedure_code": "bench",
                "procedure_version_id": version_id,
                "agency_id": agency.id,
                "current_unit_id": agency.id,
                "created_by_id": user.id,
                "applicant_name": "Nguyễn Văn A",
                "applicant_name_search": "nguyen van a",
                "lookup_token": uuid.uuid4().hex,
                "check_code": "ABC123",
                "submitted_at": received,
                "received_at": received,
                "clock_start_at": cal.effective_start(received),
                "duration_amount": amount,
                "duration_unit": "working_days",
                "calendar_key": key,
                "promised_due_at": due,
                "legal_due_at": due,
                "created_at": received,
                "updated_at": received,
            }
        )
        if len(rows) == 10_000:
            session.execute(insert(Dossier), rows)
            rows = []
    if rows:
        session.execute(insert(Dossier), rows)
    session.commit()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dossiers", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=2_000)
    args = parser.parse_args()

    with ExitStack() as stack:
        tmp = stack.enter_context(tempfile.TemporaryDirectory())
        url = stack.enter_context(fresh_database(Path(tmp), "bench"))
        app = create_app(
            {
                "TESTING": True,
                "SECRET_KEY": "bench-secret-key-not-for-production",
                "DATABASE_URL": url,
                "PASSWORD_HASH_PROFILE": {"time_cost": 1, "memory_cost": 1024, "parallelism": 1},
            }
        )
        with app.app_context():
            migrate.upgrade(db.engine)
            t0 = time.perf_counter()
            seed(args.dossiers)
            print(f"database: {db.dialect}; seeded {args.dossiers} open dossiers in "
                  f"{time.perf_counter() - t0:.1f} s")  # fmt: skip

            client = app.test_client()
            url_due = (
                "/api/v1/calendar/due-date?received_at=2026-02-12T10:00:00%2B07:00"
                f"&amount=3&unit=working_days&agency={AGENCY_A}"
            )
            client.get(url_due)  # build and cache the calendar
            times = []
            for _ in range(args.requests):
                t = time.perf_counter()
                resp = client.get(url_due)
                times.append(time.perf_counter() - t)
                assert resp.status_code == 200
            median, p99 = statistics.median(times), sorted(times)[int(len(times) * 0.99)]
            print(f"GET due-date (with explanation): median {median * 1e3:.2f} ms, "
                  f"p99 {p99 * 1e3:.2f} ms")  # fmt: skip

            agency_id = get_by_code(db.session, AGENCY_A).id
            t = time.perf_counter()
            for _ in range(args.requests):
                services.calendar_for_agency(
                    db.session, agency_id, now=datetime.now(UTC), remember=False
                )
            per = (time.perf_counter() - t) / args.requests
            print(f"calendar_for_agency (cache hit): {per * 1e6:.0f} µs")

            now = datetime.now(UTC)
            t = time.perf_counter()
            services.add_override(
                db.session,
                services.OverrideInput(
                    date=date(2026, 6, 15),
                    kind="day_off",
                    name="Ngày nghỉ thử nghiệm",
                    source="Benchmark",
                ),
                actor=None,
                now=now,
            )
            db.session.commit()
            print(f"add_override (validate + build): {time.perf_counter() - t:.2f} s")

            t = time.perf_counter()
            report = reproject_open_dossiers(db.session, now=now)
            db.session.commit()
            spent = time.perf_counter() - t
            print(
                f"re-projection: {report.examined} dossiers examined, {report.moved} moved, "
                f"{spent:.2f} s ({report.examined / spent:,.0f} dossiers/s)"
            )
            t = time.perf_counter()
            again = reproject_open_dossiers(db.session, now=now)
            print(f"second run (nothing to do): {time.perf_counter() - t:.3f} s, "
                  f"{again.examined} examined")  # fmt: skip
            db.session.close()
            db.engine.dispose()


if __name__ == "__main__":
    main()

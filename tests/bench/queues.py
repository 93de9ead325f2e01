"""Benchmark of the clerk work queues over a synthetic province, and of its generator.

Run from the repository root (SQLite by default; set ONESTOP_TEST_DATABASE_URL to a PostgreSQL
URL to run against a fresh database on that server, dropped afterwards)::

    python tests/bench/queues.py --dossiers 1000000 [--years 3] [--seed 1] [--n 200]

In one run it prints:

* generator throughput (dossiers and ledger events per second, COPY or executemany);
* first page (50 rows) and next page of each queue view through HTTP (gunicorn, 2 sync workers)
  with a clerk's token: p50 / p99 in ms, against 10 / 25 ms;
* the ORM statement of a page alone and a hand-written SQL for the same page: p50 in ms, ORM
  within 2× of raw;
* per-tab counts (``GET /api/v1/queues``): p50 / p99, against 50 ms;
* take-next under 8 concurrent clerks: p50 / p99 and the number of double assignments (0);
* on PostgreSQL, the plan of each view's first page (``EXPLAIN ANALYZE``) for docs/queues.md.
"""

from __future__ import annotations

import argparse
import platform
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from sqlalchemy import func, select, text

from onestop import create_app, synthetic
from onestop.accounts.models import Membership, User
from onestop.agencies.models import Agency
from onestop.core.access import Principal, Role
from onestop.core.clock import now
from onestop.core.db import Database
from onestop.demo import DEMO_PASSWORD
from onestop.dossiers.models import Dossier, DossierEvent
from onestop.extensions import db
from onestop.queues import queries
from onestop.queues.queries import Filters, QueueContext, Sort, View
from tests.dbutil import backend, fresh_database
from tests.servers import prepare_database, start_server


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def ms(values: list[float]) -> str:
    return f"{pct(values, 50) * 1000:.2f} / {pct(values, 99) * 1000:.2f}"


def generate(url: str, dossiers: int, years: float, seed: int) -> synthetic.Summary:
    app = create_app({"TESTING": True, "SECRET_KEY": "bench", "DATABASE_URL": url})
    with app.app_context():
        at = now()
        synthetic.ensure_province(db.session, communes=100, now=at)
        db.session.commit()
        last = [time.perf_counter()]

        def progress(s: synthetic.Summary) -> None:
            db.session.commit()
            if time.perf_counter() - last[0] > 30:
                last[0] = time.perf_counter()
                print(f"  {s.dossiers:,} dossiers, {s.rate:,.0f}/s", flush=True)

        plan = synthetic.Plan(dossiers=dossiers, years=years, seed=seed, batch=50_000)
        summary = synthetic.generate(db.session, plan, now=at, on_batch=progress)
        db.session.commit()
        t = time.perf_counter()
        if backend() == "postgresql":
            db.session.execute(text("ANALYZE"))
        else:
            db.session.execute(text("ANALYZE"))
        db.session.commit()
        print(f"  ANALYZE {time.perf_counter() - t:.1f} s")
    Database.state(app).engine.dispose()
    return summary


def busiest_clerk(url: str) -> tuple[str, int, frozenset[int]]:
    """A clerk of the commune with the most open dossiers (the hardest queue to serve)."""
    app = create_app({"TESTING": True, "SECRET_KEY": "bench", "DATABASE_URL": url})
    with app.app_context():
        s = db.session
        row = s.execute(
            select(Dossier.agency_id, func.count())
            .where(Dossier.state.in_(queries.OPEN))
            .group_by(Dossier.agency_id)
            .order_by(func.count().desc())
            .limit(1)
        ).one()
        agency_id = row[0]
        user = s.execute(
            select(User.id, User.username)
            .join(Membership, Membership.user_id == User.id)
            .where(Membership.agency_id == agency_id, User.role == "clerk")
            .order_by(User.id)
            .limit(1)
        ).one()
        units = frozenset(
            s.scalars(
                select(Agency.id).where((Agency.id == agency_id) | (Agency.parent_id == agency_id))
            )
        )
        print(f"  clerk {user.username}: {row[1]:,} open dossiers at agency {agency_id}")
    Database.state(app).engine.dispose()
    return user.username, user.id, units


def orm_vs_raw(url: str, user_id: int, username: str, units: frozenset[int], n: int) -> list[str]:
    """The page statement the API runs, alone, against a hand-written SQL for the same page."""
    app = create_app({"TESTING": True, "SECRET_KEY": "bench", "DATABASE_URL": url})
    lines = []
    with app.app_context():
        s = db.session
        actor = Principal(user_id, username, Role.CLERK, units)
        ctx = QueueContext(actor=actor, now=now(), due_soon_share=0.2)
        ids = ", ".join(str(u) for u in sorted(units))
        raw = {
            View.UNASSIGNED: f"""
                SELECT d.* FROM dossiers d
                WHERE d.state IN ('received', 'processing') AND d.assigned_to_id IS NULL
                  AND d.current_unit_id IN ({ids})
                  AND NOT EXISTS (SELECT 1 FROM dossier_handovers h
                                  WHERE h.dossier_id = d.id AND h.accepted_at IS NULL)
                ORDER BY d.legal_due_at, d.id LIMIT 51""",
            View.OVERDUE: f"""
                SELECT d.* FROM dossiers d
                WHERE d.state IN ('received', 'processing', 'supplement_requested',
                                  'awaiting_payment', 'withdrawal_requested')
                  AND d.paused_since IS NULL AND d.current_unit_id IN ({ids})
                  AND d.legal_due_at < :now
                ORDER BY d.legal_due_at, d.id LIMIT 51""",
            View.TO_RETURN: f"""
                SELECT d.* FROM dossiers d WHERE d.state = 'resolved' AND d.agency_id IN ({ids})
                ORDER BY d.legal_due_at, d.id LIMIT 51""",
        }
        for view, sql in raw.items():
            stmt = queries.page_statement(
                queries.view_statement(s, view, ctx, Filters()), view, Sort.DUE, None, 50
            )
            orm, hand = [], []
            for _ in range(n):
                t = time.perf_counter()
                rows = s.scalars(stmt).all()
                orm.append(time.perf_counter() - t)
                s.expunge_all()
                t = time.perf_counter()
                raw_rows = s.execute(text(sql), {"now": ctx.now}).all()
                hand.append(time.perf_counter() - t)
            assert [r.id for r in rows] == [r.id for r in raw_rows], view
            ratio = pct(orm, 50) / pct(hand, 50)
            lines.append(
                f"| ORM vs raw, {view.value} ({len(rows)} rows) | {pct(orm, 50) * 1000:.2f} ms "
                f"| {pct(hand, 50) * 1000:.2f} ms | {ratio:.2f}× (≤ 2×) |"
            )
        if backend() == "postgresql":
            print("\n## Plans (first page, EXPLAIN ANALYZE)\n")
            for view in View:
                stmt = queries.page_statement(
                    queries.view_statement(s, view, ctx, Filters()), view, Sort.DUE, None, 50
                )
                compiled = stmt.compile(s.get_bind(), compile_kwargs={"literal_binds": True})
                plan = s.execute(text(f"EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) {compiled}")).all()
                print(f"### {view.value}\n```")
                print("\n".join(r[0] for r in plan))
                print("```")
    Database.state(app).engine.dispose()
    return lines


def http(server, username: str, n: int) -> list[str]:
    headers = server.login(username, DEMO_PASSWORD)
    lines = []
    for view in View:
        first, nxt, cursor = [], [], None
        for _ in range(n):
            t = time.perf_counter()
            r = server.request("GET", f"/api/v1/queues/{view.value}?limit=50", headers=headers)
            first.append(time.perf_counter() - t)
            assert r.status == 200, r.body
            cursor = r.json["next"]
        size = len(r.json["items"])
        if cursor:
            for _ in range(n):
                t = time.perf_counter()
                r = server.request(
                    "GET", f"/api/v1/queues/{view.value}?limit=50&after={cursor}", headers=headers
                )
                nxt.append(time.perf_counter() - t)
                assert r.status == 200, r.body
        lines.append(f"| {view.value} ({size} rows) | {ms(first)} | {ms(nxt) if nxt else '—'} |")
    counts = []
    for _ in range(n):
        t = time.perf_counter()
        r = server.request("GET", "/api/v1/queues", headers=headers)
        counts.append(time.perf_counter() - t)
    tabs = {t["view"]: t["count_text"] for t in r.json["tabs"]}
    lines.append(f"| per-tab counts {tabs} | {ms(counts)} | (≤ 50 ms p99) |")
    return lines


def take_next(server, url: str, username: str, takes: int) -> str:
    """8 clerks of one commune press take-next together until ``takes`` dossiers are taken."""
    app = create_app({"TESTING": True, "SECRET_KEY": "bench", "DATABASE_URL": url})
    with app.app_context():
        agency_id = db.session.scalar(
            select(Membership.agency_id).join(User).where(User.username == username)
        )
        clerks = list(
            db.session.scalars(
                select(User.username)
                .join(Membership)
                .where(Membership.agency_id == agency_id, User.role == "clerk")
            )
        )
        since = db.session.scalar(select(func.max(DossierEvent.id)))
    Database.state(app).engine.dispose()
    # The commune's manager gives every clerk's open dossiers back to the queue (an absent
    # team), so that there is work to take.
    with app.app_context():
        manager = db.session.scalar(
            select(User.username)
            .join(Membership)
            .where(Membership.agency_id == agency_id, User.role == "manager")
        )
    boss = server.login(manager, DEMO_PASSWORD)
    for c in clerks:
        for _ in range(20):
            r = server.request("POST", "/api/v1/queues/reassign", {"from_user": c}, boss)
            assert r.status == 200, r.body
            if r.json["moved"] == 0:
                break
    headers = [server.login(c, DEMO_PASSWORD) for c in clerks]
    headers = (headers * 8)[:8]
    latencies: list[float] = []
    got: list[int] = []
    statuses: Counter[int] = Counter()
    lock = threading.Lock()

    def clerk(i: int) -> None:
        while True:
            with lock:
                if len(got) >= takes:
                    return
            t = time.perf_counter()
            r = server.request("POST", "/api/v1/queues/take-next", {}, headers[i])
            with lock:
                latencies.append(time.perf_counter() - t)
                statuses[r.status] += 1
                if r.status != 200:
                    return
                got.append(r.json["id"])

    threads = [threading.Thread(target=clerk, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with app.app_context():
        assigns = db.session.execute(
            select(DossierEvent.dossier_id, func.count())
            .where(DossierEvent.id > since, DossierEvent.action == "assign")
            .where(DossierEvent.kind == "transition")
            .group_by(DossierEvent.dossier_id)
        ).all()
    Database.state(app).engine.dispose()
    doubles = len(got) - len(set(got)) + sum(1 for _, c in assigns if c > 1)
    return (
        f"| take-next, 8 clerks, {len(got)} taken {dict(statuses)} | {ms(latencies)} "
        f"| double assignments: {doubles} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dossiers", type=int, default=100_000)
    parser.add_argument("--years", type=float, default=3.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--n", type=int, default=200, help="requests per measurement")
    parser.add_argument("--takes", type=int, default=200)
    args = parser.parse_args()
    print(f"# queues benchmark on {backend()}, {args.dossiers:,} dossiers")
    print(f"machine: {platform.node()} {platform.machine()}, Python {platform.python_version()}")
    with tempfile.TemporaryDirectory() as tmp, fresh_database(Path(tmp), "bench") as url:
        prepare_database(url)
        t = time.perf_counter()
        summary = generate(url, args.dossiers, args.years, args.seed)
        print(
            f"\n| generator | {summary.dossiers:,} dossiers, {summary.events:,} events, "
            f"{summary.handovers:,} handovers | {summary.seconds:.1f} s | "
            f"{summary.rate:,.0f} dossiers/s, {summary.events / summary.seconds:,.0f} events/s "
            f"(≥ 50,000 dossiers/s on PostgreSQL) |"
        )
        print(
            f"  states {dict(summary.states)}; total with ANALYZE {time.perf_counter() - t:.0f} s"
        )
        username, user_id, units = busiest_clerk(url)
        for line in orm_vs_raw(url, user_id, username, units, args.n):
            print(line)
        server = start_server(url, Path(tmp), workers=2)
        try:
            print("\n| view | first page p50 / p99 ms | next page p50 / p99 ms |")
            print("|---|---|---|")
            for line in http(server, username, args.n):
                print(line, flush=True)
            print(take_next(server, url, username, args.takes))
        finally:
            server.stop()


if __name__ == "__main__":
    main()

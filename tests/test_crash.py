"""Crash test: ``kill -9`` of gunicorn (master and workers) in the middle of a burst of
submissions and receptions, a restart on the same database, and the clients' retries.

The promise of ``Idempotency-Key`` (docs/security.md decision 3) and of one transaction per unit of
work: a submission that was acknowledged is never lost, one that was not can be retried with
the same key and exists exactly once afterwards, and nothing is ever half-written (a dossier
without its ledger entry or audit event, a reception without its code, clock start or due
dates, a hole in an agency's code sequence). On SQLite this rests on WAL with
``synchronous=FULL``; on PostgreSQL on its own commit.
"""

from __future__ import annotations

import http.client
import json
import queue
import threading
import time
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from onestop.core import audit, idempotency
from onestop.core.audit import AuditEvent
from onestop.core.db import make_engine
from onestop.core.idempotency import IdempotencyRecord
from onestop.demo import DEMO_PASSWORD
from onestop.dossiers.models import CodeSequence, Dossier, DossierEvent
from tests.dbutil import backend, fresh_database
from tests.servers import (
    AUDIT_KEYS,
    MANY_CITIZENS_ENV,
    SECRET_KEY,
    Reply,
    Server,
    add_users,
    prepare_database,
    running_server,
    start_server,
)

pytestmark = pytest.mark.slow

HAC_THANH = "000.21.01.H56"
MARRIAGE_STATUS = "1.004873"  # Cấp Giấy xác nhận tình trạng hôn nhân, full online
CITIZENS = [f"congdan{i}.crash" for i in range(1, 4)]
CLERKS = ["canbo1.crash", "canbo2.crash"]
USERS = [
    *[(u, "Phạm Thị Hương", "citizen", ()) for u in CITIZENS],
    *[(u, "Đỗ Văn Hùng", "clerk", (HAC_THANH,)) for u in CLERKS],
]
SUBMITTERS_PER_CITIZEN = 2
RECEIVERS_PER_CLERK = 2
# Kill once this many submissions and receptions are acknowledged and the burst has run this
# long (a reception issues the receipt PDF before it answers, so it is the slower of the two).
KILL_AFTER_ACKS = 40
KILL_AFTER_RECEPTIONS = 8
KILL_AFTER_SECONDS = 2.0


@dataclass
class Attempt:
    """One submission a client made: who, with which key and body, and what came back."""

    username: str
    key: str
    body: dict[str, Any]
    acked: dict[str, Any] | None = None  # the 2xx reply body, if one arrived
    raw: bytes = b""  # the same, as sent


def submission(n: int) -> dict[str, Any]:
    return {
        "procedure_code": MARRIAGE_STATUS,
        "agency_code": HAC_THANH,
        "channel": "online",
        "applicant": {
            "full_name": f"Nguyễn Văn Sáu {n}",
            "id_number": "038090001234",
            "birth_date": "1990-04-12",
            "address": "Số 8, phố Lê Hoàn, phường Hạc Thành, tỉnh Thanh Hóa",
        },
    }


def post_submission(server: Server, attempt: Attempt) -> Reply:
    headers = {**server.login(attempt.username, DEMO_PASSWORD), "Idempotency-Key": attempt.key}
    return server.request("POST", "/api/v1/dossiers", attempt.body, headers, timeout=30)


def alive(pid: int) -> bool:
    """Whether ``pid`` is a running (not zombie) process."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state != "Z"


def children_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except (FileNotFoundError, IndexError):
                continue
            if int(stat[1]) == pid:
                found.append(int(entry.name))
    return found


class Burst:
    """Citizens submitting and clerks receiving as fast as they can until ``stop`` is set."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.attempts: list[Attempt] = []
        self.to_receive: queue.Queue[int] = queue.Queue()
        self.receptions: dict[int, str] = {}  # dossier id → code, acknowledged receptions
        self.counter = 0

    def acked(self) -> int:
        with self.lock:
            return sum(1 for a in self.attempts if a.acked is not None)

    def ready_to_kill(self, started: float) -> bool:
        with self.lock:
            receptions = len(self.receptions)
        return (
            self.acked() >= KILL_AFTER_ACKS
            and receptions >= KILL_AFTER_RECEPTIONS
            and time.monotonic() - started >= KILL_AFTER_SECONDS
        )

    def submitter(self, username: str, worker: int) -> None:
        i = 0
        while not self.stop.is_set():
            i += 1
            with self.lock:
                self.counter += 1
                n = self.counter
            attempt = Attempt(username, f"crash-{username}-{worker}-{i}", submission(n))
            with self.lock:
                self.attempts.append(attempt)
            try:
                reply = post_submission(self.server, attempt)
            except (OSError, http.client.HTTPException):
                continue  # the server is gone: not acknowledged, retried after the restart
            if 200 <= reply.status < 300 and reply.body:
                attempt.acked, attempt.raw = reply.json, reply.body
                self.to_receive.put(reply.json["id"])

    def receiver(self, username: str) -> None:
        headers = self.server.login(username, DEMO_PASSWORD)
        while not self.stop.is_set():
            try:
                dossier_id = self.to_receive.get(timeout=0.2)
            except queue.Empty:
                continue
            path = f"/api/v1/dossiers/{dossier_id}"
            try:
                got = self.server.request("GET", path, headers=headers, timeout=30)
                if got.status != 200:
                    continue
                reply = self.server.request(
                    "POST", f"{path}/receive", {}, {**headers, "If-Match": got.headers["ETag"]}
                )
            except (OSError, http.client.HTTPException):
                continue
            if reply.status == 200 and reply.body:
                with self.lock:
                    self.receptions[dossier_id] = reply.json["code"]


def submission_records(
    rows: list[IdempotencyRecord], attempts: list[Attempt]
) -> dict[str, tuple[IdempotencyRecord, bytes]]:
    """The idempotency record of each attempt's key, with its reply opened.

    Keys are stored as an HMAC and replies sealed under SECRET_KEY (docs/operations.md), so
    the records are matched and read with the key every test server shares.
    """
    app = Flask(__name__)
    app.config["SECRET_KEY"] = SECRET_KEY
    found: dict[str, tuple[IdempotencyRecord, bytes]] = {}
    with app.app_context():
        wanted = {a.key for a in attempts}
        for r in rows:
            for key in wanted:
                if idempotency._key_digest(r.principal, key) == r.key:
                    found[key] = (r, idempotency._open(r.body, r.principal, key))
                    break
    return found


def check_database(url: str, attempts: list[Attempt], receptions: dict[int, str]) -> dict:
    """Everything the database must show after the crash and the retries; returns figures."""
    engine = make_engine(url)
    try:
        with Session(engine) as s:
            dossiers = {d.id: d for d in s.scalars(select(Dossier))}
            records = submission_records(s.scalars(select(IdempotencyRecord)).all(), attempts)
            events = defaultdict(list)
            for ev in s.scalars(select(DossierEvent).order_by(DossierEvent.seq)):
                events[ev.dossier_id].append(ev)
            audit_actions = defaultdict(list)
            for stream, action in s.execute(
                select(AuditEvent.stream, AuditEvent.action)
                .where(AuditEvent.stream.like("dossier:%"))
                .order_by(AuditEvent.stream, AuditEvent.seq)
            ):
                audit_actions[int(stream.split(":")[1])].append(action)
            chain_problems = list(audit.verify(s, keyring=audit.parse_keys(AUDIT_KEYS)))
            sequences = {
                (row.agency_id, row.day): row.last_value for row in s.scalars(select(CodeSequence))
            }
            n_dossiers = s.scalar(select(func.count()).select_from(Dossier))
    finally:
        engine.dispose()

    # 0 lost: every acknowledged submission is there, as acknowledged.
    lost = [
        a.key
        for a in attempts
        if a.acked
        and (
            a.acked["id"] not in dossiers
            or dossiers[a.acked["id"]].submission_no != a.acked["submission_no"]
        )
    ]
    assert not lost, f"acknowledged submissions lost: {lost}"
    lost_receptions = [i for i, code in receptions.items() if dossiers[i].code != code]
    assert not lost_receptions, f"acknowledged receptions lost: {lost_receptions}"

    # 0 duplicates: one idempotency record per key, one dossier per record, no other dossier.
    keys = Counter((r.principal, r.key) for r, _ in records.values())
    assert len(keys) == len(records) == len(attempts), (len(keys), len(records), len(attempts))
    record_ids = [json.loads(body)["id"] for _, body in records.values()]
    assert len(set(record_ids)) == len(record_ids)
    assert set(record_ids) == set(dossiers) and n_dossiers == len(attempts)

    # 0 half-written: the submission's ledger entry and audit event; for a reception, its code,
    # clock start, due dates, "started" ledger entry and audit event.
    received = 0
    for d in dossiers.values():
        ledger = events[d.id]
        assert ledger and (ledger[0].seq, ledger[0].action) == (1, "submit"), d.id
        assert [ev.seq for ev in ledger] == list(range(1, len(ledger) + 1)), d.id
        assert audit_actions[d.id][:1] == ["dossier.submit"], d.id
        if d.state == "submitted":
            assert d.code is None and d.received_at is None and d.legal_due_at is None
            continue
        received += 1
        assert d.state == "received", (d.id, d.state)
        assert d.code and d.received_at and d.clock_start_at, d.id
        assert d.promised_due_at == d.legal_due_at and d.legal_due_at > d.clock_start_at
        assert d.clock_start_at >= d.received_at and d.version == 2
        started = [ev for ev in ledger if ev.kind == "started"]
        assert len(started) == 1, d.id
        assert datetime.fromisoformat(started[0].data["due_at"]) == d.promised_due_at
        assert started[0].data["code"] == d.code
        assert "dossier.receive" in audit_actions[d.id], d.id
    assert not chain_problems, chain_problems

    # Codes: unique, and 0001…N per agency and day with the counter at N.
    by_day: dict[str, list[int]] = defaultdict(list)
    for d in dossiers.values():
        if d.code:
            prefix, number = d.code.rsplit("-", 1)
            by_day[prefix].append(int(number))
    for prefix, numbers in by_day.items():
        assert sorted(numbers) == list(range(1, len(numbers) + 1)), (prefix, sorted(numbers))
    assert sorted(sequences.values()) == sorted(len(n) for n in by_day.values())
    return {"dossiers": len(dossiers), "received": received, "code_days": len(by_day)}


def test_kill_9_mid_burst_loses_nothing_acknowledged_and_retries_make_no_duplicates(
    tmp_path: Path,
) -> None:
    """kill -9 of master and workers while citizens submit and clerks receive; after a restart
    on the same database every submission is retried with its key: acknowledged ones replay,
    the others exist exactly once, and the database holds no half-written dossier."""
    with fresh_database(tmp_path, "crash") as url:
        prepare_database(url, add_users(USERS, DEMO_PASSWORD))
        server = start_server(url, tmp_path, workers=4, env=MANY_CITIZENS_ENV)
        try:
            for u in CITIZENS + CLERKS:
                server.login(u, DEMO_PASSWORD)
            burst = Burst(server)
            threads = [
                threading.Thread(target=burst.submitter, args=(u, w), daemon=True)
                for u in CITIZENS
                for w in range(SUBMITTERS_PER_CITIZEN)
            ] + [
                threading.Thread(target=burst.receiver, args=(u,), daemon=True)
                for u in CLERKS
                for _ in range(RECEIVERS_PER_CLERK)
            ]
            started = time.monotonic()
            for t in threads:
                t.start()
            while not burst.ready_to_kill(started):
                assert time.monotonic() - started < 30, "the burst made no progress"
                time.sleep(0.05)
            workers = children_of(server.pid)
            assert len(workers) == 4
            server.kill()
            burst.stop.set()
            for t in threads:
                t.join(30)
            # SIGKILL lands when a worker leaves the kernel (an fsync in progress finishes).
            deadline = time.monotonic() + 10
            while any(alive(pid) for pid in workers) and time.monotonic() < deadline:
                time.sleep(0.05)
            assert not alive(server.pid) and not any(alive(pid) for pid in workers)
        finally:
            server.stop()

        attempts = burst.attempts
        acked_before = [a for a in attempts if a.acked]
        unacked = [a for a in attempts if not a.acked]
        restarted = start_server(url, tmp_path, workers=4, env=MANY_CITIZENS_ENV)
        try:
            with ThreadPoolExecutor(8) as pool:
                replies = list(pool.map(lambda a: post_submission(restarted, a), attempts))
            log = restarted.log()
        finally:
            restarted.stop()
        assert "Traceback" not in log and "unexpected error" not in log, log[-3000:]

        assert all(r.status == 201 for r in replies), Counter(r.status for r in replies)
        replayed = 0
        for attempt, reply in zip(attempts, replies, strict=True):
            was_replayed = reply.headers.get("Idempotent-Replayed") == "true"
            if attempt.acked:
                # An acknowledged submission replays its first reply, byte for byte the same.
                assert was_replayed and reply.body == attempt.raw, attempt.key
            else:
                replayed += was_replayed
                attempt.acked = reply.json
        figures = check_database(url, attempts, burst.receptions)

    print(
        f"\ncrash ({backend()}): {len(attempts)} submissions attempted, "
        f"{len(acked_before)} acknowledged before the kill, {len(burst.receptions)} receptions "
        f"acknowledged; retried {len(unacked)} unacknowledged: {replayed} had committed "
        f"(replayed), {len(unacked) - replayed} created on retry; {len(acked_before)} "
        f"acknowledged retried and replayed; lost 0, duplicates 0; {figures['dossiers']} "
        f"dossiers, {figures['received']} received ({figures['received'] - len(burst.receptions)} "
        f"committed without an answer), codes gap-free on {figures['code_days']} "
        f"agency-day(s)"
    )


def test_simultaneous_events_on_one_audit_stream_all_succeed(tmp_path: Path) -> None:
    """Found by the retries above on PostgreSQL: one account logging in from several clients at
    once, or several clerks opening one dossier at once, write events on one audit stream
    without changing a row of its object; both read the same last event and the second failed
    on the unique (stream, seq) with a 500. Each writer now waits for the previous one."""
    n = 8
    with running_server(tmp_path, seed=add_users(USERS, DEMO_PASSWORD), workers=4) as server:
        barrier = threading.Barrier(n)

        def at_once(call: Any) -> list[Reply]:
            def run(_: int) -> Reply:
                barrier.wait()
                return call()

            with ThreadPoolExecutor(n) as pool:
                return list(pool.map(run, range(n)))

        logins = at_once(
            lambda: server.request(
                "POST",
                "/api/v1/auth/tokens",
                {"username": CLERKS[0], "password": DEMO_PASSWORD},
            )
        )
        assert [r.status for r in logins] == [201] * n, [r.body[:200] for r in logins]

        attempt = Attempt(CITIZENS[0], "crash-audit-stream", submission(0))
        dossier = post_submission(server, attempt).json
        clerk = {"Authorization": f"Bearer {logins[0].json['token']}"}
        views = at_once(
            lambda: server.request("GET", f"/api/v1/dossiers/{dossier['id']}", headers=clerk)
        )
        assert [r.status for r in views] == [200] * n, [r.body[:200] for r in views]
        log = server.log()
        assert "Traceback" not in log, log[-3000:]

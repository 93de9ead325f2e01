"""Load test: the service under a realistic mix of citizens, clerks and the public, through
gunicorn, compared in the same run with a hello-world route and a bare insert on the same gunicorn.

Run from the repository root against PostgreSQL (it creates and drops its own database)::

    ONESTOP_TEST_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres \\
        .venv/bin/python tests/bench/load.py [--clients 16,64] [--seconds 60] \\
        [--phase-seconds 15] [--workers 4] [--redis redis://127.0.0.1:6379/0]

For each number of concurrent clients, in this order:

* **ceilings** (``tests/bench/ceiling_app.py`` on a second gunicorn started with the same
  arguments): ``GET /hello`` and ``POST /insert`` (one row, its own transaction), every client
  doing only that for ``--phase-seconds``;
* **one operation alone**, every client doing only it for ``--phase-seconds``: submitting a
  dossier, the public lookup by QR token, a procedure's detail — the figures the targets compare
  with the ceilings (submissions ≥ 50 % of the bare insert, lookups ≥ 50 % of hello-world);
* **the mix** for ``--seconds``: half the clients are citizens (search the catalogue, open a
  procedure, submit a dossier, open it), a quarter clerks of four commune desks (list what was
  submitted to their desk, open one, receive it — which issues and stores the receipt PDF before
  answering), a quarter the public (look a received dossier up by its QR token, or by code and
  check code).

Every client is a thread holding one keep-alive connection (the server may close it after each
reply, as gunicorn's sync workers do; the client then reconnects); the threads are spread over
several processes so that the client's own interpreter lock is not the bottleneck. A client
sends its next request as soon as the last one answered (no think time).

Printed per phase and operation: requests per second, p50 / p99 latency (ms), and the replies
by status. Afterwards the database is checked: every acknowledged submission exists exactly
once, as acknowledged (nothing lost, nothing doubled). Exits 1 on any 5xx, transport error,
lost or doubled dossier.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing as mp
import os
import platform
import random
import secrets
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select, text  # noqa: E402

from onestop.core.db import make_engine  # noqa: E402
from onestop.dossiers.models import Dossier  # noqa: E402
from tests.dbutil import backend, fresh_database  # noqa: E402
from tests.servers import AUDIT_KEYS, add_users, free_port, prepare_database  # noqa: E402

PASSWORD = "Mật-khẩu-tải-thử-2026"  # a throw-away database's accounts
MARRIAGE_STATUS = "1.004873"  # Cấp Giấy xác nhận tình trạng hôn nhân: commune level, online
COMMUNES = ["000.21.01.H56", "000.21.02.H56", "000.21.03.H56", "000.21.04.H56"]
SEARCHES = [
    "dang ky khai sinh",
    "xác nhận tình trạng hôn nhân",
    "khai tu",
    "chứng thực bản sao",
    "đăng ký kết hôn",
    "hộ tịch",
]
MAX_CITIZENS = 16  # clients beyond these share accounts (the limits per account are lifted)
CLERKS_PER_COMMUNE = 2
# The limits that protect the service from one abusive account or address would stop a load
# test from one address at once; the test measures the work behind them.
UNLIMITED = str(10**9)
LIMIT_SETTINGS = [
    "LOOKUP_RATE_LIMIT_PER_MINUTE",
    "LOOKUP_RATE_LIMIT_PER_CODE_PER_MINUTE",
    "DOSSIER_SUBMIT_RATE_LIMIT_PER_ACCOUNT_PER_HOUR",
    "DOSSIER_SUBMIT_RATE_LIMIT_PER_CLIENT_PER_HOUR",
    "DOSSIER_MAX_OPEN_SUBMITTED_PER_CITIZEN",
    "REGISTRATION_RATE_LIMIT_PER_CLIENT_PER_HOUR",
]


def citizen(i: int) -> str:
    return f"congdan{i:02d}.tai"


def clerk(commune: int, i: int) -> str:
    return f"canbo{commune}{i}.tai"


USERS = [
    *[(citizen(i), "Lê Thị Mai", "citizen", ()) for i in range(MAX_CITIZENS)],
    *[
        (clerk(c, i), "Trịnh Văn Nam", "clerk", (code,))
        for c, code in enumerate(COMMUNES)
        for i in range(CLERKS_PER_COMMUNE)
    ],
]


# ---------------------------------------------------------------------------------------------
# Servers


@dataclass
class Gunicorn:
    process: subprocess.Popen[bytes]
    port: int
    log_path: Path

    def stop(self) -> None:
        """SIGTERM the master by its PID (it stops its workers); SIGKILL if it lingers."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(20)


def gunicorn_args(workers: int, threads: int) -> list[str]:
    """The one gunicorn configuration every server of the run uses."""
    worker_class = ["-k", "sync"] if threads == 1 else ["-k", "gthread", "--threads", str(threads)]
    return ["-w", str(workers), *worker_class, "--timeout", "120", "--log-level", "warning"]


def start_gunicorn(app: str, env: dict[str, str], args: list[str], log_dir: Path) -> Gunicorn:
    port = free_port()
    log_path = log_dir / f"gunicorn-{port}.log"
    exe = Path(sys.executable).with_name("gunicorn")
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [str(exe), *args, "-b", f"127.0.0.1:{port}", app],
            cwd=ROOT,
            env={**os.environ, **env},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = Gunicorn(process, port, log_path)
    deadline = time.monotonic() + 240  # workers import the app (and WeasyPrint) on a busy box
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn {app} exited:\n{log_path.read_text(errors='replace')}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            conn.request("GET", "/")
            conn.getresponse().read()
            conn.close()
            return server
        except OSError:
            if time.monotonic() > deadline:
                server.stop()
                raise
            time.sleep(0.2)


# ---------------------------------------------------------------------------------------------
# Client


class Client:
    """One keep-alive connection; reconnects when the server closed it."""

    def __init__(self, port: int, headers: dict[str, str] | None = None) -> None:
        self.port = port
        self.headers = {"Accept": "application/json", **(headers or {})}
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def call(
        self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
    ) -> tuple[int, dict[str, str], bytes]:
        data = None if body is None else json.dumps(body).encode()
        hdrs = {**self.headers, **(headers or {})}
        if data is not None:
            hdrs["Content-Type"] = "application/json"
        for attempt in (1, 2):
            try:
                self.conn.request(method, path, body=data, headers=hdrs)
                resp = self.conn.getresponse()
                payload = resp.read()
                if resp.will_close:
                    self.conn.close()
                return resp.status, {k.lower(): v for k, v in resp.getheaders()}, payload
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                # A kept-alive connection the server had already closed: send again on a new
                # one. Safe for every request here: reads, and writes carrying an
                # Idempotency-Key (a retry replays the first reply) or an If-Match.
                self.conn.close()
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        self.conn.close()


@dataclass
class Tally:
    """What one process saw: latencies and statuses per operation, acknowledged submissions."""

    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    statuses: dict[str, Counter[int]] = field(default_factory=lambda: defaultdict(Counter))
    errors: Counter[str] = field(default_factory=Counter)
    acked: list[tuple[int, str]] = field(default_factory=list)  # (dossier id, applicant name)
    tokens: list[str] = field(default_factory=list)
    codes: list[tuple[str, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, op: str, started: float, status: int, deadline: float) -> None:
        ended = time.perf_counter()
        with self.lock:
            self.statuses[op][status] += 1
            if ended <= deadline:
                self.latencies[op].append((ended - started) * 1000)

    def plain(self) -> dict[str, Any]:
        return {
            "latencies": dict(self.latencies),
            "statuses": {k: dict(v) for k, v in self.statuses.items()},
            "errors": dict(self.errors),
            "acked": self.acked,
            "tokens": self.tokens,
            "codes": self.codes,
        }


def submission_body(name: str, agency: str) -> dict[str, Any]:
    return {
        "procedure_code": MARRIAGE_STATUS,
        "agency_code": agency,
        "channel": "online",
        "applicant": {
            "full_name": name,
            "id_number": "038090001234",
            "birth_date": "1990-04-12",
            "address": "Số 8, phố Lê Hoàn, phường Hạc Thành, tỉnh Thanh Hóa",
        },
    }


def unique_name(tag: str) -> str:
    """An applicant name no other submission of the run has (the database check relies on it)."""
    return f"Nguyễn Văn Tải {tag}"


class Actor:
    """One simulated person, looping on their errand until ``deadline``."""

    def __init__(self, ctx: Context, tally: Tally, rng: random.Random, tag: str) -> None:
        self.ctx, self.tally, self.rng, self.tag = ctx, tally, rng, tag
        self.n = 0

    def timed(self, client: Client, op: str, method: str, path: str, body: Any = None, **kw: Any):
        started = time.perf_counter()
        status, headers, payload = client.call(method, path, body, **kw)
        self.tally.record(op, started, status, self.ctx.deadline)
        return status, headers, payload

    # -- the errands ---------------------------------------------------------------------------

    def submit(self, client: Client) -> dict[str, Any] | None:
        self.n += 1
        name = unique_name(f"{self.tag}-{self.n}")
        agency = self.rng.choice(COMMUNES)
        key = f"load-{self.tag}-{self.n}-{uuid.uuid4().hex[:8]}"
        status, _, payload = self.timed(
            client,
            "submit",
            "POST",
            "/api/v1/dossiers",
            submission_body(name, agency),
            headers={"Idempotency-Key": key},
        )
        if status == 201:
            d = json.loads(payload)
            with self.tally.lock:
                self.tally.acked.append((d["id"], name))
            return d
        return None

    def citizen(self, client: Client) -> None:
        q = self.rng.choice(SEARCHES)
        self.timed(client, "search", "GET", f"/api/v1/procedures?q={quote(q)}&page_size=20")
        self.timed(client, "procedure", "GET", f"/api/v1/procedures/{MARRIAGE_STATUS}")
        d = self.submit(client)
        if d is not None:
            self.timed(client, "own dossier", "GET", f"/api/v1/dossiers/{d['id']}")

    def clerk(self, client: Client) -> None:
        status, _, payload = self.timed(
            client, "clerk list", "GET", "/api/v1/dossiers?state=submitted&page_size=20"
        )
        items = json.loads(payload)["items"] if status == 200 else []
        if not items:
            time.sleep(0.05)
            return
        pick = self.rng.choice(items)
        status, headers, _ = self.timed(
            client, "clerk open", "GET", f"/api/v1/dossiers/{pick['id']}"
        )
        if status != 200:
            return
        status, _, payload = self.timed(
            client,
            "receive",
            "POST",
            f"/api/v1/dossiers/{pick['id']}/receive",
            {},
            headers={"If-Match": headers["etag"]},
        )
        if status == 200:
            d = json.loads(payload)
            with self.tally.lock:
                self.tally.tokens.append(d["lookup_url"].rsplit("/", 1)[1])
                self.tally.codes.append((d["code"], d["check_code"]))

    def public(self, client: Client) -> None:
        if self.rng.random() < 0.7:
            token = self.rng.choice(self.ctx.tokens)
            self.timed(client, "lookup", "GET", f"/api/v1/lookup/by-token/{token}")
        else:
            code, check = self.rng.choice(self.ctx.codes)
            self.timed(client, "lookup by code", "GET", f"/api/v1/lookup?code={code}&check={check}")


@dataclass
class Context:
    """What a client process needs: where, who, and until when."""

    port: int
    deadline: float  # time.perf_counter() value; the process computes it from ``seconds``
    seconds: float
    tokens: list[str]
    codes: list[tuple[str, str]]
    auth: dict[str, str]  # username → bearer token
    phase: str = field(default_factory=lambda: uuid.uuid4().hex[:6])  # keeps names unique


def run_thread(ctx: Context, tally: Tally, role: str, index: int, proc: int) -> None:
    rng = random.Random(f"{role}-{index}-{proc}")
    tag = f"{ctx.phase}{role[:2]}{proc}x{index}"
    actor = Actor(ctx, tally, rng, tag)
    if role in ("citizen", "submit"):
        user = citizen(index % MAX_CITIZENS)
    elif role == "clerk":
        user = clerk(index % len(COMMUNES), (index // len(COMMUNES)) % CLERKS_PER_COMMUNE)
    else:
        user = None
    headers = {"Authorization": f"Bearer {ctx.auth[user]}"} if user else {}
    client = Client(ctx.port, headers)
    try:
        while time.perf_counter() < ctx.deadline:
            try:
                if role == "citizen":
                    actor.citizen(client)
                elif role == "clerk":
                    actor.clerk(client)
                elif role == "public":
                    actor.public(client)
                elif role == "submit":
                    actor.submit(client)
                elif role == "lookup":
                    token = rng.choice(ctx.tokens)
                    actor.timed(client, "lookup", "GET", f"/api/v1/lookup/by-token/{token}")
                elif role == "procedure":
                    actor.timed(client, "procedure", "GET", f"/api/v1/procedures/{MARRIAGE_STATUS}")
                elif role == "hello":
                    actor.timed(client, "hello", "GET", "/hello")
                elif role == "insert":
                    actor.n += 1
                    body = {"name": unique_name(f"{tag}-{actor.n}"), "agency": COMMUNES[0]}
                    actor.timed(client, "insert", "POST", "/insert", body)
            except (OSError, http.client.HTTPException, ValueError, KeyError) as exc:
                with tally.lock:
                    tally.errors[f"{role}: {type(exc).__name__}: {exc}"[:200]] += 1
                client.close()
                time.sleep(0.01)
    finally:
        client.close()


def run_process(ctx: Context, roles: list[tuple[str, int]], proc: int, out: Any) -> None:
    ctx.deadline = time.perf_counter() + ctx.seconds
    tally = Tally()
    threads = [
        threading.Thread(target=run_thread, args=(ctx, tally, role, index, proc))
        for role, index in roles
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    out.put(tally.plain())


def run_phase(
    ctx: Context, roles: list[tuple[str, int]], processes: int
) -> tuple[dict[str, Any], float]:
    """Spread ``roles`` (role, index) over ``processes`` client processes; merge their tallies."""
    mpctx = mp.get_context("fork")
    out = mpctx.Queue()
    groups = [roles[i::processes] for i in range(processes)]
    procs = [
        mpctx.Process(target=run_process, args=(ctx, group, i, out))
        for i, group in enumerate(groups)
        if group
    ]
    started = time.perf_counter()
    for p in procs:
        p.start()
    parts = [out.get(timeout=ctx.seconds + 180) for _ in procs]
    for p in procs:
        p.join(30)
    elapsed = time.perf_counter() - started
    merged: dict[str, Any] = {
        "latencies": defaultdict(list),
        "statuses": defaultdict(Counter),
        "errors": Counter(),
        "acked": [],
        "tokens": [],
        "codes": [],
    }
    for part in parts:
        for op, values in part["latencies"].items():
            merged["latencies"][op].extend(values)
        for op, counts in part["statuses"].items():
            merged["statuses"][op].update({int(k): v for k, v in counts.items()})
        merged["errors"].update(part["errors"])
        merged["acked"].extend(part["acked"])
        merged["tokens"].extend(part["tokens"])
        merged["codes"].extend(part["codes"])
    return merged, elapsed


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


@dataclass
class Line:
    phase: str
    op: str
    rate: float
    p50: float
    p99: float
    statuses: dict[int, int]


def summarize(phase: str, merged: dict[str, Any], seconds: float) -> list[Line]:
    lines = []
    for op in sorted(merged["statuses"]):
        lat = merged["latencies"].get(op, [])
        lines.append(
            Line(
                phase,
                op,
                len(lat) / seconds,
                pct(lat, 50),
                pct(lat, 99),
                dict(sorted(merged["statuses"][op].items())),
            )
        )
    return lines


def show(lines: list[Line], errors: Counter[str]) -> None:
    for ln in lines:
        statuses = ", ".join(f"{k}: {v}" for k, v in ln.statuses.items())
        print(
            f"  {ln.phase:10s} {ln.op:15s} {ln.rate:8.1f} req/s   p50 {ln.p50:7.1f} ms"
            f"   p99 {ln.p99:7.1f} ms   [{statuses}]",
            flush=True,
        )
    for err, n in errors.items():
        print(f"  ERROR ×{n}: {err}", flush=True)


# ---------------------------------------------------------------------------------------------
# Set-up and checks


def login_all(port: int) -> dict[str, str]:
    client = Client(port)
    auth = {}
    for username, *_ in USERS:
        status, _, payload = client.call(
            "POST", "/api/v1/auth/tokens", {"username": username, "password": PASSWORD}
        )
        if status != 201:
            raise RuntimeError(f"login {username}: {status} {payload[:300]!r}")
        auth[username] = json.loads(payload)["token"]
    client.close()
    return auth


def seed_received(
    port: int, auth: dict[str, str], n: int
) -> tuple[list[str], list[tuple[str, str]]]:
    """Submit and receive ``n`` dossiers (also warms every worker's renderer up)."""
    tokens, codes = [], []
    for i in range(n):
        c = Client(port, {"Authorization": f"Bearer {auth[citizen(i % MAX_CITIZENS)]}"})
        ci = i % len(COMMUNES)
        status, _, payload = c.call(
            "POST",
            "/api/v1/dossiers",
            submission_body(unique_name(f"seed-{i}"), COMMUNES[ci]),
            headers={"Idempotency-Key": f"seed-{i}-{uuid.uuid4().hex}"},
        )
        assert status == 201, (status, payload[:300])
        d = json.loads(payload)
        k = Client(port, {"Authorization": f"Bearer {auth[clerk(ci, 0)]}"})
        status, headers, payload = k.call("GET", f"/api/v1/dossiers/{d['id']}")
        assert status == 200, (status, payload[:300])
        status, _, payload = k.call(
            "POST", f"/api/v1/dossiers/{d['id']}/receive", {}, headers={"If-Match": headers["etag"]}
        )
        assert status == 200, (status, payload[:300])
        d = json.loads(payload)
        tokens.append(d["lookup_url"].rsplit("/", 1)[1])
        codes.append((d["code"], d["check_code"]))
        c.close()
        k.close()
    return tokens, codes


def check_dossiers(url: str, acked: list[tuple[int, str]]) -> dict[str, int]:
    """Every acknowledged submission exists exactly once, as acknowledged."""
    engine = make_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(
            select(Dossier.id, Dossier.applicant_name).where(
                Dossier.applicant_name.like(unique_name("%"))
            )
        ).all()
        per_name = Counter(name for _, name in rows)
        by_id = dict(rows)
        total = conn.scalar(select(func.count()).select_from(Dossier))
    engine.dispose()
    acked_ids = Counter(i for i, _ in acked)
    lost = sum(1 for i, name in acked if by_id.get(i) != name)
    doubled = sum(1 for n in per_name.values() if n > 1) + sum(
        1 for n in acked_ids.values() if n > 1
    )
    acked_names = {name for _, name in acked}
    unacked = sum(1 for name in per_name if name not in acked_names and "seed-" not in name)
    return {
        "acknowledged": len(acked),
        "in the database": len(rows),
        "all dossiers": int(total or 0),
        "lost": lost,
        "doubled": doubled,
        "committed without acknowledgement": unacked,
    }


def make_ceiling_table(url: str) -> None:
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(
            text(
                "CREATE TABLE bench_ceiling (id bigserial PRIMARY KEY, name text NOT NULL, "
                "created_at timestamptz NOT NULL, payload json NOT NULL)"
                if backend() == "postgresql"
                else "CREATE TABLE bench_ceiling (id INTEGER PRIMARY KEY, name TEXT NOT NULL, "
                "created_at TEXT NOT NULL, payload TEXT NOT NULL)"
            )
        )
    engine.dispose()


def mix_roles(clients: int) -> list[tuple[str, int]]:
    citizens = clients // 2
    clerks = max(1, clients // 4)
    public = clients - citizens - clerks
    return (
        [("citizen", i) for i in range(citizens)]
        + [("clerk", i) for i in range(clerks)]
        + [("public", i) for i in range(public)]
    )


def machine() -> str:
    load = os.getloadavg()
    return (
        f"{os.cpu_count()} CPUs, {platform.python_implementation()} {platform.python_version()}, "
        f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", default="16,64", help="concurrent clients, comma-separated")
    parser.add_argument("--seconds", type=float, default=60.0, help="length of the mix")
    parser.add_argument("--phase-seconds", type=float, default=15.0, help="ceilings, alone")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers")
    parser.add_argument("--threads", type=int, default=1, help="1: sync workers; >1: gthread")
    parser.add_argument("--processes", type=int, default=4, help="client processes")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0", help="'' for none")
    parser.add_argument("--seed-dossiers", type=int, default=12)
    parser.add_argument("--skip", default="", help="phases to skip, e.g. ceilings,alone")
    args = parser.parse_args()
    clients = [int(c) for c in args.clients.split(",")]
    skip = set(filter(None, args.skip.split(",")))
    if backend() != "postgresql":
        print("note: ONESTOP_TEST_DATABASE_URL is not PostgreSQL; running on SQLite", flush=True)
    gargs = gunicorn_args(args.workers, args.threads)
    print(f"machine: {machine()}", flush=True)
    print(f"gunicorn {' '.join(gargs)}; client processes: {args.processes}", flush=True)
    failed = False
    with tempfile.TemporaryDirectory() as tmp, fresh_database(Path(tmp), "load") as url:
        t0 = time.perf_counter()
        prepare_database(url, add_users(USERS, PASSWORD))
        make_ceiling_table(url)
        env = {
            "ONESTOP_DATABASE_URL": url,
            "ONESTOP_SECRET_KEY": secrets.token_urlsafe(48),
            "ONESTOP_AUDIT_KEYS": AUDIT_KEYS,  # the key the seeded data was signed with
            "ONESTOP_STORAGE_DIR": str(Path(tmp) / "storage"),
            "ONESTOP_REDIS_URL": args.redis,
            "ONESTOP_RATE_LIMIT_KEY_PREFIX": f"onestop-load:{uuid.uuid4().hex}:",
            **{f"ONESTOP_{k}": UNLIMITED for k in LIMIT_SETTINGS},
        }
        if not args.redis:
            del env["ONESTOP_REDIS_URL"]
        service = start_gunicorn("wsgi:app", env, gargs, Path(tmp))
        ceiling = start_gunicorn("tests.bench.ceiling_app:app", env, gargs, Path(tmp))
        acked: list[tuple[int, str]] = []
        all_errors: Counter[str] = Counter()
        results: list[Line] = []
        try:
            print(f"database ready: {time.perf_counter() - t0:.1f} s", flush=True)
            auth = login_all(service.port)
            print(f"logged in: {time.perf_counter() - t0:.1f} s", flush=True)
            tokens, codes = seed_received(service.port, auth, args.seed_dossiers)
            print(f"set-up: {time.perf_counter() - t0:.1f} s", flush=True)
            for n in clients:
                print(f"\n== {n} concurrent clients", flush=True)
                phases: list[tuple[str, int, list[tuple[str, int]], float]] = []
                if "ceilings" not in skip:
                    phases += [
                        ("ceiling", ceiling.port, [("hello", i) for i in range(n)], 0),
                        ("ceiling", ceiling.port, [("insert", i) for i in range(n)], 0),
                    ]
                if "alone" not in skip:
                    phases += [
                        ("alone", service.port, [("submit", i) for i in range(n)], 0),
                        ("alone", service.port, [("lookup", i) for i in range(n)], 0),
                        ("alone", service.port, [("procedure", i) for i in range(n)], 0),
                    ]
                if "mix" not in skip:
                    phases.append(("mix", service.port, mix_roles(n), 1))
                for label, port, roles, is_mix in phases:
                    seconds = args.seconds if is_mix else args.phase_seconds
                    ctx = Context(port, 0.0, 2.0, tokens, codes, auth)
                    warm, _ = run_phase(ctx, roles, min(args.processes, n))  # not counted
                    acked += warm["acked"]
                    ctx = Context(port, 0.0, seconds, tokens, codes, auth)
                    merged, _ = run_phase(ctx, roles, min(args.processes, n))
                    lines = summarize(f"{label} {n}", merged, seconds)
                    show(lines, merged["errors"])
                    results += lines
                    acked += merged["acked"]
                    all_errors.update(merged["errors"])
                    tokens += merged["tokens"]
                    codes += merged["codes"]
        finally:
            service.stop()
            ceiling.stop()
        log = service.log_path.read_text(errors="replace")
        server_errors = sum(1 for ln in log.splitlines() if "Traceback" in ln or "ERROR" in ln)
        check = check_dossiers(url, acked)
    print("\n== summary", flush=True)
    by = {(ln.phase, ln.op): ln for ln in results}
    for n in clients:
        hello, ins = by.get((f"ceiling {n}", "hello")), by.get((f"ceiling {n}", "insert"))
        sub, look = by.get((f"alone {n}", "submit")), by.get((f"alone {n}", "lookup"))
        proc = by.get((f"alone {n}", "procedure"))
        if hello and ins and sub and look and proc:
            for what, mine, ceil, name in (
                ("submissions", sub, ins, "bare insert"),
                ("lookups by token", look, hello, "hello-world"),
                ("procedure detail", proc, hello, "hello-world"),
            ):
                share = mine.rate / ceil.rate
                verdict = "PASS" if share >= 0.5 else "FAIL"
                print(
                    f"{n:3d} clients: {what} {mine.rate:,.0f} req/s = {share:.0%} of "
                    f"{name} {ceil.rate:,.0f} req/s  {verdict} (≥ 50 %)",
                    flush=True,
                )
    fivexx = sum(v for ln in results for k, v in ln.statuses.items() if k >= 500)
    print(f"5xx replies: {fivexx}; transport errors: {sum(all_errors.values())}", flush=True)
    print(f"errors in the service log: {server_errors}", flush=True)
    print("dossiers: " + ", ".join(f"{k} {v}" for k, v in check.items()), flush=True)
    failed = bool(fivexx or all_errors or check["lost"] or check["doubled"])
    print(f"machine at the end: {machine()}", flush=True)
    print("\nFAIL" if failed else "\nPASS (no 5xx, nothing lost or doubled)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

"""A real gunicorn server for tests: fresh migrated database, demo data, free port, stop by PID.

Concurrency, idempotency and crash tests need what the Flask test client cannot give: several
processes, each with its own connection pool, racing on one database.
"""

from __future__ import annotations

import http.client
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flask import Flask

from onestop import create_app
from onestop.core.tx import unit_of_work
from onestop.extensions import db
from tests.dbutil import fresh_database

ROOT = Path(__file__).resolve().parents[1]
# Argon2 at a cheap cost for the seeded accounts: the server verifies with the parameters
# stored in each hash, so logins before a burst stay fast.
CHEAP_HASH = {"time_cost": 1, "memory_cost": 1024, "parallelism": 1}
# The audit key of every server this test process starts (and of the data seeded for it), so
# that a test can verify the audit chains the server wrote.
AUDIT_KEYS = "t1:" + secrets.token_urlsafe(48)
# Likewise one secret key: idempotency replies are sealed under a key derived from it, so a
# server restarted after a crash must hold the same key to replay what the first one stored.
SECRET_KEY = secrets.token_urlsafe(48)


@dataclass(frozen=True)
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


@dataclass
class Server:
    """A running gunicorn master (``pid``) bound to ``host:port``."""

    host: str
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path
    tokens: dict[str, str] = field(default_factory=dict)

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        headers: dict[str, str] | None = None,
        *,
        timeout: float = 60.0,
    ) -> Reply:
        """One HTTP request on its own connection (safe to call from many threads)."""
        conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        try:
            data = None if body is None else json.dumps(body).encode()
            hdrs = {"Accept": "application/json", **(headers or {})}
            if data is not None:
                hdrs["Content-Type"] = "application/json"
            conn.request(method, path, body=data, headers=hdrs)
            resp = conn.getresponse()
            return Reply(resp.status, dict(resp.getheaders()), resp.read())
        finally:
            conn.close()

    def login(self, username: str, password: str) -> dict[str, str]:
        """Bearer headers for ``username`` (one login per user, remembered)."""
        if username not in self.tokens:
            reply = self.request(
                "POST", "/api/v1/auth/tokens", {"username": username, "password": password}
            )
            if reply.status != 201:
                raise AssertionError(f"login {username}: {reply.status} {reply.body[:300]!r}")
            self.tokens[username] = reply.json["token"]
        return {"Authorization": f"Bearer {self.tokens[username]}"}

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def kill(self) -> None:
        """SIGKILL the master and its workers at once, as the OOM killer or ``kill -9`` would:
        no request finishes and nothing is cleaned up. The server runs in its own session, so
        its process group is exactly the master and the workers it forked."""
        if self.process.poll() is None:
            os.killpg(self.pid, signal.SIGKILL)
            self.process.wait(15)

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM the master by its PID (it stops its workers), SIGKILL if it lingers."""
        if self.process.poll() is not None:
            return
        os.kill(self.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.kill(self.pid, signal.SIGKILL)
            self.process.wait(timeout)


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def prepare_database(url: str, seed: Callable[[Flask], None] | None = None) -> None:
    """Migrate ``url``, load the catalogue, the demo agencies and users, then run ``seed``."""
    from onestop.demo import prepare

    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": SECRET_KEY,
            "AUDIT_KEYS": AUDIT_KEYS,
            "DATABASE_URL": url,
            "PASSWORD_HASH_PROFILE": CHEAP_HASH,
        }
    )
    with app.app_context():
        prepare()  # runs onestop.core.migrate.upgrade first
        if seed is not None:
            seed(app)
    db.state(app).engine.dispose()


def add_users(users: list[tuple[str, str, str, tuple[str, ...]]], password: str):
    """A ``seed`` callback creating ``(username, full name, role, agency codes)`` accounts."""

    def seed(app: Flask) -> None:
        from onestop.accounts.services import ensure_accounts
        from onestop.core.clock import now

        with unit_of_work():
            ensure_accounts(db.session, users, password=password, now=now())

    return seed


# Tests that stand for many citizens submitting at once all come from the loopback address and
# submit far more than a person would: they raise the submission limits, which would otherwise
# measure themselves rather than the behaviour under test (tests/dossiers/test_limits.py
# covers the limits).
MANY_CITIZENS_ENV = {
    "ONESTOP_DOSSIER_SUBMIT_RATE_LIMIT_PER_ACCOUNT_PER_HOUR": "100000",
    "ONESTOP_DOSSIER_SUBMIT_RATE_LIMIT_PER_CLIENT_PER_HOUR": "100000",
    "ONESTOP_DOSSIER_MAX_OPEN_SUBMITTED_PER_CITIZEN": "100000",
}


def start_server(
    url: str,
    log_dir: Path,
    *,
    workers: int = 4,
    env: dict[str, str] | None = None,
    ready_timeout: float = 60.0,
    extra_args: tuple[str, ...] = (),
) -> Server:
    """Start gunicorn (sync workers) on a free loopback port and wait until it answers."""
    host, port = "127.0.0.1", free_port()
    log_path = log_dir / f"gunicorn-{port}.log"
    gunicorn = Path(sys.executable).with_name("gunicorn")
    full_env = {
        **os.environ,
        "ONESTOP_DATABASE_URL": url,
        "ONESTOP_SECRET_KEY": SECRET_KEY,
        "ONESTOP_AUDIT_KEYS": AUDIT_KEYS,
        "ONESTOP_STORAGE_DIR": str(log_dir / "storage"),
        **(env or {}),
    }
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [
                str(gunicorn),
                "-w",
                str(workers),
                "-k",
                "sync",
                "-b",
                f"{host}:{port}",
                "--timeout",
                "120",
                "--log-level",
                "warning",
                *extra_args,
                "wsgi:app",
            ],
            cwd=ROOT,
            env=full_env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, for Server.kill()
        )
    server = Server(host, port, process, log_path)
    deadline = time.monotonic() + ready_timeout
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {process.returncode}:\n{server.log()}")
        try:
            # Any HTTP answer will do (401 here): the workers are up and serving.
            server.request("GET", "/api/v1/accounts/me", timeout=2)
            return server
        except OSError as exc:
            if time.monotonic() > deadline:
                server.stop()
                raise RuntimeError(
                    f"gunicorn did not answer in {ready_timeout} s:\n{server.log()}"
                ) from exc
            time.sleep(0.2)


@contextmanager
def running_server(
    tmp_dir: Path,
    *,
    seed: Callable[[Flask], None] | None = None,
    workers: int = 4,
    env: dict[str, str] | None = None,
    extra_args: tuple[str, ...] = (),
) -> Iterator[Server]:
    """A fresh database (SQLite or PostgreSQL, as the suite runs) served by gunicorn."""
    with fresh_database(tmp_dir, "srv") as url:
        prepare_database(url, seed)
        server = start_server(url, tmp_dir, workers=workers, env=env, extra_args=extra_args)
        try:
            yield server
        finally:
            server.stop()

"""Through gunicorn: a huge declared body is refused before it is read, and the metrics of
all workers are added up (Prometheus multiprocess mode)."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest

from onestop.core import migrate
from onestop.core.db import make_engine
from tests.dbutil import fresh_database
from tests.servers import Server, start_server
from tests.test_ops import sample

pytestmark = pytest.mark.slow


def read_reply(sock: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data or not data.rstrip().endswith(b"}"):
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def test_gunicorn_refuses_an_unread_huge_body_and_sums_metrics_over_workers(tmp_path: Path):
    folder = tmp_path / "prometheus"
    folder.mkdir()
    with fresh_database(tmp_path, "ops") as url:
        engine = make_engine(url)
        migrate.upgrade(engine)  # an empty database is enough: no route here needs data
        engine.dispose()
        srv = start_server(
            url,
            tmp_path,
            workers=2,
            env={"PROMETHEUS_MULTIPROC_DIR": str(folder)},
            extra_args=("-c", "python:onestop.gunicorn_conf"),
        )
        try:
            check(srv, folder)
        finally:
            srv.stop()
        log = srv.log()
    assert "Traceback" not in log, log[-2000:]


def check(srv: Server, folder: Path) -> None:
    # 200 MB declared, one byte sent: a server that reads the body waits here for ever.
    started = time.monotonic()
    with socket.create_connection((srv.host, srv.port), timeout=10) as sock:
        sock.sendall(
            b"POST /api/v1/auth/tokens HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/json\r\nContent-Length: 209715200\r\n\r\n{"
        )
        reply = read_reply(sock)
    assert reply.startswith(b"HTTP/1.1 413"), reply[:200]
    assert b'"type":"request.too_large"' in reply
    assert time.monotonic() - started < 5

    for _ in range(20):
        assert srv.request("GET", "/healthz").status == 200
    metrics = srv.request("GET", "/metrics")
    assert metrics.status == 200
    text = metrics.body.decode()
    count = sample(
        text,
        "onestop_http_request_duration_seconds_count",
        method="GET",
        route="/healthz",
        status="200",
    )
    assert count == 20
    assert sample(text, "onestop_database_up") == 1
    assert list(folder.glob("histogram_*.db"))

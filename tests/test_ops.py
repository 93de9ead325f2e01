"""Health, readiness and metrics endpoints, who may read the metrics, and JSON logs."""

from __future__ import annotations

import io
import json
import logging
import re

import pytest
from sqlalchemy import text

from onestop.core import logs
from onestop.core.errors import request_id
from tests.dossiers.helpers import act, make_world, ok, submit


def sample(exposition: str, name: str, **labels: str) -> float:
    """The value of one sample of the Prometheus text format (0 when absent)."""
    want = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in exposition.splitlines():
        m = re.match(r"^(\w+)(?:\{(.*)\})? (\S+)$", line)
        if not m or m.group(1) != name:
            continue
        got = ",".join(sorted((m.group(2) or "").split(","))) if m.group(2) else ""
        if got == want:
            return float(m.group(3))
    return 0.0


def scrape(client) -> str:
    resp = client.get("/metrics")
    assert resp.status_code == 200, resp.get_data(as_text=True)[:300]
    assert resp.headers["Content-Type"].startswith("text/plain")
    return resp.get_data(as_text=True)


def test_healthz_answers_without_the_database(client) -> None:
    resp = client.get("/healthz")
    assert resp.status_code == 200 and resp.json == {"status": "ok"}


def test_readyz_checks_the_database_migrations_and_storage(client, session, app, tmp_path):
    resp = client.get("/readyz")
    assert resp.status_code == 200, resp.json
    assert resp.json["checks"] == {"database": "ok", "storage": "ok"}

    # A database one migration behind (inside the test's transaction, rolled back after).
    previous = session.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
    session.execute(text("UPDATE alembic_version SET version_num = '0001_foundation'"))
    behind = client.get("/readyz")
    assert behind.status_code == 503
    assert "migrations" in behind.json["checks"]["database"]
    session.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": previous})

    blocked = tmp_path / "not-a-folder"
    blocked.write_text("x")
    app.config["STORAGE_DIR"] = str(blocked)
    unwritable = client.get("/readyz")
    assert unwritable.status_code == 503
    assert unwritable.json["checks"]["database"] == "ok"
    assert unwritable.json["checks"]["storage"] != "ok"


def test_metrics_count_requests_dossiers_issuing_and_rate_limits(
    client, session, app, frozen_clock
):
    world = make_world(client, session)
    before = scrape(client)
    route = "/api/v1/dossiers/<int:dossier_id>"
    seen_before = sample(
        before,
        "onestop_http_request_duration_seconds_count",
        method="GET",
        route=route,
        status="200",
    )
    receipts_before = sample(before, "onestop_documents_issued_total", form="01", outcome="issued")
    limited_before = sample(before, "onestop_rate_limit_rejections_total", route="/api/v1/lookup")

    d1 = ok(submit(client, world["citizen"]), 201)
    d2 = ok(submit(client, world["citizen"]), 201)
    ok(act(client, world["clerk_a"], d1["id"], "receive"))  # issues the receipt (form 01)
    ok(client.get(f"/api/v1/dossiers/{d2['id']}", headers=world["citizen"]))
    app.config["LOOKUP_RATE_LIMIT_PER_MINUTE"] = 1
    statuses = [
        client.get("/api/v1/lookup?code=X-260305-0001&check=ABCDEF").status_code for _ in range(3)
    ]
    assert 429 in statuses

    after = scrape(client)
    # Per route template and status, never per URL (an id in a label would grow forever).
    assert (
        sample(
            after,
            "onestop_http_request_duration_seconds_count",
            method="GET",
            route=route,
            status="200",
        )
        >= seen_before + 2
    )  # act() fetches the ETag first
    assert f"/api/v1/dossiers/{d2['id']}" not in after
    assert sample(after, "onestop_dossiers", state="received") == 1
    assert sample(after, "onestop_dossiers", state="submitted") == 1
    assert sample(after, "onestop_dossiers", state="done") == 0
    assert sample(after, "onestop_documents_issued_total", form="01", outcome="issued") == (
        receipts_before + 1
    )
    assert sample(after, "onestop_rate_limit_rejections_total", route="/api/v1/lookup") >= (
        limited_before + statuses.count(429)
    )
    assert sample(after, "onestop_database_up") == 1


def test_scheduler_job_outcomes_are_in_the_metrics(app, client) -> None:
    result = app.test_cli_runner().invoke(
        args=["onestop", "scheduler", "run-job", "purge_idempotency_records"]
    )
    assert result.exit_code == 0, result.output
    out = scrape(client)
    assert (
        sample(out, "onestop_scheduler_job_runs", job="purge_idempotency_records", outcome="done")
        >= 1
    )
    assert (
        sample(
            out,
            "onestop_scheduler_job_last_success_timestamp_seconds",
            job="purge_idempotency_records",
        )
        > 0
    )


def test_metrics_are_refused_to_remote_and_proxied_clients(client) -> None:
    remote = client.get("/metrics", environ_base={"REMOTE_ADDR": "203.0.113.7"})
    assert remote.status_code == 403 and remote.json["type"] == "auth.forbidden"
    relayed = client.get("/metrics", headers={"X-Forwarded-For": "203.0.113.7"})
    assert relayed.status_code == 403


@pytest.mark.parametrize(
    ("sent", "status"),
    [(None, 401), ("Bearer wrong", 401), ("Bearer s3cret-metrics-token", 200)],
)
def test_with_a_metrics_token_only_its_holder_reads_the_metrics(client, app, sent, status):
    app.config["METRICS_TOKEN"] = "s3cret-metrics-token"
    headers = {"Authorization": sent} if sent else {}
    resp = client.get("/metrics", headers=headers, environ_base={"REMOTE_ADDR": "10.1.2.3"})
    assert resp.status_code == status


def test_log_lines_are_json_with_the_request_id(app) -> None:
    stream = io.StringIO()
    handler = logs.make_handler("json", stream)
    logger = logging.getLogger("onestop.test_ops")
    logger.addHandler(handler)
    try:
        with app.test_request_context("/api/v1/procedures"):
            rid = request_id()
            logger.warning("hồ sơ %s chưa phát hành", 7)
        logger.warning("ngoài yêu cầu")
    finally:
        logger.removeHandler(handler)
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert first["request_id"] == rid and first["message"] == "hồ sơ 7 chưa phát hành"
    assert first["level"] == "WARNING" and first["time"].endswith("+00:00")
    assert "request_id" not in second

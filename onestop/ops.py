"""Operations endpoints outside the API: ``/healthz``, ``/readyz`` and ``/metrics``.

They sit at the root, not under ``/api/v1``, and are not in the OpenAPI document: they serve
a load balancer, an orchestrator and a Prometheus server, not integrators (docs/operations.md).
This module is part of the assembly (the top layer of the import contract, next to
``create_app``): it reads dossiers and scheduler runs for the metrics and observes the features'
events to count their outcomes.
"""

from __future__ import annotations

import functools
import hmac
import logging
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any, TypeVar

from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import Blueprint, Flask, Response, current_app, g, jsonify, request
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from onestop.core import events, metrics
from onestop.core.access import bearer_token
from onestop.core.errors import PermissionDenied, Unauthenticated
from onestop.core.migrate import MIGRATIONS_DIR
from onestop.core.scheduling import JobRun
from onestop.documents.events import DocumentIssued
from onestop.dossiers.models import Dossier
from onestop.dossiers.states import State
from onestop.extensions import db

F = TypeVar("F", bound=Callable[..., Any])

log = logging.getLogger(__name__)
blp = Blueprint("ops", __name__)

LOOPBACK = frozenset({"127.0.0.1", "::1"})
METRICS_POLICY = "metrics"


def metrics_reader(view: F) -> F:
    """Who may read ``/metrics``: the holder of ``METRICS_TOKEN`` when it is set (as a bearer
    token); otherwise only a client on this machine, connecting directly (a request relayed by
    a proxy, even a local one, carries ``X-Forwarded-For`` and is refused). Route and status
    counts tell an outsider how the service is used, so they are not public."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        expected = current_app.config.get("METRICS_TOKEN")
        if expected:
            presented = bearer_token() or ""
            if not hmac.compare_digest(presented.encode(), str(expected).encode()):
                raise Unauthenticated(
                    "Cần mã truy cập số liệu giám sát (METRICS_TOKEN).", type="auth.required"
                )
        elif request.remote_addr not in LOOPBACK or (
            "X-Forwarded-For" in request.headers or "Forwarded" in request.headers
        ):
            raise PermissionDenied("Số liệu giám sát chỉ đọc được từ chính máy chủ này.")
        return view(*args, **kwargs)

    wrapper.access_policy = METRICS_POLICY  # type: ignore[attr-defined]
    return wrapper  # type: ignore[return-value]


def _public(view: F) -> F:
    view.access_policy = "public"  # type: ignore[attr-defined]
    return view


@blp.route("/healthz")
@_public
def healthz() -> Response:
    """The process is up and answers; touches nothing else (a liveness probe)."""
    return jsonify({"status": "ok"})


@lru_cache(maxsize=1)
def _migration_heads() -> frozenset[str]:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    return frozenset(ScriptDirectory.from_config(cfg).get_heads())


def _check_database() -> str | None:
    try:
        session = db.session
        session.execute(text("SELECT 1"))
        current = MigrationContext.configure(session.connection()).get_current_heads()
        session.rollback()
    except Exception as exc:
        db.session.rollback()
        return f"unreachable ({type(exc).__name__})"
    if frozenset(current) != _migration_heads():
        return "migrations not at head (run: flask --app wsgi onestop db upgrade)"
    return None


def _check_storage() -> str | None:
    root = Path(current_app.config["STORAGE_DIR"])
    try:
        root.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=".ready-", dir=root)
        os.close(fd)
        os.unlink(name)
    except OSError as exc:
        return f"not writable ({exc.strerror or type(exc).__name__})"
    return None


@blp.route("/readyz")
@_public
def readyz() -> Response:
    """Ready to serve: the database answers and its schema is at the migrations' head, and the
    document store is writable. 503 with the failing check otherwise (a readiness probe)."""
    checks = {"database": _check_database(), "storage": _check_storage()}
    ready = all(v is None for v in checks.values())
    body = {
        "status": "ok" if ready else "unavailable",
        "checks": {k: v or "ok" for k, v in checks.items()},
    }
    resp = jsonify(body)
    resp.status_code = 200 if ready else 503
    return resp


class CurrentState(Collector):
    """Counts read at scrape time with GROUP BY queries (dossiers by state, scheduler runs by
    job and outcome), never maintained by the request path: a scrape every 15 s costs one
    aggregate over the dossiers, which the request path never pays."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        try:
            families = list(self._read(db.session))
        except Exception as exc:
            db.session.rollback()
            log.warning("metrics: database unreadable (%s)", type(exc).__name__)
            families = []
        up = GaugeMetricFamily("onestop_database_up", "Whether the scrape read the database")
        up.add_metric([], 1 if families else 0)
        yield up
        yield from families

    def _read(self, session: Session) -> Iterator[GaugeMetricFamily]:
        dossiers = GaugeMetricFamily(
            "onestop_dossiers", "Dossiers by current state", labels=["state"]
        )
        counts = dict(
            session.execute(select(Dossier.state, func.count()).group_by(Dossier.state)).all()
        )
        for state in State:
            dossiers.add_metric([state.value], counts.get(state.value, 0))
        yield dossiers
        runs = GaugeMetricFamily(
            "onestop_scheduler_job_runs",
            "Scheduler job runs recorded in the database, by job and outcome",
            labels=["job", "outcome"],
        )
        for job, status, n in session.execute(
            select(JobRun.job, JobRun.status, func.count()).group_by(JobRun.job, JobRun.status)
        ):
            runs.add_metric([job, status], n)
        yield runs
        last = GaugeMetricFamily(
            "onestop_scheduler_job_last_success_timestamp_seconds",
            "When each job last finished without error (Unix time)",
            labels=["job"],
        )
        for job, finished in session.execute(
            select(JobRun.job, func.max(JobRun.finished_at))
            .where(JobRun.status == "done")
            .group_by(JobRun.job)
        ):
            if finished is not None:
                last.add_metric([job], finished.timestamp())
        yield last
        session.rollback()


@blp.route("/metrics")
@metrics_reader
def metrics_endpoint() -> Response:
    """Prometheus text format (docs/operations.md lists every metric)."""
    body, content_type = metrics.exposition([CurrentState()])
    resp = Response(body, status=200)
    resp.headers["Content-Type"] = content_type
    resp.headers["Cache-Control"] = "no-store"
    return resp


def start_timer() -> None:
    g.request_started = time.perf_counter()


def observe(resp: Response) -> Response:
    started = g.get("request_started")
    if started is not None:
        route = request.url_rule.rule if request.url_rule is not None else "<unmatched>"
        status = str(resp.status_code)
        metrics.REQUEST_SECONDS.labels(request.method, route, status).observe(
            time.perf_counter() - started
        )
        if resp.status_code == 429:
            metrics.RATE_LIMITED.labels(route).inc()
    return resp


def count_issued(event: DocumentIssued) -> None:
    """After the document's unit of work commits: one more form issued (a rolled-back issue
    is never counted; failures are counted where the issuer catches them)."""
    metrics.DOCUMENTS_ISSUED.labels(event.form_code, "issued").inc()


def init_app(app: Flask) -> None:
    app.register_blueprint(blp)
    events.bus_of(app).subscribe(DocumentIssued, count_issued, phase=events.Phase.AFTER_COMMIT)

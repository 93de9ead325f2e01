"""The scheduling machinery: exactly one process runs periodic jobs, each (job, time) once.

Features declare their jobs (``Job``) in their ``jobs`` module; ``onestop.scheduler`` collects
them. It is started only by ``flask onestop scheduler run`` — never in ``create_app``,
``wsgi.py`` or a gunicorn worker (docs/architecture.md, Processes). Two safeguards make a second
scheduler harmless:

* a **lease** row in the database: only the holder schedules; a second process waits and takes
  over when the holder stops renewing (crash, kill -9);
* a **unique run row** per (job, scheduled time), inserted in its own transaction before the
  job starts: a job already claimed is skipped, so even two holders at once run it once.

APScheduler runs with ``coalesce=True``, ``max_instances=1`` and an explicit
``misfire_grace_time`` (its default of one second silently drops a run that starts late).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from onestop.core.clock import now as clock_now
from onestop.core.db import Base, rowcount
from onestop.core.extensions import db
from onestop.core.tx import unit_of_work

log = logging.getLogger(__name__)

LEASE_NAME = "scheduler"
LEASE_SECONDS = 60
MISFIRE_GRACE_SECONDS = 600


class SchedulerLease(Base):
    __tablename__ = "scheduler_leases"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    holder: Mapped[str] = mapped_column(String(120))
    expires_at: Mapped[datetime]


class JobRun(Base):
    __tablename__ = "job_runs"
    __table_args__ = (UniqueConstraint("job", "scheduled_for"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    job: Mapped[str] = mapped_column(String(60))
    scheduled_for: Mapped[datetime]
    holder: Mapped[str] = mapped_column(String(120))
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    status: Mapped[str] = mapped_column(String(20))  # running | done | failed
    detail: Mapped[str] = mapped_column(String(2000), default="")
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    previous_id: Mapped[int | None] = mapped_column(ForeignKey("job_runs.id"))


@dataclass(frozen=True)
class Job:
    """A periodic job a feature declares. ``run(session, now)`` works in the unit of work the
    runner opens, from the current database state (so it is safe to run twice), and returns a
    one-line summary; ``description`` is Vietnamese, for operators."""

    name: str
    every: timedelta
    run: Callable[[Session, datetime], str]
    description: str


def collect(*declared: list[Job]) -> dict[str, Job]:
    """The job table from each feature's ``JOBS``; two jobs with one name are an error."""
    table: dict[str, Job] = {}
    for jobs in declared:
        for job in jobs:
            if job.name in table:
                raise ValueError(f"two scheduled jobs are named {job.name!r}")
            table[job.name] = job
    return table


def holder_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"


def acquire_lease(
    session: Session, holder: str, *, now: datetime, seconds: int = LEASE_SECONDS
) -> bool:
    """Take or renew the lease; False while another holder's lease is still valid."""
    expires = now + timedelta(seconds=seconds)
    row = session.get(SchedulerLease, LEASE_NAME, with_for_update=True)
    if row is None:
        try:
            with session.begin_nested():
                session.add(SchedulerLease(name=LEASE_NAME, holder=holder, expires_at=expires))
            return True
        except IntegrityError:
            return False
    if row.holder != holder and row.expires_at > now:
        return False
    result = session.execute(
        update(SchedulerLease)
        .where(
            SchedulerLease.name == LEASE_NAME,
            SchedulerLease.holder == row.holder,
            SchedulerLease.expires_at == row.expires_at,
        )
        .values(holder=holder, expires_at=expires)
        .execution_options(synchronize_session=False)
    )
    return rowcount(result) == 1


def release_lease(session: Session, holder: str) -> None:
    session.execute(
        update(SchedulerLease)
        .where(SchedulerLease.name == LEASE_NAME, SchedulerLease.holder == holder)
        .values(expires_at=datetime.fromtimestamp(0).astimezone())
    )


def claim(
    session: Session, job: str, scheduled_for: datetime, holder: str, *, now: datetime
) -> JobRun | None:
    """Insert the run row for (job, time); None when someone already claimed it."""
    existing = session.scalar(
        select(JobRun).where(JobRun.job == job, JobRun.scheduled_for == scheduled_for)
    )
    if existing is not None:
        return None
    run = JobRun(
        job=job, scheduled_for=scheduled_for, holder=holder, started_at=now, status="running"
    )
    try:
        with session.begin_nested():
            session.add(run)
    except IntegrityError:
        return None
    return run


def slot(now: datetime, every: timedelta) -> datetime:
    """The scheduled time ``now`` belongs to: runs are keyed on these fixed slots."""
    step = int(every.total_seconds())
    epoch = int(now.timestamp())
    return datetime.fromtimestamp(epoch - epoch % step, tz=now.tzinfo)


def run_job(job: Job, *, scheduled_for: datetime, holder: str) -> str | None:
    """Claim and run one job in its own units of work (claim, then work). Needs an app context."""
    with unit_of_work():
        run = claim(db.session, job.name, scheduled_for, holder, now=clock_now())
        run_id = run.id if run else None
    if run_id is None:
        log.info("job %s at %s already claimed; skipped", job.name, scheduled_for.isoformat())
        return None
    status, detail = "done", ""
    try:
        with unit_of_work():
            detail = job.run(db.session, clock_now())
    except Exception as exc:
        status, detail = "failed", f"{type(exc).__name__}: {exc}"[:2000]
        log.exception("job %s failed", job.name)
    with unit_of_work():
        db.session.execute(
            update(JobRun)
            .where(JobRun.id == run_id)
            .values(status=status, detail=detail[:2000], finished_at=clock_now())
        )
    log.info("job %s at %s: %s %s", job.name, scheduled_for.isoformat(), status, detail)
    return status


def serve(
    app: Any, jobs: dict[str, Job], *, stop: threading.Event | None = None
) -> None:  # pragma: no cover - loop
    """Run the scheduler until ``stop`` is set (or forever): the ``scheduler run`` command."""
    # Imported here: only the one scheduler process needs APScheduler and its threads.
    from apscheduler.schedulers.background import BackgroundScheduler

    stop = stop or threading.Event()
    holder = holder_id()
    scheduler = BackgroundScheduler(
        timezone="UTC",
        job_defaults={
            "coalesce": True,
            "max_instances": 1,
            "misfire_grace_time": MISFIRE_GRACE_SECONDS,
        },
    )
    leader = threading.Event()

    def tick(job: Job) -> None:
        if not leader.is_set():
            return
        with app.app_context():
            run_job(job, scheduled_for=slot(clock_now(), job.every), holder=holder)

    for job in jobs.values():
        scheduler.add_job(
            tick, "interval", args=[job], seconds=job.every.total_seconds(), id=job.name
        )
    scheduler.start()
    log.info("scheduler %s started with jobs: %s", holder, ", ".join(jobs))
    try:
        while not stop.is_set():
            with app.app_context(), unit_of_work():
                mine = acquire_lease(db.session, holder, now=clock_now())
            if mine and not leader.is_set():
                log.info("scheduler %s holds the lease", holder)
            leader.set() if mine else leader.clear()
            stop.wait(LEASE_SECONDS / 3)
    finally:
        scheduler.shutdown(wait=True)
        with app.app_context(), unit_of_work():
            release_lease(db.session, holder)

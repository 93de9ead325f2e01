"""The scheduler process: collects the jobs features declare and runs them.

Started only by ``flask onestop scheduler run`` — never in ``create_app``, ``wsgi.py`` or a
gunicorn worker (docs/architecture.md, Processes). The lease, the claim of each (job, time) and
the runner are ``onestop.core.scheduling``; this module only assembles the job table. A feature
adds a job by declaring it in its ``jobs`` module's ``JOBS`` and listing that module here.
"""

from __future__ import annotations

import threading
from typing import Any

from onestop.core import audit, idempotency
from onestop.core.scheduling import (
    Job,
    JobRun,
    SchedulerLease,
    acquire_lease,
    claim,
    collect,
    holder_id,
    release_lease,
    run_job,
    slot,
)
from onestop.core.scheduling import serve as _serve
from onestop.documents import jobs as documents_jobs
from onestop.dossiers import jobs as dossiers_jobs

__all__ = [
    "JOBS",
    "Job",
    "JobRun",
    "SchedulerLease",
    "acquire_lease",
    "claim",
    "holder_id",
    "release_lease",
    "run_job",
    "serve",
    "slot",
]

# The job table. Every job is safe to run twice (it works from the current database state).
JOBS: dict[str, Job] = collect(
    dossiers_jobs.JOBS, documents_jobs.JOBS, audit.JOBS, idempotency.JOBS
)


def serve(app: Any, *, stop: threading.Event | None = None) -> None:  # pragma: no cover - loop
    """Run the scheduler with every collected job until ``stop`` is set (or forever)."""
    _serve(app, JOBS, stop=stop)

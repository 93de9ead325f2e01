"""Scheduled jobs of documents: every received dossier ends up with its receipt, whatever crashed
on the way. ``JOBS`` is collected by ``onestop.scheduler``."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from onestop.core import metrics
from onestop.core.scheduling import Job
from onestop.documents import services
from onestop.documents.issuing import base_url, signer_for
from onestop.storage import storage_for

log = logging.getLogger(__name__)

# Each receipt takes 120–200 ms to render and the job runs in one unit of work, which on SQLite
# holds the write lock: a small batch per run keeps clerks' writes waiting at most a few seconds.
BATCH = 10


def issue_missing_documents(session: Session, *, now: datetime, batch: int = BATCH) -> str:
    """Issue the receipt (form 01) of received dossiers that have none; safe to run twice.

    The receipt is normally issued right after the reception commits; this covers a crash (or
    a failed render) between that commit and the render. The receipt is dated at the time of
    receipt, so one issued late reads exactly as one issued on time.
    """
    storage, signer, url = storage_for(), signer_for(), base_url()
    issued = failed = 0
    for d in services.received_without_receipt(session, limit=batch):
        try:
            with session.begin_nested():
                plan = services.receipt_plan(session, d, base_url=url)
                services.issue(session, plan, storage=storage, signer=signer, actor=None, now=now)
            issued += 1
        except Exception:
            failed += 1
            metrics.DOCUMENTS_ISSUED.labels(services.RECEIPT, "failed").inc()
            log.exception("receipt of dossier %s not issued", d.id)
    return f"issued {issued} receipts, {failed} failed"


def _issue_missing_documents(session: Session, now: datetime) -> str:
    return issue_missing_documents(session, now=now)


JOBS = [
    Job(
        "issue_missing_documents",
        timedelta(minutes=2),
        _issue_missing_documents,
        "Phát hành giấy tiếp nhận còn thiếu cho hồ sơ đã tiếp nhận",
    ),
]

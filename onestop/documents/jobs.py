"""Scheduled jobs of documents: every received dossier ends up with its receipt, whatever crashed
on the way. ``JOBS`` is collected by ``onestop.scheduler``."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from onestop.core import metrics
from onestop.core.scheduling import Job
from onestop.documents import services
from onestop.documents.forms import FormValidationError
from onestop.documents.issuing import base_url, signer_for
from onestop.documents.signing import Signer
from onestop.dossiers.models import Dossier
from onestop.storage import Storage, storage_for

log = logging.getLogger(__name__)

# Each receipt takes 120–200 ms to render and the job runs in one unit of work, which on SQLite
# holds the write lock: a small batch per run keeps clerks' writes waiting at most a few seconds.
BATCH = 10
# A receipt that failed is tried again after this long (a fixed font set or a corrected row may
# let it through); meanwhile it is reported and the dossiers after it are served.
RETRY_AFTER = timedelta(hours=6)
# Failures allowed in one run before it stops: most fail while the form data is checked, before
# any render, so they are cheap; the bound keeps a run short whatever the backlog.
MAX_FAILURES = 50


def issue_missing_documents(
    session: Session,
    *,
    now: datetime,
    batch: int = BATCH,
    retry_after: timedelta = RETRY_AFTER,
    max_failures: int = MAX_FAILURES,
) -> str:
    """Issue the receipt (form 01) of received dossiers that have none; safe to run twice.

    The receipt is normally issued right after the reception commits; this covers a crash (or
    a failed render) between that commit and the render. The receipt is dated at the time of
    receipt, so one issued late reads exactly as one issued on time. A dossier whose receipt
    fails is recorded (``document_issue_failures``), reported in the result and left out of
    the next runs for ``retry_after``, so it never holds back the receipts of later dossiers.
    """
    storage, signer, url = storage_for(), signer_for(), base_url()
    issued = 0
    failed: list[int] = []
    # A failed receipt is recorded at once, so the next query leaves it out: the run goes on to
    # the dossiers after it, up to ``batch`` receipts and ``max_failures`` failures.
    while issued < batch and len(failed) < max_failures:
        candidates = services.received_without_receipt(
            session, limit=batch - issued, now=now, retry_after=retry_after
        )
        if not candidates:
            break
        for d in candidates:
            if _issue_receipt(session, d, now=now, url=url, storage=storage, signer=signer):
                issued += 1
            else:
                failed.append(d.id)
    waiting = [
        f.dossier_id
        for f in services.set_aside(session, now=now, retry_after=retry_after)
        if f.form_code == services.RECEIPT and f.dossier_id not in failed
    ]
    report = f"issued {issued} receipts, {len(failed)} failed"
    if failed:
        report += f" (dossiers {', '.join(map(str, failed))})"
    if waiting:
        shown = ", ".join(map(str, waiting[:20])) + (", …" if len(waiting) > 20 else "")
        report += f"; {len(waiting)} set aside after failing (dossiers {shown})"
    return report


def _issue_receipt(
    session: Session,
    d: Dossier,
    *,
    now: datetime,
    url: str,
    storage: Storage,
    signer: Signer | None,
) -> bool:
    """Issue one receipt in a savepoint; on failure record it (outside the savepoint) and log."""
    occasion = services.receipt_occasion(d.id)
    try:
        with session.begin_nested():
            plan = services.receipt_plan(session, d, base_url=url)
            services.issue(session, plan, storage=storage, signer=signer, actor=None, now=now)
            services.clear_failure(session, occasion)
        return True
    except Exception as exc:
        reason = services.failure_reason(exc)
        metrics.DOCUMENTS_ISSUED.labels(services.RECEIPT, "failed").inc()
        services.record_failure(
            session, occasion, dossier_id=d.id, form_code=services.RECEIPT, error=reason, now=now
        )
        if isinstance(exc, FormValidationError):
            # The data, not the code: one line is enough, no traceback.
            log.warning("receipt of dossier %s not issued: %s", d.id, reason)
        else:
            log.exception("receipt of dossier %s not issued", d.id)
        return False


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

"""Issuing the one-stop forms: form data from dossiers, render and sign, store the bytes, record.

Issuing a document is three steps, kept apart so that the slow one holds no database lock:

1. **plan** (reads, in ``plans``): build the validated form data from the dossier, its agency,
   its procedure and its ledger, and name the *occasion* the document is issued for;
2. **produce** (no database): render the PDF (~120–200 ms) and sign it when a certificate is
   configured;
3. **record** (writes): put the bytes in the content-addressed store (written and fsynced
   before the row that references them commits), insert the
   ``IssuedDocument`` row and the ``document.issued`` audit event, and emit ``DocumentIssued``
   (``events``; its after-commit observers count issued forms).

Services flush, never commit; the actor, the time, the store, the signer and the public base
URL are keyword arguments. Dossiers are loaded through ``get_dossier``/``scope`` wherever a
person asks; the after-commit issuing and the repair job act for the system and load by id.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, exists, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from onestop.agencies.models import Agency
from onestop.core import audit, events
from onestop.core.access import Principal, Role
from onestop.core.errors import NotFound
from onestop.documents.events import DocumentIssued
from onestop.documents.forms import FormData, FormValidationError
from onestop.documents.models import IssuedDocument, IssueFailure

# The plans live in ``plans``; re-exported here, where callers have always found them.
from onestop.documents.plans import (
    CITIZEN_FORMS,
    CITIZEN_NOTICES,
    CONTROL_SLIP,
    FORM_ON,
    RECEIPT,
    REGISTER,
    TITLES,
    Plan,
    control_slip_plan,
    find,
    receipt_occasion,
    receipt_plan,
    register_plan,
    transition_occasion,
    transition_plan,
)
from onestop.documents.render import render_form
from onestop.documents.signing import Signer
from onestop.dossiers.models import Dossier
from onestop.dossiers.services import get_dossier
from onestop.storage import Storage, relative_path

__all__ = [
    "CITIZEN_FORMS",
    "CITIZEN_NOTICES",
    "CONTROL_SLIP",
    "FORM_ON",
    "RECEIPT",
    "REGISTER",
    "TITLES",
    "Plan",
    "control_slip_plan",
    "find",
    "receipt_occasion",
    "receipt_plan",
    "register_plan",
    "transition_occasion",
    "transition_plan",
]


@dataclass(frozen=True)
class Produced:
    """A rendered (and maybe signed) PDF, ready to store."""

    form_code: str
    pdf: bytes
    sha256: str
    template_version: str
    snapshot: dict[str, Any]
    signed: bool


@dataclass(frozen=True)
class Verification:
    """What the public verification reveals about an issued document: no personal data."""

    sha256: str
    form_code: str
    form_title: str
    dossier_code: str | None
    agency_code: str
    agency_name: str
    issued_at: datetime
    signed: bool
    superseded: bool


# ---- produce and record ------------------------------------------------------------------------


def produce(form: FormData, *, signer: Signer | None = None) -> Produced:
    """Render the form, and sign it when a signer is given (no database involved)."""
    rendered = render_form(form)
    pdf = signer.sign(rendered.pdf) if signer is not None else rendered.pdf
    return Produced(
        form_code=rendered.form_code,
        pdf=pdf,
        sha256=hashlib.sha256(pdf).hexdigest(),
        template_version=rendered.template_version,
        snapshot=rendered.snapshot,
        signed=signer is not None,
    )


def record(
    session: Session,
    plan: Plan,
    produced: Produced,
    *,
    storage: Storage,
    actor: Principal | None,
    now: datetime,
    request_id: str | None = None,
) -> IssuedDocument:
    """Store the bytes, then insert the row and the audit event (flushes, never commits).

    If the occasion was already issued (a retry, the repair job racing the after-commit
    issuing) the existing document is returned and nothing else is written but, at most, an
    unreferenced blob, which is harmless in a content-addressed store.
    """
    found = find(session, plan.occasion)
    if found is not None:
        return found
    blob = storage.put(produced.pdf)  # durable before the row that refers to it commits
    doc = IssuedDocument(
        dossier_id=plan.dossier_id,
        agency_id=plan.agency_id,
        form_code=produced.form_code,
        template_version=produced.template_version,
        occasion=plan.occasion,
        sha256=blob.sha256,
        size=blob.size,
        storage_key=relative_path(blob.sha256),
        snapshot=produced.snapshot,
        issued_at=now,
        issued_by_id=actor.user_id if actor is not None else None,
        signed=produced.signed,
        supersedes_id=plan.supersedes_id,
    )
    try:
        with session.begin_nested():
            session.add(doc)
    except IntegrityError:
        # Issued meanwhile for this occasion, or the very same bytes already issued (the
        # store and the row are keyed by their hash): either way that document stands.
        found = find(session, plan.occasion) or session.scalar(
            select(IssuedDocument).where(IssuedDocument.sha256 == blob.sha256)
        )
        if found is None:
            raise
        return found
    audit.record(
        session,
        actor=actor,
        action="document.issued",
        stream=f"document:{doc.id}",
        agency_id=plan.agency_id,
        now=now,
        request_id=request_id,
        # Never the snapshot: it holds personal data.
        data={
            "dossier_id": plan.dossier_id,
            "form_code": doc.form_code,
            "template_version": doc.template_version,
            "sha256": doc.sha256,
            "signed": doc.signed,
        },
    )
    events.emit(
        session,
        DocumentIssued(
            document_id=doc.id,
            dossier_id=doc.dossier_id,
            agency_id=doc.agency_id,
            form_code=doc.form_code,
        ),
    )
    return doc


def issue(
    session: Session,
    plan: Plan,
    *,
    storage: Storage,
    signer: Signer | None,
    actor: Principal | None,
    now: datetime,
    request_id: str | None = None,
) -> IssuedDocument:
    """Plan already made: produce and record in the caller's transaction (jobs, tests)."""
    found = find(session, plan.occasion)
    if found is not None:
        return found
    produced = produce(plan.form, signer=signer)
    return record(
        session, plan, produced, storage=storage, actor=actor, now=now, request_id=request_id
    )


# ---- reading -----------------------------------------------------------------------------------


def _visible(stmt: Any, actor: Principal) -> Any:
    if actor.role == Role.CITIZEN:
        return stmt.where(IssuedDocument.form_code.in_(sorted(CITIZEN_FORMS)))
    return stmt


def list_for_dossier(
    session: Session, dossier_id: int, *, actor: Principal
) -> tuple[Dossier, list[IssuedDocument]]:
    """The documents of a dossier the actor may see (404 when the dossier is not theirs)."""
    d = get_dossier(session, dossier_id, actor=actor)
    stmt = select(IssuedDocument).where(IssuedDocument.dossier_id == d.id)
    return d, list(session.scalars(_visible(stmt, actor).order_by(IssuedDocument.id)))


def get_for_dossier(
    session: Session, dossier_id: int, document_id: int, *, actor: Principal
) -> tuple[Dossier, IssuedDocument]:
    d = get_dossier(session, dossier_id, actor=actor)
    stmt = select(IssuedDocument).where(
        IssuedDocument.id == document_id, IssuedDocument.dossier_id == d.id
    )
    doc = session.scalar(_visible(stmt, actor))
    if doc is None:
        raise NotFound("Không tìm thấy văn bản.", type="document.not_found")
    return d, doc


def get_register(session: Session, document_id: int, *, actor: Principal) -> IssuedDocument:
    """A register (form 07) of one of the actor's agencies; 404 otherwise."""
    doc = session.scalar(
        select(IssuedDocument).where(
            IssuedDocument.id == document_id,
            IssuedDocument.dossier_id.is_(None),
            IssuedDocument.agency_id.in_(sorted(actor.agency_ids)),
        )
    )
    if doc is None or actor.role not in (Role.CLERK, Role.MANAGER):
        raise NotFound("Không tìm thấy văn bản.", type="document.not_found")
    return doc


def verify(session: Session, sha256: str) -> Verification | None:
    """Whether this service issued a document with these bytes, without personal data."""
    row = session.execute(
        select(IssuedDocument, Agency.code, Agency.name, Dossier.code)
        .join(Agency, Agency.id == IssuedDocument.agency_id)
        .outerjoin(Dossier, Dossier.id == IssuedDocument.dossier_id)
        .where(IssuedDocument.sha256 == sha256)
    ).first()
    if row is None:
        return None
    doc, agency_code, agency_name, dossier_code = row
    superseded = session.scalar(select(exists().where(IssuedDocument.supersedes_id == doc.id)))
    return Verification(
        sha256=doc.sha256,
        form_code=doc.form_code,
        form_title=TITLES[doc.form_code],
        dossier_code=dossier_code,
        agency_code=agency_code,
        agency_name=agency_name,
        issued_at=doc.issued_at,
        signed=doc.signed,
        superseded=bool(superseded),
    )


def received_without_receipt(
    session: Session, *, limit: int, now: datetime, retry_after: timedelta
) -> list[Dossier]:
    """Received dossiers that have no receipt yet (a crash between commit and render), oldest
    first, leaving out those whose receipt failed less than ``retry_after`` ago: a receipt that
    cannot be produced must not hold back the ones after it."""
    has_receipt = exists().where(
        IssuedDocument.dossier_id == Dossier.id, IssuedDocument.form_code == RECEIPT
    )
    failed_recently = exists().where(
        IssueFailure.dossier_id == Dossier.id,
        IssueFailure.form_code == RECEIPT,
        IssueFailure.last_failed_at > now - retry_after,
    )
    return list(
        session.scalars(
            select(Dossier)
            .where(
                Dossier.received_at.is_not(None),
                Dossier.code.is_not(None),
                ~has_receipt,
                ~failed_recently,
            )
            .order_by(Dossier.id)
            .limit(limit)
        )
    )


def set_aside(session: Session, *, now: datetime, retry_after: timedelta) -> list[IssueFailure]:
    """Documents whose last attempt failed less than ``retry_after`` ago, oldest first."""
    return list(
        session.scalars(
            select(IssueFailure)
            .where(IssueFailure.last_failed_at > now - retry_after)
            .order_by(IssueFailure.dossier_id)
        )
    )


def failure_reason(exc: BaseException) -> str:
    """Why a document could not be issued, in one line and without personal data: the form
    field and the rule it broke (a code point, a length), or only the kind of error."""
    if isinstance(exc, FormValidationError):
        return f"{exc.field}: {exc.message}"[:500]
    return type(exc).__name__


def record_failure(
    session: Session,
    plan_occasion: str,
    *,
    dossier_id: int,
    form_code: str,
    error: str,
    now: datetime,
) -> IssueFailure:
    """Note (or count again) a failed attempt to issue the document of ``plan_occasion``."""
    row = session.scalar(select(IssueFailure).where(IssueFailure.occasion == plan_occasion))
    if row is None:
        row = IssueFailure(
            occasion=plan_occasion,
            dossier_id=dossier_id,
            form_code=form_code,
            attempts=1,
            first_failed_at=now,
            last_failed_at=now,
            error=error,
        )
        session.add(row)
    else:
        row.attempts += 1
        row.last_failed_at = now
        row.error = error
    session.flush()
    return row


def clear_failure(session: Session, occasion: str) -> None:
    session.execute(delete(IssueFailure).where(IssueFailure.occasion == occasion))

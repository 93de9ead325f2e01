"""Issuing forms after the transitions that call for them, and the settings issuing needs.

Forms are issued after the transition has committed (an after-commit handler of the dossier
events): the render takes 120–200 ms and must not hold the database write lock (SQLite) or the
dossier's transaction open that long. A crash between the commit and the render leaves a
received dossier without its receipt; the scheduler job in ``jobs.py`` issues it. Text the form
cannot print is refused before the commit, by an in-transaction handler.
"""

from __future__ import annotations

import logging
import re

from flask import Flask, current_app
from sqlalchemy.orm import Session

from onestop.core import events, metrics
from onestop.core.access import Principal
from onestop.core.clock import now
from onestop.core.errors import RuleViolation
from onestop.core.tx import unit_of_work
from onestop.documents import services
from onestop.documents.forms import FormValidationError
from onestop.documents.models import IssuedDocument
from onestop.documents.services import Plan
from onestop.documents.signing import Signer
from onestop.dossiers.attachments import StorageUnavailable
from onestop.dossiers.events import Transitioned
from onestop.dossiers.models import Dossier
from onestop.dossiers.states import Action
from onestop.extensions import db
from onestop.storage import StorageError, storage_for

log = logging.getLogger(__name__)


# ---- settings at the boundary ------------------------------------------------------------------


def signer_for(app: Flask | None = None) -> Signer | None:
    """The agency's signer when ``SIGNING_PKCS12_PATH`` is set, loaded once per application."""
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    key = "onestop.signer"
    if key not in app.extensions:
        path = app.config.get("SIGNING_PKCS12_PATH")
        app.extensions[key] = (
            Signer.from_pkcs12(path, app.config.get("SIGNING_PKCS12_PASSWORD")) if path else None
        )
    return app.extensions[key]


def base_url() -> str:
    return str(current_app.config["PUBLIC_BASE_URL"])


def produce_and_record(
    session: Session, plan: Plan, *, actor: Principal | None, rid: str | None
) -> IssuedDocument:
    """Render outside any transaction, then store and record in a unit of work of its own."""
    existing = services.find(session, plan.occasion)
    if existing is not None:
        return existing
    session.rollback()  # end the read snapshot: nothing is held while the PDF renders
    produced = services.produce(plan.form, signer=signer_for())
    try:
        with unit_of_work():
            return services.record(
                session,
                plan,
                produced,
                storage=storage_for(),
                actor=actor,
                now=now(),
                request_id=rid,
            )
    except StorageError as exc:
        raise StorageUnavailable() from exc


# ---- issuing after transitions -----------------------------------------------------------------


def _issue_after_commit(
    dossier_id: int, action: Action, version: int, actor: Principal | None, rid: str | None
) -> None:
    session = db.session
    try:
        # The system issues on the actor's behalf, after the actor's own scoped transition.
        d = session.get(Dossier, dossier_id)
        if d is None:  # pragma: no cover - the transition just committed it
            return
        plan = services.transition_plan(session, d, action, version=version, base_url=base_url())
        if plan is not None:
            produce_and_record(session, plan, actor=actor, rid=rid)
    except Exception:
        # The transition has committed and its response must not fail: the scheduler job
        # issues missing receipts, and every form can be issued again on demand.
        session.rollback()
        metrics.DOCUMENTS_ISSUED.labels(services.FORM_ON[action], "failed").inc()
        log.exception(
            "form %s of dossier %s not issued after %s",
            services.FORM_ON[action],
            dossier_id,
            action.value,
        )


# Form fields (root of the field path) filled from the transition's own request, and the
# request field each comes from.
_REQUEST_TEXT = {"reason": "reason", "reasons": "reason", "items": "missing"}


def _refuse_unprintable_request_text(session: Session, d: Dossier, action: Action) -> None:
    """Before the transition commits: a reason or list of missing papers the form cannot print
    (a character the bundled fonts lack) is a 422. Committed, it would leave the dossier
    without its statutory notice (forms 02–05, Circular 01/2018/TT-VPCP), and every later
    attempt to issue it would fail the same way."""
    try:
        services.transition_plan(session, d, action, version=d.version, base_url=base_url())
    except FormValidationError as exc:
        name = _REQUEST_TEXT.get(re.split(r"[.\[]", exc.field)[0])
        if name is not None:
            raise RuleViolation(
                f"Nội dung không in được lên biểu mẫu: {exc.message}.",
                type="document.unprintable_text",
                errors={"json": {name: [exc.message]}},
            ) from exc
    except Exception:  # noqa: S110 - anything else is logged by the issue after the commit
        pass


def refuse_unprintable(session: Session, event: Transitioned) -> None:
    """In the transition's transaction: refuse text the form it calls for cannot print."""
    code = services.FORM_ON.get(event.action)
    if code is None or code not in services.CITIZEN_NOTICES:
        return
    d = session.get(Dossier, event.dossier_id)
    if d is not None:
        _refuse_unprintable_request_text(session, d, event.action)


def issue_after_transition(event: Transitioned) -> None:
    """After the transition commits: issue the form it calls for (whoever fired it: a view,
    the command line, a scheduler job)."""
    if event.action not in services.FORM_ON:
        return
    _issue_after_commit(
        event.dossier_id, event.action, event.version, event.actor, event.request_id
    )


def init_app(app: Flask) -> None:
    """Issue forms on the dossier transitions that call for them."""
    bus = events.bus_of(app)
    bus.subscribe(Transitioned, refuse_unprintable, phase=events.Phase.IN_TRANSACTION)
    bus.subscribe(Transitioned, issue_after_transition, phase=events.Phase.AFTER_COMMIT)

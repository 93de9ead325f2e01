"""``/api/v1/dossiers``: submission, the transitions, detail, list, timeline and control slip."""

from __future__ import annotations

from typing import Any

from flask import current_app, request
from sqlalchemy import select

from onestop.accounts.models import User
from onestop.agencies.models import Agency
from onestop.core import audit, ratelimit
from onestop.core.access import Principal, Role, access, client_address, require_principal
from onestop.core.clock import now
from onestop.core.errors import PreconditionRequired, request_id
from onestop.core.idempotency import idempotent
from onestop.core.pagination import paginate
from onestop.core.ratelimit import client_bucket
from onestop.core.text import fold
from onestop.core.tx import unit_of_work
from onestop.dossiers import presenters, quotas, services
from onestop.dossiers.models import Dossier, DossierEvent, Handover
from onestop.dossiers.schemas import (
    DossierCreateSchema,
    DossierListArgsSchema,
    DossierPageSchema,
    DossierSchema,
    HandoverSchema,
    TimelineSchema,
    action_schema,
)
from onestop.dossiers.states import TRANSITIONS, Action, State
from onestop.extensions import Blueprint, db

blp = Blueprint("dossiers", __name__, url_prefix="/api/v1/dossiers", description="Hồ sơ (dossiers)")


def present(d: Dossier, actor: Principal) -> dict[str, Any]:
    """The dossier as this actor may see it (``presenters.present`` at this request's time)."""
    return presenters.present(
        db.session,
        d,
        actor,
        now=now(),
        public_base_url=current_app.config["PUBLIC_BASE_URL"],
    )


def _header(name: str, required: bool, description: str, **schema: object) -> dict[str, object]:
    return {
        "in": "header",
        "name": name,
        "required": required,
        "description": description,
        "schema": {"type": "string", **schema},
    }


IDEMPOTENCY_KEY_DOC = (
    "A random string per intended operation; a retry with the same key and body replays the "
    "first reply."
)
IF_MATCH_DOC = "The dossier's ETag, as last read (GET /api/v1/dossiers/{id})."


Reply = tuple[dict[str, Any], int, dict[str, str]]


def _with_etag(d: Dossier, body: dict[str, Any], status: int = 200) -> Reply:
    return body, status, {"ETag": services.etag(d)}


def _submission_limits() -> list[ratelimit.Limit]:
    """Online submissions per citizen account and per client address, per hour. Staff entering
    paper dossiers at the desk are not limited: they work from a few shared addresses."""
    actor = require_principal()
    if actor.role != Role.CITIZEN:
        return []
    cfg = current_app.config
    return [
        ratelimit.Limit(
            f"dossiers:submit:account:{actor.user_id}",
            int(cfg["DOSSIER_SUBMIT_RATE_LIMIT_PER_ACCOUNT_PER_HOUR"]),
            window_seconds=3600,
        ),
        ratelimit.Limit(
            f"dossiers:submit:client:{client_bucket(client_address())}",
            int(cfg["DOSSIER_SUBMIT_RATE_LIMIT_PER_CLIENT_PER_HOUR"]),
            window_seconds=3600,
        ),
    ]


@blp.route("", methods=["POST"])
@access.authenticated
@blp.arguments(DossierCreateSchema)
# Counted once the body is well-formed (a citizen correcting a typo spends nothing) and before
# the unit of work that @idempotent opens.
@ratelimit.limited(
    _submission_limits,
    message="Quá nhiều hồ sơ được nộp trong thời gian ngắn; vui lòng thử lại sau.",
    type="dossier.rate_limited",
)
@idempotent(required=True)
@blp.doc(parameters=[_header("Idempotency-Key", True, IDEMPOTENCY_KEY_DOC, maxLength=100)])
@blp.response(201, DossierSchema)
@blp.alt_response(400, description="Idempotency-Key missing")
@blp.alt_response(403, description="Outside the clerk's agencies")
@blp.alt_response(
    422, description="Invalid data, procedure not offered here, key reused, too many waiting"
)
@blp.alt_response(429, description="Too many submissions from this account or client")
def create_dossier(data: dict[str, Any]) -> Reply:
    """Submit a dossier: a citizen online, or a clerk for a dossier brought to the desk or by post.

    Requires an `Idempotency-Key` header: retrying with the same key and body returns the first
    response; the same key with another body is refused.

    A citizen submits at most `DOSSIER_SUBMIT_RATE_LIMIT_PER_ACCOUNT_PER_HOUR` dossiers an hour
    (and a client address `DOSSIER_SUBMIT_RATE_LIMIT_PER_CLIENT_PER_HOUR`), 429 with
    `Retry-After` beyond; and while `DOSSIER_MAX_OPEN_SUBMITTED_PER_CITIZEN` of theirs wait to be
    received, a new one is refused (422 `dossier.too_many_open`).
    """
    actor = require_principal()
    quotas.check_open_submissions(
        db.session, actor, limit=int(current_app.config["DOSSIER_MAX_OPEN_SUBMITTED_PER_CITIZEN"])
    )
    applicant = services.Applicant(**data.pop("applicant"))
    d = services.submit(
        db.session,
        services.Submission(applicant=applicant, **data),
        actor=actor,
        now=now(),
        request_id=request_id(),
    )
    body, status, headers = _with_etag(d, present(d, actor), 201)
    headers["Location"] = f"/api/v1/dossiers/{d.id}"
    return body, status, headers


@blp.route("")
@access.authenticated
@blp.arguments(DossierListArgsSchema, location="query")
@blp.response(200, DossierPageSchema)
def list_dossiers(args: dict[str, Any]) -> dict[str, Any]:
    """Dossiers the caller may see: their own (citizens) or their agencies' (staff)."""
    actor = require_principal()
    stmt = services.scope(select(Dossier), actor).order_by(Dossier.id.desc())
    if args.get("state"):
        stmt = stmt.where(Dossier.state == args["state"].value)
    if args.get("procedure"):
        stmt = stmt.where(Dossier.procedure_code == args["procedure"])
    if args.get("code"):
        stmt = stmt.where(Dossier.code == args["code"])
    if args.get("q"):
        stmt = stmt.where(Dossier.applicant_name_search.contains(fold(args["q"]), autoescape=True))
    page = paginate(db.session, stmt, args["page"], args["page_size"])
    page["items"] = [
        {
            "id": d.id,
            "code": d.code,
            "submission_no": d.submission_no,
            "state": d.state,
            "state_label": State(d.state).label,
            "procedure_code": d.procedure_code,
            "applicant_name": d.applicant_name,
            "received_at": d.received_at,
            "legal_due_at": d.legal_due_at,
        }
        for d in page["items"]
    ]
    return page


@blp.route("/<int:dossier_id>")
@access.authenticated
@blp.response(200, DossierSchema)
@blp.alt_response(404, description="No such dossier, or not yours to see")
def get_dossier(dossier_id: int) -> Reply:
    """One dossier, with its clock and on-time verdict; the `ETag` header is the value to send
    in `If-Match` with a transition. Staff reads of personal data are recorded in the audit
    trail."""
    actor = require_principal()
    with unit_of_work():
        d = services.get_dossier(db.session, dossier_id, actor=actor)
        if actor.is_staff:
            audit.record(
                db.session,
                actor=actor,
                action="dossier.viewed",
                stream=f"dossier:{d.id}",
                agency_id=d.agency_id,
                now=now(),
                request_id=request_id(),
            )
    return _with_etag(d, present(d, actor))


def _make_transition_view(action: Action) -> None:
    edge = TRANSITIONS[action]
    schema = action_schema(action)

    def view(data: dict[str, Any], dossier_id: int) -> Reply:
        actor = require_principal()
        header = request.headers.get("If-Match")
        if not header:
            raise PreconditionRequired(
                "Thiếu tiêu đề If-Match: gửi ETag của hồ sơ để tránh ghi đè thao tác của người "
                "khác.",
                type="dossier.if_match_required",
            )
        session = db.session
        current = services.get_dossier(session, dossier_id, actor=actor)
        expected = services.parse_if_match(header, current)
        d = services.transition(
            session,
            dossier_id,
            action,
            actor=actor,
            expected_version=expected,
            now=now(),
            params=data,
            request_id=request_id(),
        )
        return _with_etag(d, present(d, actor))

    view.__name__ = f"dossier_{action.value}"
    view.__doc__ = (
        f"{edge.label}.\n\nAllowed from: {', '.join(sorted(s.value for s in edge.sources))}; "
        f"roles: {', '.join(sorted(r.value for r in edge.roles))}. Requires `If-Match` with the "
        "dossier's ETag (428 without it, 412 when stale, 409 when the state has moved on); "
        "accepts an `Idempotency-Key`."
    )
    decorated = blp.arguments(schema)(view)
    decorated = blp.response(200, DossierSchema)(decorated)
    decorated = blp.doc(
        parameters=[
            _header("If-Match", True, IF_MATCH_DOC, maxLength=100),
            _header("Idempotency-Key", False, IDEMPOTENCY_KEY_DOC, maxLength=100),
        ]
    )(decorated)
    for code, text in (
        (404, "No such dossier, or not yours"),
        (409, "The dossier is not in a state that allows this"),
        (412, "If-Match does not match the current version"),
        (428, "If-Match missing"),
    ):
        decorated = blp.alt_response(code, description=text)(decorated)
    decorated = idempotent(required=False)(decorated)
    roles = tuple(sorted(edge.roles))
    decorated = access.roles(*roles)(decorated)
    blp.route(f"/<int:dossier_id>/{action.value.replace('_', '-')}", methods=["POST"])(decorated)


for _action in Action:
    if _action != Action.SUBMIT:
        _make_transition_view(_action)


@blp.route("/<int:dossier_id>/timeline")
@access.authenticated
@blp.response(200, TimelineSchema)
@blp.alt_response(404, description="No such dossier, or not yours")
def timeline(dossier_id: int) -> dict[str, Any]:
    """What happened to the dossier, in Vietnamese, oldest first."""
    actor = require_principal()
    d = services.get_dossier(db.session, dossier_id, actor=actor)
    events = db.session.scalars(
        select(DossierEvent)
        .where(
            DossierEvent.dossier_id == d.id,
            DossierEvent.kind.in_(("transition", "reprojected")),
        )
        .order_by(DossierEvent.seq)
    ).all()
    entries = presenters.timeline_entries(db.session, d, events)
    return {"code": d.code, "entries": entries}


@blp.route("/<int:dossier_id>/handovers")
@access.roles(Role.CLERK, Role.MANAGER)
@blp.response(200, HandoverSchema(many=True))
@blp.alt_response(404, description="No such dossier, or not yours")
def handovers(dossier_id: int) -> list[dict[str, Any]]:
    """The control slip: each handover between units, with step deadlines and results."""
    actor = require_principal()
    d = services.get_dossier(db.session, dossier_id, actor=actor)
    rows = db.session.scalars(
        select(Handover).where(Handover.dossier_id == d.id).order_by(Handover.seq)
    ).all()
    ids = {r.from_unit_id for r in rows} | {r.to_unit_id for r in rows}
    units = dict(db.session.execute(select(Agency.id, Agency.code).where(Agency.id.in_(ids))).all())
    user_ids = {r.handed_by_id for r in rows} | {r.accepted_by_id for r in rows if r.accepted_by_id}
    users = dict(
        db.session.execute(select(User.id, User.username).where(User.id.in_(user_ids))).all()
    )
    return [
        {
            "seq": r.seq,
            "from_unit": units[r.from_unit_id],
            "to_unit": units[r.to_unit_id],
            "handed_at": r.handed_at,
            "handed_by": users[r.handed_by_id],
            "accepted_at": r.accepted_at,
            "accepted_by": users.get(r.accepted_by_id) if r.accepted_by_id else None,
            "step_code": r.step_code,
            "step_name": r.step_name,
            "step_due_at": r.step_due_at,
            "step_result": r.step_result,
        }
        for r in rows
    ]

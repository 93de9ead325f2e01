"""Dossier use cases: submission and the one transition function; flushes, never commits.

Every change goes through :func:`transition`: it checks the table, the actor's role and scope,
the expected version and the procedure's clock policy, writes the new state with a conditional
UPDATE (``WHERE id = ? AND version = ? AND state = ?``), and appends the clock-ledger events and
the audit event in the same transaction.
"""

from __future__ import annotations

import secrets
import string
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, exists, false, func, or_, select, update
from sqlalchemy.orm import Session

from onestop.accounts.models import User
from onestop.agencies.services import get_by_code
from onestop.core import audit, events
from onestop.core.access import Principal, Role
from onestop.core.clock import VN_TZ
from onestop.core.db import rowcount
from onestop.core.errors import (
    Conflict,
    NotFound,
    PermissionDenied,
    PreconditionFailed,
    RuleViolation,
)
from onestop.core.text import fold
from onestop.dossiers import procedures
from onestop.dossiers.events import Received, Submitted, Transitioned
from onestop.dossiers.handlers import HANDLERS
from onestop.dossiers.models import Dossier, DossierEvent, Handover
from onestop.dossiers.states import TRANSITIONS, Action, Channel, Edge, Place, State
from onestop.worktime import Duration, TimeUnit

# ---- scope (docs/security.md decision 1: authorization lives in the query) --------------------


def scope(stmt: Select[Any], actor: Principal) -> Select[Any]:
    """Narrow a dossier query to what ``actor`` may see: a citizen their own dossiers, staff
    the dossiers received by or currently at their agencies; administrators keep the catalogue
    and calendars and see no personal data."""
    if actor.role == Role.CITIZEN:
        return stmt.where(Dossier.owner_id == actor.user_id)
    if actor.role in (Role.CLERK, Role.MANAGER) and actor.agency_ids:
        ids = sorted(actor.agency_ids)
        return stmt.where(or_(Dossier.agency_id.in_(ids), Dossier.current_unit_id.in_(ids)))
    return stmt.where(false())


def get_dossier(session: Session, dossier_id: int, *, actor: Principal) -> Dossier:
    d: Dossier | None = session.scalar(
        scope(select(Dossier).where(Dossier.id == dossier_id), actor)
    )
    if d is None:
        raise NotFound("Không tìm thấy hồ sơ.", type="dossier.not_found")
    return d


def etag(d: Dossier) -> str:
    return f'"d{d.id}-v{d.version}"'


def parse_if_match(header: str | None, d: Dossier) -> int:
    """The version the client last saw; 412 when it is not this dossier's ETag format."""
    value = (header or "").strip().removeprefix("W/")
    prefix = f'"d{d.id}-v'
    if not (value.startswith(prefix) and value.endswith('"')):
        raise PreconditionFailed(
            "ETag trong If-Match không phải của hồ sơ này.", type="dossier.etag_mismatch"
        )
    try:
        return int(value[len(prefix) : -1])
    except ValueError:
        raise PreconditionFailed(type="dossier.etag_mismatch") from None


# ---- submission ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Applicant:
    full_name: str
    kind: str = "person"
    id_number: str | None = None
    tax_code: str | None = None
    birth_date: date | None = None
    address: str = ""
    phone: str | None = None
    email: str | None = None


@dataclass(frozen=True)
class Submission:
    procedure_code: str
    agency_code: str
    channel: Channel
    applicant: Applicant
    sets_count: int = 1
    result_delivery: str = "desk"
    delivery_address: str = ""
    note: str = ""
    owner_username: str | None = None


def _random_code(length: int, alphabet: str = string.ascii_uppercase + string.digits) -> str:
    # No 0/O/1/I: the check code is typed by hand from a paper receipt.
    alphabet = "".join(c for c in alphabet if c not in "0O1I")
    return "".join(secrets.choice(alphabet) for _ in range(length))


def submit(
    session: Session, data: Submission, *, actor: Principal, now: datetime, request_id: str | None
) -> Dossier:
    """A citizen submits online, or a clerk enters a dossier brought to the desk or by post."""
    agency = get_by_code(session, data.agency_code)
    version_id, definition = procedures.current(session, data.procedure_code)
    if not procedures.offered_by(definition, agency):
        raise RuleViolation(
            f"Thủ tục {definition.code} không được giải quyết tại {agency.name}.",
            type="dossier.procedure_not_offered",
            errors={"json": {"agency_code": ["Cơ quan này không giải quyết thủ tục đã chọn."]}},
        )
    if not procedures.channel_offered(definition, data.channel):
        raise RuleViolation(
            f"Thủ tục không tiếp nhận qua kênh {data.channel.label.lower()}.",
            type="dossier.channel_not_offered",
            errors={"json": {"channel": ["Thủ tục không tiếp nhận qua kênh này."]}},
        )
    owner_id: int | None
    if actor.role == Role.CITIZEN:
        if data.channel != Channel.ONLINE:
            raise RuleViolation(
                "Công dân chỉ nộp hồ sơ trực tuyến; hồ sơ nộp trực tiếp do cán bộ tiếp nhận.",
                type="dossier.citizen_channel",
            )
        if data.owner_username:
            raise PermissionDenied("Công dân không nộp hồ sơ thay tài khoản khác.")
        owner_id = actor.user_id
    else:
        if agency.id not in actor.agency_ids:
            raise PermissionDenied(
                "Cán bộ chỉ tiếp nhận hồ sơ tại cơ quan của mình.", type="dossier.agency_scope"
            )
        if data.channel == Channel.ONLINE:
            raise RuleViolation(
                "Hồ sơ trực tuyến do công dân tự nộp.", type="dossier.clerk_channel"
            )
        owner_id = None
        if data.owner_username:
            owner = session.scalar(select(User).where(User.username == data.owner_username.lower()))
            if owner is None or owner.role != Role.CITIZEN:
                raise RuleViolation(
                    "Không tìm thấy tài khoản công dân.", type="dossier.owner_not_found"
                )
            owner_id = owner.id
    a = data.applicant
    d = Dossier(
        submission_no=f"{now.astimezone(VN_TZ):%y%m%d}-{_random_code(8)}",
        version=1,
        state=State.SUBMITTED.value,
        channel=data.channel.value,
        procedure_code=definition.code,
        procedure_version_id=version_id,
        agency_id=agency.id,
        current_unit_id=agency.id,
        owner_id=owner_id,
        created_by_id=actor.user_id,
        applicant_kind=a.kind,
        applicant_name=a.full_name,
        applicant_name_search=fold(a.full_name),
        applicant_id_number=a.id_number,
        applicant_tax_code=a.tax_code,
        applicant_birth_date=a.birth_date,
        applicant_address=a.address,
        applicant_phone=a.phone,
        applicant_email=a.email,
        sets_count=data.sets_count,
        result_delivery=data.result_delivery,
        delivery_address=data.delivery_address,
        note=data.note,
        lookup_token=secrets.token_urlsafe(24),  # 192 bits
        check_code=_random_code(6),
        submitted_at=now,
        payment_pauses_clock=definition.clock.payment_pauses_clock,
        max_supplement_requests=definition.clock.max_supplement_requests,
        created_at=now,
        updated_at=now,
    )
    session.add(d)
    session.flush()
    _event(session, d, "transition", Action.SUBMIT, now, actor, None, State.SUBMITTED, {})
    audit.record(
        session,
        actor=actor,
        action="dossier.submit",
        stream=f"dossier:{d.id}",
        agency_id=agency.id,
        to_state=State.SUBMITTED.value,
        now=now,
        request_id=request_id,
        data={"submission_no": d.submission_no, "procedure": d.procedure_code},
    )
    events.emit(
        session,
        Submitted(
            dossier_id=d.id,
            agency_id=d.agency_id,
            at=now,
            actor=actor,
            request_id=request_id,
            procedure_code=d.procedure_code,
        ),
    )
    return d


# ---- where staff may act (docs/dossiers.md, "Who may act where") ------------------------------


def _pending_handover() -> Any:
    """A handover of the dossier (correlated with the outer ``dossiers`` row) not yet accepted."""
    return exists().where(Handover.dossier_id == Dossier.id, Handover.accepted_at.is_(None))


def place_clause(edge: Edge, actor: Principal) -> ColumnElement[bool]:
    """SQL condition on the ``dossiers`` row: ``actor`` stands at one of ``edge.staff_at``.

    Added to the transition's conditional UPDATE, so the unit that handed the dossier on can
    never change it after the handover, however its request was interleaved with it.
    """
    ids = sorted(actor.agency_ids)
    if not ids:
        return false()
    at_unit = Dossier.current_unit_id.in_(ids)
    options: list[ColumnElement[bool]] = []
    for place in edge.staff_at:
        if place == Place.HOLDER:
            options.append(and_(at_unit, ~_pending_handover()))
        elif place == Place.PENDING_TO:
            options.append(and_(at_unit, _pending_handover()))
        elif place == Place.DESK:
            options.append(Dossier.agency_id.in_(ids))
    return or_(*options) if options else false()


def check_place(session: Session, d: Dossier, edge: Edge, actor: Principal) -> None:
    """Refuse, with a reason a clerk understands, an action staff take where they do not stand.

    403 when the dossier is at another unit (or the desk is not theirs); 409 when it is on its
    way to their unit and must be accepted first, or there is nothing to accept.
    """
    ids = actor.agency_ids
    pending = session.scalar(
        select(Handover.id).where(Handover.dossier_id == d.id, Handover.accepted_at.is_(None))
    )
    at_unit = d.current_unit_id in ids
    allowed = {
        Place.HOLDER: at_unit and pending is None,
        Place.PENDING_TO: at_unit and pending is not None,
        Place.DESK: d.agency_id in ids,
    }
    if any(allowed[p] for p in edge.staff_at):
        return
    if Place.HOLDER in edge.staff_at and at_unit:
        raise Conflict(
            "Hồ sơ đang được chuyển đến đơn vị của bạn: hãy xác nhận đã nhận hồ sơ trước.",
            type="dossier.handover_pending",
        )
    if Place.PENDING_TO in edge.staff_at and at_unit:
        raise Conflict("Không có lượt chuyển nào chờ xác nhận.", type="dossier.no_handover")
    if edge.staff_at == {Place.DESK}:
        raise PermissionDenied(
            "Chỉ bộ phận một cửa đã tiếp nhận hồ sơ mới thực hiện được thao tác này.",
            type="dossier.not_desk",
        )
    raise PermissionDenied(
        "Hồ sơ không ở đơn vị của bạn: đơn vị đã chuyển hồ sơ đi không còn xử lý hồ sơ này.",
        type="dossier.not_holder",
    )


# ---- transitions -----------------------------------------------------------------------------


def _event(
    session: Session,
    d: Dossier,
    kind: str,
    action: Action,
    now: datetime,
    actor: Principal | None,
    from_state: State | None,
    to_state: State | None,
    data: dict[str, Any],
) -> None:
    seq = (
        session.scalar(
            select(func.coalesce(func.max(DossierEvent.seq), 0)).where(
                DossierEvent.dossier_id == d.id
            )
        )
        or 0
    ) + 1
    session.add(
        DossierEvent(
            dossier_id=d.id,
            seq=seq,
            kind=kind,
            action=action.value,
            at=now,
            actor_id=actor.user_id if actor else None,
            from_state=from_state.value if from_state else None,
            to_state=to_state.value if to_state else None,
            data=data,
        )
    )
    session.flush()


def transition(
    session: Session,
    dossier_id: int,
    action: Action,
    *,
    actor: Principal,
    expected_version: int | None,
    now: datetime,
    params: dict[str, Any] | None = None,
    request_id: str | None = None,
) -> Dossier:
    """Perform ``action`` on a dossier; the only function that changes a dossier's state."""
    params = params or {}
    d = get_dossier(session, dossier_id, actor=actor)
    edge = TRANSITIONS[action]
    if actor.role not in edge.roles:
        raise PermissionDenied(
            "Vai trò của bạn không thực hiện được thao tác này.", type="dossier.role"
        )
    if expected_version is not None and d.version != expected_version:
        raise PreconditionFailed(
            "Hồ sơ đã được cập nhật bởi người khác; hãy tải lại.", type="dossier.stale"
        )
    current = State(d.state)
    if current not in edge.sources:
        raise Conflict(
            f"Không thể «{edge.label.lower()}» khi hồ sơ đang ở trạng thái «{current.label}».",
            type="dossier.invalid_transition",
        )
    if actor.role != Role.CITIZEN:
        check_place(session, d, edge, actor)
    change = HANDLERS[action](session, d, actor=actor, now=now, params=params)
    target = edge.target or current
    values = {**change.values, "state": target.value, "updated_at": now}
    conditions = [Dossier.id == d.id, Dossier.version == d.version, Dossier.state == d.state]
    if actor.role != Role.CITIZEN:
        # The same rule again, in the UPDATE itself: where the dossier sits is decided by the
        # row and its handovers at the moment of writing, not by what was read before.
        conditions.append(place_clause(edge, actor))
    result = session.execute(
        update(Dossier)
        .where(*conditions)
        .values(version=Dossier.version + 1, **values)
        .execution_options(synchronize_session=False)
    )
    if rowcount(result) != 1:
        raise Conflict(
            "Hồ sơ vừa được người khác cập nhật; hãy tải lại.", type="dossier.concurrent_change"
        )
    if change.handover is not None:
        session.add(change.handover)
    if change.accepts is not None:
        change.accepts.accepted_at = now
        change.accepts.accepted_by_id = actor.user_id
    _event(session, d, "transition", action, now, actor, current, target, params_for_log(params))
    for kind, data in change.events:
        _event(session, d, kind, action, now, actor, None, None, data)
    audit.record(
        session,
        actor=actor,
        action=f"dossier.{action.value}",
        stream=f"dossier:{d.id}",
        agency_id=d.agency_id,
        from_state=current.value,
        to_state=target.value,
        reason=change.reason,
        now=now,
        request_id=request_id,
        data={"version": d.version + 1},
    )
    session.refresh(d)
    common: dict[str, Any] = {
        "dossier_id": d.id,
        "agency_id": d.agency_id,
        "at": now,
        "actor": actor,
        "request_id": request_id,
        "action": action,
        "from_state": current,
        "to_state": target,
        "version": d.version,
    }
    if action == Action.RECEIVE and d.code is not None and d.promised_due_at is not None:
        events.emit(session, Received(**common, code=d.code, promised_due_at=d.promised_due_at))
    else:
        events.emit(session, Transitioned(**common))
    return d


# Fields whose values are kept in the ledger; personal data never is.
_LOGGED_PARAMS = {
    "reason",
    "override_reason",
    "reference",
    "to_unit",
    "step_code",
    "assignee",
    "new_due_at",
    "method",
    "result",
    "missing",
}


def params_for_log(params: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for k, v in params.items():
        if k in _LOGGED_PARAMS:
            out[k] = v.isoformat() if isinstance(v, datetime) else v
    return out


def duration_of(d: Dossier) -> Duration | None:
    if d.duration_amount is None or d.duration_unit is None:
        return None
    return Duration(d.duration_amount, TimeUnit(d.duration_unit))

"""Dossier use cases: submission and the one transition function; flushes, never commits.

Every change goes through :func:`transition`: it checks the table, the actor's role and scope,
the expected version and the procedure's clock policy, writes the new state with a conditional
UPDATE (``WHERE id = ? AND version = ? AND state = ?``), and appends the clock-ledger events and
the audit event in the same transaction.
"""

from __future__ import annotations

import secrets
import string
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Select, func, or_, select, update
from sqlalchemy.orm import Session

from onestop.accounts.models import Membership, User
from onestop.agencies.models import Agency
from onestop.agencies.services import get_by_code, subtree_ids
from onestop.core import audit, events
from onestop.core.access import Principal, Role
from onestop.core.clock import VN_TZ
from onestop.core.errors import (
    Conflict,
    NotFound,
    PermissionDenied,
    PreconditionFailed,
    RuleViolation,
)
from onestop.core.text import fold
from onestop.dossiers import clock, codes, procedures
from onestop.dossiers.events import Received, Submitted, Transitioned
from onestop.dossiers.models import Dossier, DossierEvent, Handover
from onestop.dossiers.states import TRANSITIONS, Action, Channel, State
from onestop.worktime import Duration

ONE_WORKING_DAY = timedelta(hours=8)


# ---- scope (SECURITY.md decision 1: authorization lives in the query) ------------------------


def scope(stmt: Select[Any], actor: Principal) -> Select[Any]:
    """Narrow a dossier query to what ``actor`` may see: a citizen their own dossiers, staff
    the dossiers received by or currently at their agencies; administrators keep the catalogue
    and calendars and see no personal data."""
    if actor.role == Role.CITIZEN:
        return stmt.where(Dossier.owner_id == actor.user_id)
    if actor.role in (Role.CLERK, Role.MANAGER) and actor.agency_ids:
        ids = sorted(actor.agency_ids)
        return stmt.where(or_(Dossier.agency_id.in_(ids), Dossier.current_unit_id.in_(ids)))
    return stmt.where(False)


def get_dossier(session: Session, dossier_id: int, *, actor: Principal) -> Dossier:
    d = session.scalar(scope(select(Dossier).where(Dossier.id == dossier_id), actor))
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


# ---- transitions -----------------------------------------------------------------------------


@dataclass
class Change:
    """What a transition handler decides: column values, ledger events, a reason."""

    values: dict[str, Any] = field(default_factory=dict)
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    reason: str | None = None
    handover: Handover | None = None


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
    change = HANDLERS[action](session, d, actor, now, params)
    target = edge.target or current
    values = {**change.values, "state": target.value, "updated_at": now}
    result = session.execute(
        update(Dossier)
        .where(Dossier.id == d.id, Dossier.version == d.version, Dossier.state == d.state)
        .values(version=Dossier.version + 1, **values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        raise Conflict(
            "Hồ sơ vừa được người khác cập nhật; hãy tải lại.", type="dossier.concurrent_change"
        )
    if change.handover is not None:
        session.add(change.handover)
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
    common = {
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


def _require(params: dict[str, Any], name: str, message: str) -> Any:
    value = params.get(name)
    if value in (None, "", []):
        raise RuleViolation(
            message, type="dossier.missing_field", errors={"json": {name: [message]}}
        )
    return value


# ---- handlers: one per action ----------------------------------------------------------------


def _intake_incomplete(session, d, actor, now, params) -> Change:
    missing = _require(params, "missing", "Cần ghi rõ giấy tờ còn thiếu (mẫu 02).")
    return Change(reason="; ".join(missing) if isinstance(missing, list) else str(missing))


def _resubmit(session, d, actor, now, params) -> Change:
    if d.received_at is not None:
        raise Conflict(
            "Hồ sơ đã được tiếp nhận; hãy dùng thao tác bổ sung hồ sơ.",
            type="dossier.invalid_transition",
        )
    return Change()


def _refuse(session, d, actor, now, params) -> Change:
    reason = _require(params, "reason", "Cần ghi rõ lý do từ chối (mẫu 03).")
    return Change(reason=reason)


def _receive(session, d, actor, now, params) -> Change:
    key, cal = clock.calendar_for(session, d.agency_id, now=now)
    definition = procedures.definition_of(session, d.procedure_version_id)
    duration, cutoff = procedures.duration_for(definition, Channel(d.channel))
    start = cal.effective_start(now)
    due = cal.due_at(now, duration, cutoff=cutoff)
    code = codes.next_code(session, d.agency_id, now)
    procedures.mark_used(session, d.procedure_version_id)
    values: dict[str, Any] = {
        "code": code,
        "received_at": now,
        "clock_start_at": start,
        "duration_amount": duration.amount,
        "duration_unit": duration.unit.value,
        "calendar_key": key,
        "promised_due_at": due,
        "legal_due_at": due,
    }
    events: list[tuple[str, dict[str, Any]]] = [
        (
            "started",
            {
                "duration": {"amount": duration.amount, "unit": duration.unit.value},
                "cutoff": cutoff.strftime("%H:%M"),
                "calendar": key,
                "effective_start": start.isoformat(),
                "due_at": due.isoformat(),
                "code": code,
            },
        )
    ]
    step = procedures.first_step(definition)
    if step is not None:
        step_due = cal.due_at(now, step.budget, cutoff=cutoff)
        values.update(current_step=step.code, step_due_at=step_due)
        events.append(("step_entered", {"step": step.code, "due_at": step_due.isoformat()}))
    return Change(values=values, events=events)


def _forward(session, d, actor, now, params) -> Change:
    to_unit = get_by_code(session, _require(params, "to_unit", "Cần chọn đơn vị nhận hồ sơ."))
    _, cal = clock.calendar_by_key(session, d.calendar_key)
    definition = procedures.definition_of(session, d.procedure_version_id)
    step = procedures.step(definition, params.get("step_code"))
    step_due = None
    if step is not None:
        step_due = cal.due_at(now, step.budget)
        if d.legal_due_at is not None and step_due > d.legal_due_at:
            step_due = d.legal_due_at
    seq = (
        session.scalar(
            select(func.coalesce(func.max(Handover.seq), 0)).where(Handover.dossier_id == d.id)
        )
        or 0
    ) + 1
    handover = Handover(
        dossier_id=d.id,
        seq=seq,
        from_unit_id=d.current_unit_id,
        to_unit_id=to_unit.id,
        handed_by_id=actor.user_id,
        handed_at=now,
        step_code=step.code if step else None,
        step_name=step.name if step else "",
        step_due_at=step_due,
        step_result=params.get("result") or "",
    )
    events = []
    if d.current_step:
        events.append(("step_left", {"step": d.current_step}))
    if step is not None:
        events.append(
            (
                "step_entered",
                {"step": step.code, "due_at": step_due.isoformat() if step_due else None},
            )
        )
    return Change(
        values={
            "current_unit_id": to_unit.id,
            "assigned_to_id": None,
            "current_step": step.code if step else d.current_step,
            "step_due_at": step_due,
        },
        events=events,
        handover=handover,
    )


def _accept_handover(session, d, actor, now, params) -> Change:
    if d.current_unit_id not in actor.agency_ids:
        raise PermissionDenied(
            "Chỉ đơn vị nhận hồ sơ mới xác nhận đã nhận.", type="dossier.not_receiving_unit"
        )
    h = session.scalar(
        select(Handover)
        .where(Handover.dossier_id == d.id, Handover.accepted_at.is_(None))
        .order_by(Handover.seq.desc())
        .limit(1)
    )
    if h is None:
        raise Conflict("Không có lượt chuyển nào chờ xác nhận.", type="dossier.no_handover")
    h.accepted_at = now
    h.accepted_by_id = actor.user_id
    return Change()


def _assign(session, d, actor, now, params) -> Change:
    username = _require(params, "assignee", "Cần chọn cán bộ xử lý.")
    user = session.scalar(select(User).where(User.username == str(username).lower()))
    if user is None or user.role not in (Role.CLERK.value, Role.MANAGER.value):
        raise RuleViolation("Không tìm thấy cán bộ này.", type="dossier.assignee_not_found")
    roots = session.scalars(select(Membership.agency_id).where(Membership.user_id == user.id))
    if d.current_unit_id not in subtree_ids(session, roots):
        raise RuleViolation(
            "Cán bộ được phân công không thuộc đơn vị đang giữ hồ sơ.",
            type="dossier.assignee_scope",
        )
    return Change(values={"assigned_to_id": user.id})


def _pause(d: Dossier, now: datetime, reason: str) -> Change:
    return Change(
        values={"paused_since": now}, events=[("paused", {"reason": reason})], reason=reason
    )


def _resume(session, d: Dossier, now: datetime) -> Change:
    if d.paused_since is None:
        return Change()
    _, cal = clock.calendar_by_key(session, d.calendar_key)
    paused = max(0, cal.working_seconds_between(d.paused_since, now))
    legal = cal.shift_working(d.legal_due_at, timedelta(seconds=paused)) if d.legal_due_at else None
    values = {
        "paused_since": None,
        "paused_seconds": d.paused_seconds + paused,
        "legal_due_at": legal,
    }
    if d.step_due_at is not None:
        values["step_due_at"] = cal.shift_working(d.step_due_at, timedelta(seconds=paused))
    return Change(
        values=values,
        events=[
            (
                "resumed",
                {
                    "paused_working_seconds": paused,
                    "legal_due_at": legal.isoformat() if legal else None,
                },
            )
        ],
    )


def _request_supplement(session, d, actor, now, params) -> Change:
    missing = _require(params, "missing", "Cần ghi rõ nội dung cần bổ sung (mẫu 02).")
    if d.supplement_count >= d.max_supplement_requests:
        raise RuleViolation(
            f"Thủ tục này chỉ cho phép yêu cầu bổ sung {d.max_supplement_requests} lần.",
            type="dossier.supplement_limit",
        )
    reason = "; ".join(missing) if isinstance(missing, list) else str(missing)
    change = _pause(d, now, reason)
    change.values["supplement_count"] = d.supplement_count + 1
    return change


def _supply(session, d, actor, now, params) -> Change:
    if d.received_at is None:
        raise Conflict(
            "Hồ sơ chưa được tiếp nhận; hãy nộp lại hồ sơ đã hoàn thiện.",
            type="dossier.invalid_transition",
        )
    return _resume(session, d, now)


def _request_payment(session, d, actor, now, params) -> Change:
    reason = params.get("reason") or "Yêu cầu thực hiện nghĩa vụ tài chính"
    if d.payment_pauses_clock:
        return _pause(d, now, reason)
    return Change(reason=reason)


def _confirm_payment(session, d, actor, now, params) -> Change:
    return _resume(session, d, now)


def _request_withdrawal(session, d, actor, now, params) -> Change:
    # The citizen has answered (by withdrawing), so the wait for them ends here: deciding on the
    # withdrawal is the agency's time and counts (Decision 766: only the citizen's time is out).
    change = _resume(session, d, now)
    change.reason = params.get("reason") or None
    return change


def _stop(session, d: Dossier, now: datetime, reason: str) -> Change:
    change = _resume(session, d, now)
    change.values.update(stopped_at=now, finished_at=now, current_step=None, step_due_at=None)
    change.events.append(("stopped", {"reason": reason}))
    change.reason = reason
    return change


def _accept_withdrawal(session, d, actor, now, params) -> Change:
    return _stop(session, d, now, params.get("reason") or "Công dân rút hồ sơ")


def _deny(session, d, actor, now, params) -> Change:
    if d.received_at is None:
        raise Conflict("Hồ sơ chưa được tiếp nhận.", type="dossier.invalid_transition")
    reason = _require(params, "reason", "Cần ghi rõ lý do dừng xử lý (mẫu 05).")
    return _stop(session, d, now, reason)


def _apologize(session, d, actor, now, params) -> Change:
    if d.received_at is None or d.legal_due_at is None:
        raise Conflict("Hồ sơ chưa được tiếp nhận.", type="dossier.invalid_transition")
    if d.apology_count >= 1:
        raise RuleViolation(
            "Chỉ được hẹn lại ngày trả kết quả một lần (Nghị định 61/2018, Điều 19).",
            type="dossier.apology_limit",
        )
    reason = _require(params, "reason", "Cần nêu lý do chậm trễ (mẫu 04).")
    new_due: datetime = _require(params, "new_due_at", "Cần chọn ngày hẹn trả mới.")
    _, cal = clock.calendar_by_key(session, d.calendar_key)
    if cal.working_time_between(now, d.legal_due_at) < ONE_WORKING_DAY:
        raise RuleViolation(
            "Phiếu xin lỗi phải gửi chậm nhất một ngày làm việc trước hạn trả kết quả.",
            type="dossier.apology_too_late",
        )
    if new_due <= d.legal_due_at:
        raise RuleViolation(
            "Ngày hẹn mới phải sau hạn trả kết quả hiện tại.", type="dossier.apology_date"
        )
    return Change(
        values={"extended_due_at": new_due, "apology_count": 1},
        events=[("extended", {"new_due_at": new_due.isoformat(), "reason": reason})],
        reason=reason,
    )


def _resolve(session, d, actor, now, params) -> Change:
    result = _require(params, "result", "Cần ghi kết quả giải quyết.")
    events: list[tuple[str, dict[str, Any]]] = []
    if d.current_step:
        events.append(("step_left", {"step": d.current_step}))
    events.append(("finished", {}))
    return Change(
        values={
            "resolved_at": now,
            "finished_at": now,
            "result_summary": result,
            "current_step": None,
            "step_due_at": None,
        },
        events=events,
    )


def _return_result(session, d, actor, now, params) -> Change:
    method = params.get("method") or d.result_delivery
    return Change(values={"returned_at": now, "return_method": method})


def _submit(session, d, actor, now, params) -> Change:  # pragma: no cover - never a transition
    raise Conflict(type="dossier.invalid_transition")


HANDLERS = {
    Action.SUBMIT: _submit,
    Action.INTAKE_INCOMPLETE: _intake_incomplete,
    Action.RESUBMIT: _resubmit,
    Action.REFUSE: _refuse,
    Action.RECEIVE: _receive,
    Action.FORWARD: _forward,
    Action.ACCEPT_HANDOVER: _accept_handover,
    Action.ASSIGN: _assign,
    Action.REQUEST_SUPPLEMENT: _request_supplement,
    Action.SUPPLY: _supply,
    Action.REQUEST_PAYMENT: _request_payment,
    Action.CONFIRM_PAYMENT: _confirm_payment,
    Action.REQUEST_WITHDRAWAL: _request_withdrawal,
    Action.ACCEPT_WITHDRAWAL: _accept_withdrawal,
    Action.DENY: _deny,
    Action.APOLOGIZE: _apologize,
    Action.RESOLVE: _resolve,
    Action.RETURN_RESULT: _return_result,
}
assert set(HANDLERS) == set(Action)


def agency_of(session: Session, agency_id: int) -> Agency:
    agency = session.get(Agency, agency_id)
    assert agency is not None
    return agency


def duration_of(d: Dossier) -> Duration | None:
    if d.duration_amount is None or d.duration_unit is None:
        return None
    return Duration(d.duration_amount, d.duration_unit)

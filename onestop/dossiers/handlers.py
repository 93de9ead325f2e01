"""The transition handlers: one typed function per action, deciding what the action changes.

A handler checks the rules of its action (what the regulation requires: a reason, a list of
missing papers, the one apology) and returns a ``Change`` — column values, clock-ledger events,
a reason for the audit trail, a handover. It reads but never writes the dossier row: the one
conditional UPDATE, the ledger and the audit event are written by ``services.transition``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session

from onestop.accounts.models import Membership, User
from onestop.agencies.services import get_by_code, subtree_ids
from onestop.core.access import Principal, Role
from onestop.core.errors import Conflict, PermissionDenied, RuleViolation
from onestop.dossiers import clock, codes, procedures
from onestop.dossiers.models import Dossier, DossierEvent, DossierFile, Handover
from onestop.dossiers.states import Action, Channel

ONE_WORKING_DAY = timedelta(hours=8)

Params = Mapping[str, Any]


@dataclass
class Change:
    """What a transition handler decides: column values, ledger events, a reason."""

    values: dict[str, Any] = field(default_factory=dict)
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    reason: str | None = None
    handover: Handover | None = None
    # The pending handover this transition accepts: written after the conditional UPDATE,
    # whose location rule still has to see it pending.
    accepts: Handover | None = None


class Handler(Protocol):
    def __call__(
        self, session: Session, d: Dossier, *, actor: Principal, now: datetime, params: Params
    ) -> Change: ...


def _require(params: Params, name: str, message: str) -> Any:
    value = params.get(name)
    if value in (None, "", []):
        raise RuleViolation(
            message, type="dossier.missing_field", errors={"json": {name: [message]}}
        )
    return value


def intake_incomplete(
    session: Session, d: Dossier, *, actor: Principal, now: datetime, params: Params
) -> Change:
    missing = _require(params, "missing", "Cần ghi rõ giấy tờ còn thiếu (mẫu 02).")
    return Change(reason="; ".join(missing) if isinstance(missing, list) else str(missing))


def resubmit(
    session: Session, d: Dossier, *, actor: Principal, now: datetime, params: Params
) -> Change:
    if d.received_at is not None:
        raise Conflict(
            "Hồ sơ đã được tiếp nhận; hãy dùng thao tác bổ sung hồ sơ.",
            type="dossier.invalid_transition",
        )
    return Change()


def refuse(
    session: Session, d: Dossier, *, actor: Principal, now: datetime, params: Params
) -> Change:
    reason = _require(params, "reason", "Cần ghi rõ lý do từ chối (mẫu 03).")
    return Change(reason=reason)


def receive(
    session: Session, d: Dossier, *, actor: Principal, now: datetime, params: Params
) -> Change:
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


def forward(
    session: Session, d: Dossier, *, actor: Principal, now: datetime, params: Params
) -> Change:
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
    events: list[tuple[str, dict[str, Any]]] = []
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


def accept_handover(
    session: Session, d: Dossier, *, actor: Principal, now: datetime, params: Params
) -> Change:
    # check_place (in the transition) has established that a handover to the actor's unit is
    # pending; the row is written after the conditional UPDATE.
    h = session.scalar(
        select(Handover)
        .where(Handover.dossier_id == d.id, Handover.accepted_at.is_(None))
        .order_by(Handover.seq.desc())
        .limit(1)
    )
    if h is None:  # pragma: no cover - check_place refuses first
        raise Conflict("Không có lượt chuyển nào chờ xác nhận.", type="dossier.no_handover")
    return Change(accepts=h)


def _assignee(session: Session, d: Dossier, params: Params) -> User:
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
    return user


def assign(
    session: Session, d: Dossier, *, actor: Principal, now: datetime, params: Params
) -> Change:
    user = _assignee(session, d, params)
    return Change(values={"assigned_to_id": user.id})


def reassign(
    session: Session, d: Dossier, *, actor: Principal, now: datetime, params: Params
) -> Change:
    """A manager moves the dossier to another clerk of the unit (an absent clerk's work)."""
    user = _assignee(session, d, params)
    if d.assigned_to_id == user.id:
        raise Conflict("Hồ sơ đã do cán bộ này xử lý.", type="dossier.already_assigned")
    return Change(values={"assigned_to_id": user.id}, reason=params.get("reason") or None)


def release(
    session: Session, d: Dossier, *, actor: Principal, now: datetime, params: Params
) -> Change:
    """Back to the unit's queue; a clerk gives back only what is theirs."""
    if d.assigned_to_id is None:
        raise Conflict("Hồ sơ chưa được phân công cho ai.", type="dossier.not_assigned")
    if actor.role == Role.CLERK and d.assigned_to_id != actor.user_id:
        raise PermissionDenied(
            "Cán bộ chỉ trả lại hồ sơ được phân công cho chính mình.", type="dossier.not_yours"
        )
    return Change(values={"assigned_to_id": None}, reason=params.get("reason") or None)


def _pause(d: Dossier, *, now: datetime, reason: str) -> Change:
    return Change(
        values={"paused_since": now}, events=[("paused", {"reason": reason})], reason=reason
    )


def _resume(session: Session, d: Dossier, *, now: datetime) -> Change:
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


def request_supplement(
    session: Session, d: Dossier, *, actor: Principal, now: datetime, params: Params
) -> Change:
    missing = _require(params, "missing", "Cần ghi rõ nội dung cần bổ sung (mẫu 02).")
    if d.supplement_count >= d.max_supplement_requests:
        raise RuleViolation(
            f"Thủ tục này chỉ cho phép yêu cầu bổ sung {d.max_supplement_requests} lần.",
            type="dossier.supplement_limit",
        )
    reason = "; ".join(missing) if isinstance(missing, list) else str(missing)
    change = _pause(d, now=now, reason=reason)
    change.values["supplement_count"] = d.supplement_count + 1
    return change


def supply(
    session: Session, d: Dossier, *, actor: Principal, now: datetime, params: Params
) -> Change:
    """The supplement is in: the clock runs again (Decree 61/2018 art. 19(2)(a)).

    Only on evidence: a file uploaded to the dossier since the supplement was requested. A
    clerk who received the papers at the desk without scanning them says so explicitly
    (``override_reason``), and that is written in the ledger and the audit trail. A citizen
    cannot override: their word alone does not resume the clock.
    """
    if d.received_at is None:
        raise Conflict(
            "Hồ sơ chưa được tiếp nhận; hãy nộp lại hồ sơ đã hoàn thiện.",
            type="dossier.invalid_transition",
        )
    override = params.get("override_reason")
    if override and actor.role == Role.CITIZEN:
        raise PermissionDenied(
            "Chỉ cán bộ mới xác nhận đã nhận giấy tờ bổ sung mà không có tệp tải lên.",
            type="dossier.supply_override",
        )
    requested = session.scalar(
        select(func.max(DossierEvent.at)).where(
            DossierEvent.dossier_id == d.id,
            DossierEvent.kind == "transition",
            DossierEvent.action == Action.REQUEST_SUPPLEMENT.value,
        )
    )
    uploaded = requested is not None and bool(
        session.scalar(
            select(
                exists().where(DossierFile.dossier_id == d.id, DossierFile.uploaded_at >= requested)
            )
        )
    )
    change = _resume(session, d, now=now)
    if not uploaded:
        if not override:
            raise RuleViolation(
                "Chưa có giấy tờ bổ sung nào được tải lên kể từ khi có yêu cầu bổ sung: hãy tải "
                "lên giấy tờ còn thiếu trước khi xác nhận đã bổ sung.",
                type="dossier.supplement_not_uploaded",
            )
        change.events.append(("supply_override", {"reason": override}))
        change.reason = str(override)
    return change


def request_payment(
    session: Session, d: Dossier, *, actor: Principal, now: datetime, params: Params
) -> Change:
    reason = params.get("reason") or "Yêu cầu thực hiện nghĩa vụ tài chính"
    if d.payment_pauses_clock:
        return _pause(d, now=now, reason=reason)
    return Change(reason=reason)


def confirm_payment(
    session: Session, d: Dossier, *, actor: Principal, now: datetime, params: Params
) -> Change:
    return _resume(session, d, now=now)


def request_withdrawal(
    session: Session, d: Dossier, *, actor: Principal, now: datetime, params: Params
) -> Change:
    # The citizen has answered (by withdrawing), so the wait for them ends here: deciding on the
    # withdrawal is the agency's time and counts (Decision 766: only the citizen's time is out).
    change = _resume(session, d, now=now)
    change.reason = params.get("reason") or None
    return change


def _stop(session: Session, d: Dossier, *, now: datetime, reason: str) -> Change:
    change = _resume(session, d, now=now)
    change.values.update(stopped_at=now, finished_at=now, current_step=None, step_due_at=None)
    change.events.append(("stopped", {"reason": reason}))
    change.reason = reason
    return change


def accept_withdrawal(
    session: Session, d: Dossier, *, actor: Principal, now: datetime, params: Params
) -> Change:
    return _stop(session, d, now=now, reason=params.get("reason") or "Công dân rút hồ sơ")


def deny(
    session: Session, d: Dossier, *, actor: Principal, now: datetime, params: Params
) -> Change:
    if d.received_at is None:
        raise Conflict("Hồ sơ chưa được tiếp nhận.", type="dossier.invalid_transition")
    reason = _require(params, "reason", "Cần ghi rõ lý do dừng xử lý (mẫu 05).")
    return _stop(session, d, now=now, reason=reason)


def apologize(
    session: Session, d: Dossier, *, actor: Principal, now: datetime, params: Params
) -> Change:
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


def resolve(
    session: Session, d: Dossier, *, actor: Principal, now: datetime, params: Params
) -> Change:
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


def return_result(
    session: Session, d: Dossier, *, actor: Principal, now: datetime, params: Params
) -> Change:
    method = params.get("method") or d.result_delivery
    return Change(values={"returned_at": now, "return_method": method})


def submit(
    session: Session, d: Dossier, *, actor: Principal, now: datetime, params: Params
) -> Change:  # pragma: no cover - never a transition
    raise Conflict(type="dossier.invalid_transition")


HANDLERS: dict[Action, Handler] = {
    Action.SUBMIT: submit,
    Action.INTAKE_INCOMPLETE: intake_incomplete,
    Action.RESUBMIT: resubmit,
    Action.REFUSE: refuse,
    Action.RECEIVE: receive,
    Action.FORWARD: forward,
    Action.ACCEPT_HANDOVER: accept_handover,
    Action.ASSIGN: assign,
    Action.REASSIGN: reassign,
    Action.RELEASE: release,
    Action.REQUEST_SUPPLEMENT: request_supplement,
    Action.SUPPLY: supply,
    Action.REQUEST_PAYMENT: request_payment,
    Action.CONFIRM_PAYMENT: confirm_payment,
    Action.REQUEST_WITHDRAWAL: request_withdrawal,
    Action.ACCEPT_WITHDRAWAL: accept_withdrawal,
    Action.DENY: deny,
    Action.APOLOGIZE: apologize,
    Action.RESOLVE: resolve,
    Action.RETURN_RESULT: return_result,
}
if set(HANDLERS) != set(Action):  # pragma: no cover - a new action without its handler
    raise RuntimeError("every action needs its handler")

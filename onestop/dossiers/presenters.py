"""How a dossier is shown: the detail an actor may see, and the timeline in Vietnamese.

Presentation only — no rule is decided here. The views call these with the request's time and
settings; other surfaces (queues, web pages) reuse them.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from onestop.accounts.models import User
from onestop.agencies.models import Agency
from onestop.core.access import Principal, Role
from onestop.core.vndates import format_datetime_long
from onestop.dossiers import clock, procedures
from onestop.dossiers.applicant import mask_cccd
from onestop.dossiers.models import Dossier, DossierEvent
from onestop.dossiers.services import duration_of
from onestop.dossiers.states import TRANSITIONS, Action, Channel, State

ROLE_LABELS = {
    "citizen": "Công dân",
    "clerk": "Cán bộ",
    "manager": "Lãnh đạo",
    "administrator": "Quản trị",
    "system": "Hệ thống",
}


def lookup_url(d: Dossier, public_base_url: str) -> str:
    return f"{public_base_url.rstrip('/')}/tra-cuu/{d.lookup_token}"


def present(
    session: Session, d: Dossier, actor: Principal, *, now: datetime, public_base_url: str
) -> dict[str, Any]:
    """The dossier as this actor may see it at ``now`` (CCCD masked except for the assigned
    clerk)."""
    codes = dict(
        session.execute(
            select(Agency.id, Agency.code).where(Agency.id.in_({d.agency_id, d.current_unit_id}))
        ).all()
    )
    assignee = session.get(User, d.assigned_to_id) if d.assigned_to_id else None
    cal = clock.calendar_by_key(session, d.calendar_key)[1] if d.calendar_key else None
    at = now
    v = clock.verdict(d, cal, at=at)
    full_id = actor.role == Role.CLERK and d.assigned_to_id == actor.user_id
    duration = duration_of(d)
    return {
        **{c: getattr(d, c) for c in ("id", "code", "submission_no", "version", "state")},
        "state_code": State(d.state).code,
        "state_label": State(d.state).label,
        "channel": d.channel,
        "channel_code": Channel(d.channel).code,
        "procedure_code": d.procedure_code,
        "procedure_name": procedures.name_of(session, d.procedure_version_id),
        "agency_code": codes[d.agency_id],
        "current_unit_code": codes[d.current_unit_id],
        "assigned_to": assignee.username if assignee else None,
        "applicant": {
            "kind": d.applicant_kind,
            "full_name": d.applicant_name,
            "id_number": d.applicant_id_number if full_id else mask_cccd(d.applicant_id_number),
            "tax_code": d.applicant_tax_code,
            "birth_date": d.applicant_birth_date,
            "address": d.applicant_address,
            "phone": d.applicant_phone,
            "email": d.applicant_email,
        },
        "sets_count": d.sets_count,
        "result_delivery": d.result_delivery,
        "submitted_at": d.submitted_at,
        "received_at": d.received_at,
        "processing_time": (
            f"{duration.amount} {duration.unit.label}" if duration is not None else None
        ),
        "promised_due_at": d.promised_due_at,
        "legal_due_at": d.legal_due_at,
        "extended_due_at": d.extended_due_at,
        "paused": d.paused_since is not None,
        "paused_working_seconds": d.paused_seconds,
        "time_left_working_seconds": (
            clock.time_left_seconds(d, cal, at=at) if cal is not None else None
        ),
        "supplement_count": d.supplement_count,
        "current_step": d.current_step,
        "step_due_at": d.step_due_at,
        "resolved_at": d.resolved_at,
        "returned_at": d.returned_at,
        "finished_at": d.finished_at,
        "verdict": {"verdict": v.verdict.value, "label": v.label, "due_at": v.due_at},
        "lookup_url": lookup_url(d, public_base_url) if d.code else None,
        "check_code": d.check_code if d.code else None,
    }


def _role_of(session: Session, actor_id: int | None, cache: dict[int, str]) -> str:
    if actor_id is None:
        return ROLE_LABELS["system"]
    if actor_id not in cache:
        cache[actor_id] = session.scalar(select(User.role).where(User.id == actor_id)) or ""
    return ROLE_LABELS.get(cache[actor_id], "")


def timeline_entries(
    session: Session, d: Dossier, events: Sequence[DossierEvent]
) -> list[dict[str, Any]]:
    """The timeline of ``d`` from its ledger's transition and re-projection events."""
    roles: dict[int, str] = {}
    entries = []
    for ev in events:
        if ev.kind == "reprojected":
            entries.append(
                {
                    "at": ev.at,
                    "at_text": format_datetime_long(ev.at),
                    "action": ev.action,
                    "label": "Tính lại hạn giải quyết do lịch làm việc thay đổi",
                    "state": None,
                    "state_label": None,
                    "by": ROLE_LABELS["system"],
                    "detail": "Ngày hẹn ghi trên giấy tiếp nhận không thay đổi.",
                }
            )
            continue
        edge = TRANSITIONS[Action(ev.action)]
        state = State(ev.to_state) if ev.to_state else None
        detail = ev.data.get("reason") or ev.data.get("result")
        if ev.data.get("missing"):
            detail = "Cần bổ sung: " + "; ".join(ev.data["missing"])
        if ev.action == Action.RECEIVE.value and d.code and d.promised_due_at:
            detail = f"Mã hồ sơ {d.code}; hẹn trả kết quả {format_datetime_long(d.promised_due_at)}"
        entries.append(
            {
                "at": ev.at,
                "at_text": format_datetime_long(ev.at),
                "action": ev.action,
                "label": edge.label,
                "state": state.value if state else None,
                "state_label": state.label if state else None,
                "by": _role_of(session, ev.actor_id, roles),
                "detail": detail,
            }
        )
    return entries

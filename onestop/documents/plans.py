"""The data of each form, planned from a dossier: the first of the three steps of issuing.

Long on purpose: one plan per form, sharing the header, applicant and ledger helpers above them.

A plan (reads only) builds the validated form data from the dossier, its agency, its procedure
and its ledger, and names the *occasion* the document is issued for; ``services`` produces
(renders and signs) and records it. The form each transition issues is ``FORM_ON``.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from onestop.accounts.models import User
from onestop.agencies.models import Agency
from onestop.core.access import Principal, Role
from onestop.core.clock import VN_TZ
from onestop.core.errors import NotFound, PermissionDenied, RuleViolation
from onestop.core.text import PLACEHOLDER, printable_or_placeholder
from onestop.documents.forms import (
    FORM_TYPES,
    ApologyData,
    Applicant,
    ControlSlipData,
    FormData,
    HandoverStep,
    Header,
    ReceiptData,
    RefusalData,
    RegisterData,
    RegisterEntry,
    StopNoticeData,
    SubmittedDocument,
    SupplementRequestData,
)
from onestop.documents.models import IssuedDocument
from onestop.dossiers import procedures
from onestop.dossiers.attachments import EXTRA_SLOTS
from onestop.dossiers.models import Dossier, DossierEvent, DossierFile, Handover
from onestop.dossiers.services import duration_of, scope
from onestop.dossiers.states import Action

log = logging.getLogger(__name__)

RECEIPT = ReceiptData.form_code
SUPPLEMENT_REQUEST = SupplementRequestData.form_code
REFUSAL = RefusalData.form_code
APOLOGY = ApologyData.form_code
STOP_NOTICE = StopNoticeData.form_code
CONTROL_SLIP = ControlSlipData.form_code
REGISTER = RegisterData.form_code

# The form each transition issues (Circular 03/2025/TT-VPCP; Decree 61/2018/NĐ-CP art. 19 as
# amended, and Decree 118/2025/NĐ-CP): 01 at receipt, 02 for the one complete list of what is
# missing (at intake or during processing), 03 refusal, 04 apology with a new date, 05 notice
# that processing stopped, 06 the control slip once the result is ready.
FORM_ON: dict[Action, str] = {
    Action.RECEIVE: RECEIPT,
    Action.INTAKE_INCOMPLETE: SUPPLEMENT_REQUEST,
    Action.REQUEST_SUPPLEMENT: SUPPLEMENT_REQUEST,
    Action.REFUSE: REFUSAL,
    Action.APOLOGIZE: APOLOGY,
    Action.DENY: STOP_NOTICE,
    Action.ACCEPT_WITHDRAWAL: STOP_NOTICE,
    Action.RESOLVE: CONTROL_SLIP,
}

# What a citizen may download of their own dossier: the control slip (06) and the register (07)
# are internal records of the desk and name its officers.
CITIZEN_NOTICES = frozenset({SUPPLEMENT_REQUEST, REFUSAL, APOLOGY, STOP_NOTICE})
CITIZEN_FORMS = frozenset({RECEIPT, *CITIZEN_NOTICES})

TITLES: dict[str, str] = {code: cls.title for code, cls in FORM_TYPES.items()}

# Limits of the forms (forms.py): longer lists are folded into the last line rather than lost.
MAX_ITEMS = 30
MAX_STEPS = 30
UNKNOWN_ADDRESS = "Không cung cấp"
SUPPLEMENT_REASON_AT_INTAKE = (
    "Hồ sơ chưa đầy đủ thành phần hoặc chưa hợp lệ theo quy định của thủ tục hành chính; "
    "hồ sơ chưa được tiếp nhận và chưa tính thời gian giải quyết."
)
SUPPLEMENT_REASON_IN_PROCESSING = (
    "Hồ sơ cần bổ sung, hoàn thiện để tiếp tục giải quyết; thời gian giải quyết tạm dừng từ khi "
    "gửi phiếu này cho đến khi nhận đủ hồ sơ bổ sung."
)
WITHDRAWAL_REASON = "Người nộp hồ sơ đề nghị rút hồ sơ."


@dataclass(frozen=True)
class Plan:
    """A document to issue: the validated form data and why it is issued (unique occasion)."""

    form: FormData
    occasion: str
    agency_id: int
    dossier_id: int | None = None
    supersedes_id: int | None = None


# ---- occasions ---------------------------------------------------------------------------------


def receipt_occasion(dossier_id: int) -> str:
    """A dossier is received once, so it has one receipt."""
    return f"dossier:{dossier_id}:{RECEIPT}"


def transition_occasion(dossier_id: int, form_code: str, version: int) -> str:
    """The form issued by the transition that made ``version`` of the dossier."""
    return f"dossier:{dossier_id}:{form_code}@v{version}"


def find(session: Session, occasion: str) -> IssuedDocument | None:
    return session.scalar(select(IssuedDocument).where(IssuedDocument.occasion == occasion))


# ---- form data ---------------------------------------------------------------------------------


def _agency(session: Session, agency_id: int) -> Agency:
    agency = session.get(Agency, agency_id)
    if agency is None:  # pragma: no cover - a foreign key guarantees it
        raise NotFound("Không tìm thấy cơ quan.", type="agency.not_found")
    return agency


def header_for(agency: Agency, issued_at: datetime, *, number: str | None = None) -> Header:
    """Decree 30/2020/NĐ-CP, Appendix I: the governing body on the first line, the issuing
    unit below it; the place is where the issuing agency sits."""
    parent = agency.parent
    place = agency.place or (parent.place if parent is not None else "")
    return Header(
        agency=parent.name if parent is not None else agency.name,
        unit=agency.name,
        place=place,
        issued_at=issued_at,
        number=number,
    )


def applicant_of(d: Dossier) -> Applicant:
    return Applicant(
        name=d.applicant_name,
        id_number=d.applicant_id_number or d.applicant_tax_code,
        address=d.applicant_address or UNKNOWN_ADDRESS,
        phone=d.applicant_phone,
        email=d.applicant_email,
    )


def _full_name(session: Session, user_id: int | None, fallback: str) -> str:
    if user_id is None:
        return fallback
    return session.scalar(select(User.full_name).where(User.id == user_id)) or fallback


def _last_event(session: Session, dossier_id: int, *actions: Action) -> DossierEvent | None:
    return session.scalar(
        select(DossierEvent)
        .where(
            DossierEvent.dossier_id == dossier_id,
            DossierEvent.kind == "transition",
            DossierEvent.action.in_([a.value for a in actions]),
        )
        .order_by(DossierEvent.seq.desc())
        .limit(1)
    )


def _fold_list(items: list[str], limit: int, max_len: int) -> list[str]:
    """At most ``limit`` lines: the rest is joined into the last one (one complete list is the
    rule for form 02, so nothing may be dropped silently)."""
    items = [str(i) for i in items if str(i).strip()]
    if len(items) <= limit:
        return items
    tail = "; ".join(items[limit - 1 :])
    return [*items[: limit - 1], tail[:max_len]]


def submitted_documents(session: Session, d: Dossier) -> list[SubmittedDocument]:
    """The "Thành phần hồ sơ" lines of the receipt.

    The uploaded files when the dossier has any (one line per current file, in the order of the
    procedure's slots); otherwise the required documents of the procedure's first case, with
    the numbers of originals and copies the procedure asks for.
    """
    definition = procedures.definition_of(session, d.procedure_version_id)
    slots = {}
    order: list[str] = []
    for group in definition.document_groups:
        for doc in group.documents:
            if doc.slot not in slots:
                slots[doc.slot] = doc
                order.append(doc.slot)
    uploaded = session.scalars(
        select(DossierFile.slot).where(
            DossierFile.dossier_id == d.id, DossierFile.superseded_at.is_(None)
        )
    ).all()
    lines: list[SubmittedDocument] = []
    if uploaded:
        present = set(uploaded)
        for slot in [*order, *EXTRA_SLOTS]:
            if slot not in present:
                continue
            if slot in slots:
                doc = slots[slot]
                lines.append(
                    SubmittedDocument(
                        name=doc.name,
                        originals=doc.originals,
                        certified_copies=doc.copies,
                        photocopies=0,
                    )
                )
            else:
                lines.append(
                    SubmittedDocument(
                        name=EXTRA_SLOTS[slot], originals=0, certified_copies=0, photocopies=1
                    )
                )
    elif definition.document_groups:
        for doc in definition.document_groups[0].documents:
            if doc.required:
                lines.append(
                    SubmittedDocument(
                        name=doc.name,
                        originals=doc.originals,
                        certified_copies=doc.copies,
                        photocopies=0,
                    )
                )
    return lines[:MAX_ITEMS]


def result_delivery_text(d: Dossier, agency: Agency) -> str:
    if d.result_delivery == "post":
        address = d.delivery_address or d.applicant_address or UNKNOWN_ADDRESS
        return f"Qua dịch vụ bưu chính công ích, địa chỉ: {address}"
    if d.result_delivery == "online":
        return "Trực tuyến, trên Cổng Dịch vụ công"
    where = f"Bộ phận Một cửa, {agency.name}"
    return f"{where}, {agency.address}" if agency.address else where


def receipt_plan(session: Session, d: Dossier, *, base_url: str) -> Plan:
    """Form 01 for a received dossier; dated at the time of receipt, whenever it is rendered."""
    if d.code is None or d.received_at is None or d.promised_due_at is None:
        raise RuleViolation("Hồ sơ chưa được tiếp nhận.", type="document.not_received")
    agency = _agency(session, d.agency_id)
    event = _last_event(session, d.id, Action.RECEIVE)
    duration = duration_of(d)
    local = d.received_at.astimezone(VN_TZ)
    form = ReceiptData(
        header=header_for(agency, d.received_at),
        dossier_code=d.code,
        applicant=applicant_of(d),
        procedure_name=procedures.name_of(session, d.procedure_version_id),
        documents=tuple(submitted_documents(session, d)),
        sets_count=d.sets_count,
        processing_time=str(duration) if duration is not None else "Theo quy định",
        received_at=d.received_at,
        appointment_at=d.promised_due_at,
        result_delivery=result_delivery_text(d, agency),
        # The register (form 07) is kept per year; the entry is the code's sequence number.
        register_volume=f"{local:%Y}",
        register_entry=d.code.rsplit("-", 1)[-1],
        receiving_officer=_full_name(
            session, event.actor_id if event else None, "Cán bộ tiếp nhận"
        ),
        lookup_base_url=base_url.rstrip("/"),
        lookup_token=d.lookup_token,
        check_code=d.check_code,
    )
    return Plan(form, receipt_occasion(d.id), d.agency_id, d.id)


def _signer_title(session: Session, user_id: int | None) -> str:
    role = session.scalar(select(User.role).where(User.id == user_id)) if user_id else None
    return "Thủ trưởng đơn vị" if role == Role.MANAGER.value else "Người lập phiếu"


def transition_plan(
    session: Session, d: Dossier, action: Action, *, version: int, base_url: str
) -> Plan | None:
    """The form ``action`` issues for ``d`` (None when it issues none, e.g. a withdrawal
    before the dossier was received, which needs no stop notice)."""
    code = FORM_ON.get(action)
    if code is None:
        return None
    if code == RECEIPT:
        return receipt_plan(session, d, base_url=base_url)
    event = _last_event(session, d.id, action)
    at = event.at if event is not None else d.updated_at
    data = event.data if event is not None else {}
    actor_id = event.actor_id if event is not None else None
    officer = _full_name(session, actor_id, "Cán bộ một cửa")
    agency = _agency(session, d.agency_id)
    header = header_for(agency, at)
    applicant = applicant_of(d)
    procedure_name = procedures.name_of(session, d.procedure_version_id)
    form: FormData
    if code == SUPPLEMENT_REQUEST:
        missing = data.get("missing") or []
        form = SupplementRequestData(
            header=header,
            dossier_code=d.code,
            applicant=applicant,
            procedure_name=procedure_name,
            items=tuple(_fold_list(list(missing), MAX_ITEMS, 500)),
            reason=(
                SUPPLEMENT_REASON_AT_INTAKE
                if action == Action.INTAKE_INCOMPLETE
                else SUPPLEMENT_REASON_IN_PROCESSING
            ),
            guidance=agency.address or None,
            guiding_officer=officer,
        )
    elif code == REFUSAL:
        form = RefusalData(
            header=header,
            dossier_code=d.code,
            applicant=applicant,
            procedure_name=procedure_name,
            reasons=(str(data.get("reason") or "Không đủ điều kiện tiếp nhận"),),
            receiving_officer=officer,
        )
    elif code == APOLOGY:
        if d.received_at is None or d.promised_due_at is None or d.extended_due_at is None:
            return None
        form = ApologyData(
            header=header,
            dossier_code=d.code,
            applicant=applicant,
            procedure_name=procedure_name,
            received_at=d.received_at,
            appointment_at=d.promised_due_at,
            reason=str(data.get("reason") or ""),
            new_appointment_at=d.extended_due_at,
            signer_title=_signer_title(session, actor_id),
            signer_name=officer,
            recipients=("Như trên",),
        )
    elif code == STOP_NOTICE:
        if d.received_at is None or d.code is None:
            return None
        requested_at = None
        if action == Action.ACCEPT_WITHDRAWAL:
            request = _last_event(session, d.id, Action.REQUEST_WITHDRAWAL)
            requested_at = request.at if request is not None else None
        form = StopNoticeData(
            header=header,
            dossier_code=d.code,
            applicant=applicant,
            procedure_name=procedure_name,
            received_at=d.received_at,
            requested_at=requested_at,
            reason=str(data.get("reason") or WITHDRAWAL_REASON),
            signer_title=_signer_title(session, actor_id),
            signer_name=officer,
            recipients=("Như trên",),
        )
    else:
        return control_slip_plan(session, d, now=at, version=version)
    return Plan(form, transition_occasion(d.id, code, version), d.agency_id, d.id)


# (dossier id, field) already reported: a row that cannot print is logged once per process,
# not on every print of every register that lists it.
_reported_unprintable: set[tuple[int, str]] = set()


def _printable(value: str | None, *, dossier_id: int, field: str) -> str | None:
    """Text of an internal record (control slip, register) from a stored row, made printable.

    Rows stored before the boundary refused unprintable text may hold a character the fonts
    cannot draw; such a row must not stop the whole register or slip from printing. The
    character is shown as a placeholder and the row reported once (docs/documents.md).
    """
    if value is None:
        return None
    text, replaced = printable_or_placeholder(value)
    if replaced and (dossier_id, field) not in _reported_unprintable:
        _reported_unprintable.add((dossier_id, field))
        log.warning(
            "dossier %s: %s holds characters the forms cannot print; printed as %s",
            dossier_id,
            field,
            PLACEHOLDER,
        )
    return text


def _step_result(end: datetime | None, due: datetime | None) -> str | None:
    """The result column of one step, "Trước hạn / Đúng hạn / Quá hạn": early means finished
    on a day before the due day, on time means by the due time (docs/domain.md §8, for steps)."""
    if end is None or due is None:
        return None
    if end > due:
        return "Quá hạn"
    if end.astimezone(VN_TZ).date() < due.astimezone(VN_TZ).date():
        return "Trước hạn"
    return "Đúng hạn"


def control_slip_plan(
    session: Session, d: Dossier, *, now: datetime, version: int | None = None
) -> Plan:
    """Form 06: one row per handover between units, with each step's result against its
    deadline. Issued when the result is ready and on demand; the same dossier version gives
    the same document."""
    if d.code is None or d.received_at is None or d.promised_due_at is None:
        raise RuleViolation("Hồ sơ chưa được tiếp nhận.", type="document.not_received")
    rows = session.scalars(
        select(Handover).where(Handover.dossier_id == d.id).order_by(Handover.seq)
    ).all()
    unit_ids = {r.from_unit_id for r in rows} | {r.to_unit_id for r in rows}
    units = dict(
        session.execute(select(Agency.id, Agency.name).where(Agency.id.in_(unit_ids))).all()
    )
    user_ids = {r.handed_by_id for r in rows} | {r.accepted_by_id for r in rows if r.accepted_by_id}
    names = dict(
        session.execute(select(User.id, User.full_name).where(User.id.in_(user_ids))).all()
    )
    steps = []
    for i, r in enumerate(rows[:MAX_STEPS]):
        # A step ends when the dossier is handed on, or when the result is ready.
        end = rows[i + 1].handed_at if i + 1 < len(rows) else d.resolved_at
        note = "; ".join(p for p in (r.step_name, r.step_result) if p) or None
        steps.append(
            HandoverStep(
                from_unit=_printable(units[r.from_unit_id], dossier_id=d.id, field="from_unit"),
                to_unit=_printable(units[r.to_unit_id], dossier_id=d.id, field="to_unit"),
                handed_at=r.handed_at,
                giver=_printable(names.get(r.handed_by_id), dossier_id=d.id, field="giver"),
                receiver=_printable(
                    names.get(r.accepted_by_id) if r.accepted_by_id else None,
                    dossier_id=d.id,
                    field="receiver",
                ),
                result=_step_result(end, r.step_due_at),
                note=_printable(note[:500] if note else None, dossier_id=d.id, field="note"),
            )
        )
    agency = _agency(session, d.agency_id)
    form = ControlSlipData(
        header=header_for(agency, now),
        dossier_code=d.code,
        applicant_name=_printable(d.applicant_name, dossier_id=d.id, field="applicant_name"),
        procedure_name=procedures.name_of(session, d.procedure_version_id),
        received_at=d.received_at,
        appointment_at=d.promised_due_at,
        steps=tuple(steps),
    )
    previous = session.scalar(
        select(IssuedDocument.id)
        .where(IssuedDocument.dossier_id == d.id, IssuedDocument.form_code == CONTROL_SLIP)
        .order_by(IssuedDocument.id.desc())
        .limit(1)
    )
    occasion = transition_occasion(d.id, CONTROL_SLIP, d.version if version is None else version)
    return Plan(form, occasion, d.agency_id, d.id, supersedes_id=previous)


def _vn_bounds(start: date, end: date) -> tuple[datetime, datetime]:
    """[start 00:00, the day after end 00:00) in Vietnam time: business dates are Vietnamese."""
    begin = datetime.combine(start, time(0), tzinfo=VN_TZ)
    finish = datetime.combine(end + timedelta(days=1), time(0), tzinfo=VN_TZ)
    return begin, finish


def register_plan(
    session: Session, agency: Agency, start: date, end: date, *, actor: Principal, now: datetime
) -> Plan:
    """Form 07 for the dossiers ``agency`` received from ``start`` to ``end`` (Vietnam dates).

    Only staff of the agency (or of an agency above it) may print its register; the dossiers
    are read through the actor's scope. At most ``RegisterData.max_entries`` lines per volume:
    a longer period is refused with the advice to print it in parts.
    """
    if actor.role not in (Role.CLERK, Role.MANAGER) or agency.id not in actor.agency_ids:
        raise PermissionDenied(
            "Chỉ cán bộ của cơ quan mới in được sổ theo dõi hồ sơ của cơ quan đó.",
            type="document.register_scope",
        )
    if end < start:
        raise RuleViolation(
            "Ngày kết thúc kỳ phải sau ngày bắt đầu.",
            type="document.period",
            errors={"json": {"to": ["Phải từ ngày bắt đầu trở đi."]}},
        )
    begin, finish = _vn_bounds(start, end)
    stmt = scope(
        select(Dossier).where(
            Dossier.agency_id == agency.id,
            Dossier.received_at >= begin,
            Dossier.received_at < finish,
        ),
        actor,
    )
    limit = RegisterData.max_entries
    dossiers = session.scalars(
        stmt.order_by(Dossier.received_at, Dossier.id).limit(limit + 1)
    ).all()
    if len(dossiers) > limit:
        raise RuleViolation(
            f"Kỳ đã chọn có hơn {limit} hồ sơ; hãy in sổ theo từng khoảng thời gian ngắn hơn.",
            type="document.register_too_long",
        )
    ids = [d.id for d in dossiers]
    first_handover = dict(
        session.execute(
            select(Handover.dossier_id, Handover.handed_at).where(
                Handover.dossier_id.in_(ids), Handover.seq == 1
            )
        ).all()
    )
    unit_names = dict(
        session.execute(
            select(Agency.id, Agency.name).where(
                Agency.id.in_({d.current_unit_id for d in dossiers})
            )
        ).all()
    )
    names: dict[int, str] = {}
    entries = []
    for d in dossiers:
        if d.code is None or d.received_at is None:  # the query reads received dossiers only
            raise ValueError(f"dossier {d.id} in the register has not been received")
        if d.procedure_version_id not in names:
            names[d.procedure_version_id] = procedures.name_of(session, d.procedure_version_id)
        contact = "; ".join(p for p in (d.applicant_address, d.applicant_phone) if p)
        entries.append(
            RegisterEntry(
                dossier_code=d.code,
                procedure_name=names[d.procedure_version_id][:300],
                sets_count=d.sets_count,
                applicant_name=_printable(
                    d.applicant_name, dossier_id=d.id, field="applicant_name"
                ),
                applicant_contact=_printable(
                    contact[:300] or UNKNOWN_ADDRESS, dossier_id=d.id, field="applicant_contact"
                ),
                handling_agency=_printable(
                    unit_names[d.current_unit_id][:200], dossier_id=d.id, field="handling_agency"
                ),
                received_at=d.received_at,
                appointment_at=d.promised_due_at or d.received_at,
                transferred_at=first_handover.get(d.id),
                result_received_at=d.resolved_at,
                returned_at=d.returned_at,
            )
        )
    volume = f"{start:%m/%Y}" if (start.year, start.month) == (end.year, end.month) else None
    form = RegisterData(
        header=header_for(agency, now),
        volume=volume or f"{start:%Y}",
        period_start=start,
        period_end=end,
        entries=tuple(entries),
    )
    # The same lines give the same document: printing twice without a change returns it again.
    lines = json.dumps([e.to_dict() for e in entries], sort_keys=True, default=str)
    prefix = f"register:{agency.id}:{start.isoformat()}:{end.isoformat()}:"
    previous = session.scalar(
        select(IssuedDocument.id)
        .where(IssuedDocument.occasion.startswith(prefix, autoescape=True))
        .order_by(IssuedDocument.id.desc())
        .limit(1)
    )
    occasion = prefix + hashlib.sha256(lines.encode()).hexdigest()[:32]
    return Plan(form, occasion, agency.id, None, supersedes_id=previous)

"""Issuing the one-stop forms: form data from dossiers, render and sign, store the bytes, record.

Issuing a document is three steps, kept apart so that the slow one holds no database lock:

1. **plan** (reads): build the validated form data from the dossier, its agency, its procedure
   and its ledger, and name the *occasion* the document is issued for;
2. **produce** (no database): render the PDF (~120–200 ms) and sign it when a certificate is
   configured;
3. **record** (writes): put the bytes in the content-addressed store (written and fsynced
   before the row that references them commits, SECURITY.md decision 6), insert the
   ``IssuedDocument`` row and the ``document.issued`` audit event.

Services flush, never commit; the actor, the time, the store, the signer and the public base
URL are keyword arguments. Dossiers are loaded through ``get_dossier``/``scope`` wherever a
person asks; the after-commit issuing and the repair job act for the system and load by id.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import exists, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from onestop.accounts.models import User
from onestop.agencies.models import Agency
from onestop.core import audit
from onestop.core.access import Principal, Role
from onestop.core.clock import VN_TZ
from onestop.core.errors import NotFound, PermissionDenied, RuleViolation
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
from onestop.documents.render import render_form
from onestop.documents.signing import Signer
from onestop.dossiers import procedures
from onestop.dossiers.attachments import EXTRA_SLOTS, DossierFile
from onestop.dossiers.models import Dossier, DossierEvent, Handover
from onestop.dossiers.services import duration_of, get_dossier, scope
from onestop.dossiers.states import Action
from onestop.storage import Storage, relative_path

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


def _step_result(end: datetime | None, due: datetime | None) -> str | None:
    """The result column of one step, "Trước hạn / Đúng hạn / Quá hạn": early means finished
    on a day before the due day, on time means by the due time (DOMAIN.md §8, applied to steps)."""
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
                from_unit=units[r.from_unit_id],
                to_unit=units[r.to_unit_id],
                handed_at=r.handed_at,
                giver=names.get(r.handed_by_id),
                receiver=names.get(r.accepted_by_id) if r.accepted_by_id else None,
                result=_step_result(end, r.step_due_at),
                note=note[:500] if note else None,
            )
        )
    agency = _agency(session, d.agency_id)
    form = ControlSlipData(
        header=header_for(agency, now),
        dossier_code=d.code,
        applicant_name=d.applicant_name,
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
        assert d.code is not None and d.received_at is not None
        if d.procedure_version_id not in names:
            names[d.procedure_version_id] = procedures.name_of(session, d.procedure_version_id)
        contact = "; ".join(p for p in (d.applicant_address, d.applicant_phone) if p)
        entries.append(
            RegisterEntry(
                dossier_code=d.code,
                procedure_name=names[d.procedure_version_id][:300],
                sets_count=d.sets_count,
                applicant_name=d.applicant_name,
                applicant_contact=contact[:300] or UNKNOWN_ADDRESS,
                handling_agency=unit_names[d.current_unit_id][:200],
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


def received_without_receipt(session: Session, *, limit: int) -> list[Dossier]:
    """Received dossiers that have no receipt yet (a crash between commit and render)."""
    has_receipt = exists().where(
        IssuedDocument.dossier_id == Dossier.id, IssuedDocument.form_code == RECEIPT
    )
    return list(
        session.scalars(
            select(Dossier)
            .where(Dossier.received_at.is_not(None), Dossier.code.is_not(None), ~has_receipt)
            .order_by(Dossier.id)
            .limit(limit)
        )
    )

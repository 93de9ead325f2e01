"""What dossiers need from the catalogue: the version in force, its channels, clock and steps."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import time

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from onestop.agencies.models import Agency, AgencyKind
from onestop.catalogue.definitions import ProcedureDefinition, ProcessingStep
from onestop.catalogue.models import Procedure, ProcedureVersion
from onestop.core.errors import RuleViolation
from onestop.dossiers.states import Channel
from onestop.worktime import Duration


def current(session: Session, code: str) -> tuple[int, ProcedureDefinition]:
    """The version in force of procedure ``code`` (422 when unknown or retired)."""
    row = session.execute(
        select(ProcedureVersion.id)
        .join(Procedure, Procedure.id == ProcedureVersion.procedure_id)
        .where(
            Procedure.code == code,
            Procedure.retired_at.is_(None),
            ProcedureVersion.version == Procedure.current_version,
        )
    ).first()
    if row is None:
        raise RuleViolation(
            f"Không có thủ tục mã {code} đang áp dụng.",
            type="dossier.procedure_unknown",
            errors={"json": {"procedure_code": ["Không có thủ tục này trong danh mục."]}},
        )
    return row[0], definition_of(session, row[0])


def definition_of(session: Session, version_id: int) -> ProcedureDefinition:
    v = session.get(ProcedureVersion, version_id)
    if v is None:
        raise RuleViolation("Phiên bản thủ tục không tồn tại.", type="dossier.procedure_unknown")
    return v.as_definition()


def name_of(session: Session, version_id: int) -> str:
    return (
        session.scalar(select(ProcedureVersion.name).where(ProcedureVersion.id == version_id)) or ""
    )


def mark_used(session: Session, version_id: int) -> None:
    """From now on the version is never edited: a changed file makes a new version."""
    session.execute(
        update(ProcedureVersion)
        .where(ProcedureVersion.id == version_id, ProcedureVersion.used_by_dossier.is_(False))
        .values(used_by_dossier=True)
    )


def offered_by(defn: ProcedureDefinition, agency: Agency) -> bool:
    """Whether ``agency`` (or the commune or department it is a desk of) handles ``defn``."""
    candidates = [agency]
    if agency.kind == AgencyKind.UNIT and agency.parent is not None:
        candidates.append(agency.parent)
    for a in candidates:
        if defn.offered_by.all_communes and a.kind == AgencyKind.COMMUNE:
            return True
        if a.code in defn.offered_by.agencies:
            return True
    return False


def channel_offered(defn: ProcedureDefinition, channel: Channel) -> bool:
    return defn.channel(channel) is not None


def duration_for(defn: ProcedureDefinition, channel: Channel) -> tuple[Duration, time]:
    """The statutory processing time for the channel and the procedure's same-day cut-off."""
    try:
        return defn.processing_time(channel), defn.clock.same_day_cutoff
    except KeyError:
        raise RuleViolation(
            "Thủ tục không tiếp nhận qua kênh này.", type="dossier.channel_not_offered"
        ) from None


@dataclass(frozen=True)
class Step:
    code: str
    name: str
    budget: Duration


def _step(s: ProcessingStep) -> Step:
    return Step(s.code, s.name, s.budget)


def first_step(defn: ProcedureDefinition) -> Step | None:
    return _step(defn.processing_steps[0]) if defn.processing_steps else None


def step(defn: ProcedureDefinition, code: str | None) -> Step | None:
    if code is None:
        return None
    for s in defn.processing_steps:
        if s.code == code:
            return _step(s)
    raise RuleViolation(
        f"Thủ tục không có bước xử lý «{code}».",
        type="dossier.unknown_step",
        errors={"json": {"step_code": ["Không có bước xử lý này."]}},
    )

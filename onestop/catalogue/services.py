"""Catalogue queries, the sync from ``procedures/`` and version lookups; flushes, never commits."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, delete, or_, select
from sqlalchemy.orm import Session, defer

from onestop.agencies.models import Agency, AgencyKind
from onestop.agencies.services import get_by_code as get_agency
from onestop.catalogue.definitions import ProcedureDefinition
from onestop.catalogue.models import Procedure, ProcedureAgency, ProcedureVersion
from onestop.core import audit
from onestop.core.access import Principal
from onestop.core.errors import NotFound
from onestop.core.text import fold

# LIKE wildcards in a search word are taken literally.
_LIKE_ESCAPE = "\\"


@dataclass
class SyncSummary:
    """What a sync did, by procedure code."""

    created: list[str] = field(default_factory=list)
    new_version: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    retired: list[str] = field(default_factory=list)
    reinstated: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(
            self.created or self.new_version or self.replaced or self.retired or self.reinstated
        )

    def lines(self) -> list[str]:
        labels = [
            ("created", "Thêm mới"),
            ("new_version", "Phiên bản mới"),
            ("replaced", "Cập nhật phiên bản chưa dùng"),
            ("retired", "Ngừng áp dụng"),
            ("reinstated", "Áp dụng lại"),
            ("unchanged", "Không đổi"),
        ]
        out = []
        for attr, label in labels:
            codes: list[str] = getattr(self, attr)
            if codes:
                shown = ", ".join(codes) if attr != "unchanged" else ""
                out.append(f"{label}: {len(codes)}" + (f" ({shown})" if shown else ""))
        return out


def _search_text(definition: ProcedureDefinition) -> str:
    return fold(f"{definition.code} {definition.name}")


def _version_columns(definition: ProcedureDefinition) -> dict[str, Any]:
    return {
        "content_hash": definition.content_hash,
        "definition": definition.to_dict(),
        "name": definition.name,
        "name_search": _search_text(definition),
        "level": str(definition.level),
        "sector_code": definition.sector.code,
        "sector_name": definition.sector.name,
        "sector_search": fold(definition.sector.name),
        "online_level": str(definition.online_level),
        "full_online_eligible": definition.full_online_eligible,
        "all_communes": definition.offered_by.all_communes,
    }


def _add_version(
    session: Session,
    procedure: Procedure,
    number: int,
    definition: ProcedureDefinition,
    now: datetime,
) -> ProcedureVersion:
    version = ProcedureVersion(
        procedure_id=procedure.id,
        version=number,
        used_by_dossier=False,
        created_at=now,
        **_version_columns(definition),
    )
    session.add(version)
    session.flush()
    _link_agencies(session, version, definition)
    return version


def _link_agencies(
    session: Session, version: ProcedureVersion, definition: ProcedureDefinition
) -> None:
    session.execute(delete(ProcedureAgency).where(ProcedureAgency.version_id == version.id))
    session.add_all(
        ProcedureAgency(version_id=version.id, agency_code=code)
        for code in definition.offered_by.agencies
    )
    session.flush()


def current_versions(session: Session) -> dict[str, tuple[Procedure, ProcedureVersion]]:
    """Every procedure, retired or not, with its current version, by code."""
    rows = session.execute(
        select(Procedure, ProcedureVersion)
        # The hash decides; the stored definition is loaded only if a version is corrected.
        .options(defer(ProcedureVersion.definition))
        .join(
            ProcedureVersion,
            and_(
                ProcedureVersion.procedure_id == Procedure.id,
                ProcedureVersion.version == Procedure.current_version,
            ),
        )
    ).all()
    return {p.code: (p, v) for p, v in rows}


def sync_catalogue(
    session: Session,
    definitions: Iterable[ProcedureDefinition],
    *,
    actor: Principal | None,
    now: datetime,
) -> SyncSummary:
    """Bring the database in line with validated definitions (the whole folder).

    Unchanged content (same hash) does nothing. Changed content becomes the next version, unless
    the current version has never been used by a dossier, in which case it is corrected in
    place: a dossier must always find the exact text it was received under. A procedure whose
    file is gone is retired, never deleted. Safe to run twice.
    """
    summary = SyncSummary()
    known = current_versions(session)
    seen: set[str] = set()
    for definition in sorted(definitions, key=lambda d: d.code):
        seen.add(definition.code)
        entry = known.get(definition.code)
        if entry is None:
            _create(session, definition, actor=actor, now=now)
            summary.created.append(definition.code)
            continue
        procedure, current = entry
        procedure.source_file = definition.source_file
        if procedure.retired_at is not None:
            procedure.retired_at = None
            procedure.updated_at = now
            summary.reinstated.append(definition.code)
            _audit(session, procedure, "procedure.reinstated", actor=actor, now=now)
        if current.content_hash == definition.content_hash:
            summary.unchanged.append(definition.code)
            continue
        previous_hash = current.content_hash
        if current.used_by_dossier:
            version = _add_version(session, procedure, current.version + 1, definition, now)
            procedure.current_version = version.version
            summary.new_version.append(definition.code)
            action = "procedure.version_created"
        else:
            for column, value in _version_columns(definition).items():
                setattr(current, column, value)
            session.flush()
            _link_agencies(session, current, definition)
            version = current
            summary.replaced.append(definition.code)
            action = "procedure.version_replaced"
        procedure.updated_at = now
        _audit(
            session,
            procedure,
            action,
            actor=actor,
            now=now,
            data={"version": version.version, "hash": version.content_hash, "was": previous_hash},
        )
    for code, (procedure, _current) in sorted(known.items()):
        if code not in seen and procedure.retired_at is None:
            procedure.retired_at = now
            procedure.updated_at = now
            summary.retired.append(code)
            _audit(session, procedure, "procedure.retired", actor=actor, now=now)
    session.flush()
    return summary


def _create(
    session: Session, definition: ProcedureDefinition, *, actor: Principal | None, now: datetime
) -> None:
    procedure = Procedure(
        code=definition.code,
        current_version=1,
        source_file=definition.source_file,
        created_at=now,
        updated_at=now,
    )
    session.add(procedure)
    session.flush()
    version = _add_version(session, procedure, 1, definition, now)
    _audit(
        session,
        procedure,
        "procedure.created",
        actor=actor,
        now=now,
        data={"version": 1, "hash": version.content_hash},
    )


def _audit(
    session: Session,
    procedure: Procedure,
    action: str,
    *,
    actor: Principal | None,
    now: datetime,
    data: dict[str, Any] | None = None,
) -> None:
    audit.record(
        session,
        actor=actor,
        action=action,
        stream=f"procedure:{procedure.id}",
        now=now,
        data={"code": procedure.code, **(data or {})},
    )


def get_current_version(session: Session, code: str) -> ProcedureVersion:
    """The version in force for ``code``; 404 when unknown or retired."""
    version = session.scalar(
        _current_select().where(Procedure.code == code, Procedure.retired_at.is_(None))
    )
    if version is None:
        raise NotFound(f"Không có thủ tục mã {code}.", type="procedure.not_found")
    return version


def mark_version_used(session: Session, version: ProcedureVersion) -> None:
    """Freeze ``version``: called when a dossier is received under it; idempotent."""
    if not version.used_by_dossier:
        version.used_by_dossier = True
        session.flush()


def _current_select() -> Select[tuple[ProcedureVersion]]:
    return select(ProcedureVersion).join(
        Procedure,
        and_(
            Procedure.id == ProcedureVersion.procedure_id,
            Procedure.current_version == ProcedureVersion.version,
        ),
    )


def _offering_commune(session: Session, agency: Agency) -> bool:
    """Whether ``agency`` is a commune or a desk inside one (both serve commune procedures)."""
    if agency.kind == AgencyKind.COMMUNE:
        return True
    parent = agency.parent
    return (
        agency.kind == AgencyKind.UNIT
        and parent is not None
        and (parent.kind == AgencyKind.COMMUNE)
    )


def search_words(q: str) -> list[str]:
    """The folded words of a query: ``Đăng Ký khai-sinh`` → ``["dang", "ky", "khai-sinh"]``."""
    return fold(q).split()


def list_procedures(
    session: Session,
    *,
    q: str | None = None,
    level: str | None = None,
    sector: str | None = None,
    online_level: str | None = None,
    agency: str | None = None,
) -> Select[tuple[ProcedureVersion]]:
    """Current versions of procedures in force, filtered; ordered by code.

    ``q`` ignores case and Vietnamese diacritics: every word must appear in the folded name or
    code. Folding happens in Python (``name_search``), so SQLite and PostgreSQL agree.
    """
    stmt = _current_select().where(Procedure.retired_at.is_(None)).order_by(Procedure.code)
    if level:
        stmt = stmt.where(ProcedureVersion.level == level)
    if online_level:
        stmt = stmt.where(ProcedureVersion.online_level == online_level)
    if sector:
        stmt = stmt.where(
            or_(
                ProcedureVersion.sector_code == sector,
                ProcedureVersion.sector_search == fold(sector),
            )
        )
    if agency:
        found = get_agency(session, agency)
        linked = select(ProcedureAgency.version_id).where(ProcedureAgency.agency_code == found.code)
        condition = ProcedureVersion.id.in_(linked)
        if _offering_commune(session, found):
            condition = or_(condition, ProcedureVersion.all_communes.is_(True))
        stmt = stmt.where(condition)
    for word in search_words(q or ""):
        escaped = (
            word.replace(_LIKE_ESCAPE, _LIKE_ESCAPE * 2).replace("%", "\\%").replace("_", "\\_")
        )
        stmt = stmt.where(ProcedureVersion.name_search.like(f"%{escaped}%", escape=_LIKE_ESCAPE))
    return stmt

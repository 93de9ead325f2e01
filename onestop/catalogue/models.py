"""Catalogue rows: procedures by national code and versions, frozen once a dossier uses one."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from onestop.catalogue.definitions import ProcedureDefinition, definition_from_content
from onestop.core.db import Base, utcnow


class Procedure(Base):
    """One administrative procedure (thủ tục hành chính) by its national code, e.g. ``1.001193``.

    The row never goes away: a procedure whose file is removed is retired (``retired_at``), so
    dossiers received under it keep pointing at a real procedure.
    """

    __tablename__ = "procedures"
    __table_args__ = (CheckConstraint("current_version >= 1", name="current_version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(20), unique=True)
    # Version number (not id) of the version in force; versions are numbered 1, 2, ... per code.
    current_version: Mapped[int] = mapped_column(Integer)
    source_file: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    retired_at: Mapped[datetime | None] = mapped_column()


class ProcedureVersion(Base):
    """The content of one procedure file at one time, with the columns the list filters need.

    A dossier records the version it was received under (DOMAIN §1: the procedure, clock policy
    and calendar in force at receipt). Once ``used_by_dossier`` is set the row is never edited:
    a changed file then creates the next version.
    """

    __tablename__ = "procedure_versions"
    __table_args__ = (
        UniqueConstraint("procedure_id", "version"),
        CheckConstraint("version >= 1", name="version"),
        CheckConstraint("level IN ('province', 'commune')", name="level"),
        CheckConstraint("online_level IN ('full', 'partial')", name="online_level"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    procedure_id: Mapped[int] = mapped_column(ForeignKey("procedures.id", ondelete="RESTRICT"))
    version: Mapped[int] = mapped_column(Integer)
    content_hash: Mapped[str] = mapped_column(String(64))
    definition: Mapped[dict[str, Any]] = mapped_column()
    name: Mapped[str] = mapped_column(String(500))
    # Lower case, no diacritics, đ → d (onestop.core.text.fold), with the code: what ``q`` matches.
    name_search: Mapped[str] = mapped_column(String(1000))
    level: Mapped[str] = mapped_column(String(20))
    sector_code: Mapped[str | None] = mapped_column(String(20))
    sector_name: Mapped[str] = mapped_column(String(200))
    sector_search: Mapped[str] = mapped_column(String(200))
    online_level: Mapped[str] = mapped_column(String(10))
    full_online_eligible: Mapped[bool] = mapped_column(Boolean)
    # Offered by every commune's desk (offered_by: {kind: commune}); otherwise see the links.
    all_communes: Mapped[bool] = mapped_column(Boolean)
    used_by_dossier: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    # One extra query per page of versions, not one per row.
    procedure: Mapped[Procedure] = relationship(lazy="selectin")

    @property
    def code(self) -> str:
        return self.procedure.code

    def as_definition(self) -> ProcedureDefinition:
        """The frozen definition this version holds (clock policy, channels, documents...)."""
        return definition_from_content(self.definition, source_file=f"{self.definition['code']}")


class ProcedureAgency(Base):
    """An agency, by its official code, that offers a province-level version.

    Linked by code rather than by agency id so that the catalogue can be synced before or after
    the agency tree is seeded, as two independent data sets.
    """

    __tablename__ = "procedure_agencies"

    version_id: Mapped[int] = mapped_column(
        ForeignKey("procedure_versions.id", ondelete="CASCADE"), primary_key=True
    )
    agency_code: Mapped[str] = mapped_column(String(40), primary_key=True, index=True)

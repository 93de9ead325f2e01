"""Issued documents: one row per PDF the desk issued, pointing at its bytes in the blob store."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from onestop.core.db import Base

FORM_CODES = ("01", "02", "03", "04", "05", "06", "07")
_FORM_CODES_SQL = ", ".join(f"'{c}'" for c in FORM_CODES)


class IssuedDocument(Base):
    """A PDF form issued by the desk (Circular 03/2025/TT-VPCP, forms 01–07), stored once.

    The bytes live in the content-addressed store under ``sha256``; later requests serve those
    bytes, never a new render, so what a citizen downloads is exactly what was issued. The
    ``snapshot`` is the plain data the PDF was rendered from: it holds personal data (name,
    CCCD, address), so it is never logged and never leaves through the public verification.

    ``occasion`` names why the document exists (``dossier:12:01`` for the receipt of dossier 12,
    ``dossier:12:02@v3`` for the form issued by the transition that made version 3); it is
    unique, so the after-commit issuing and the repair job can never issue the same form twice.
    """

    __tablename__ = "issued_documents"
    __table_args__ = (
        CheckConstraint(f"form_code IN ({_FORM_CODES_SQL})", name="form_code_known"),
        CheckConstraint("size > 0", name="size_positive"),
        CheckConstraint("length(sha256) = 64", name="sha256_length"),
        # Only the register (form 07) covers many dossiers; every other form belongs to one.
        CheckConstraint("dossier_id IS NOT NULL OR form_code = '07'", name="dossier_required"),
        Index("ix_issued_documents_dossier_id", "dossier_id", "form_code"),
        Index("ix_issued_documents_agency_id", "agency_id", "form_code"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    dossier_id: Mapped[int | None] = mapped_column(ForeignKey("dossiers.id", ondelete="RESTRICT"))
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id", ondelete="RESTRICT"))
    form_code: Mapped[str] = mapped_column(String(2))
    template_version: Mapped[str] = mapped_column(String(20))
    occasion: Mapped[str] = mapped_column(String(120), unique=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    size: Mapped[int] = mapped_column(Integer)
    storage_key: Mapped[str] = mapped_column(String(200))
    snapshot: Mapped[dict[str, Any]]
    issued_at: Mapped[datetime]
    # None when the system issued it (the repair job); the person is then in the snapshot.
    issued_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    signed: Mapped[bool] = mapped_column(Boolean, default=False)
    supersedes_id: Mapped[int | None] = mapped_column(
        ForeignKey("issued_documents.id", ondelete="RESTRICT")
    )


class IssueFailure(Base):
    """A document the repair job could not issue: reported, and set aside for a while.

    Without it one dossier whose receipt cannot be produced (a row stored before the boundary
    refused unprintable text, say) would be retried first on every run and, ten of them, would
    stop every later receipt. One row per occasion; deleted when the document is issued.
    """

    __tablename__ = "document_issue_failures"
    __table_args__ = (CheckConstraint("attempts > 0", name="attempts_positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    occasion: Mapped[str] = mapped_column(String(120), unique=True)
    dossier_id: Mapped[int] = mapped_column(
        ForeignKey("dossiers.id", ondelete="RESTRICT"), index=True
    )
    form_code: Mapped[str] = mapped_column(String(2))
    attempts: Mapped[int] = mapped_column(Integer)
    first_failed_at: Mapped[datetime]
    last_failed_at: Mapped[datetime]
    # Why, in one line, without personal data: the field path and the character's code point.
    error: Mapped[str] = mapped_column(String(500))

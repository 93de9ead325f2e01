"""Dossier rows, the append-only clock ledger, control-slip handovers and code sequences."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from onestop.core.db import Base
from onestop.dossiers.states import OPEN_STATES_SQL, Channel, State

_STATES = ", ".join(f"'{s.value}'" for s in State)
_CHANNELS = ", ".join(f"'{c.value}'" for c in Channel)


class Dossier(Base):
    """A dossier and the materialised clock columns that queues and statistics read.

    The clock ledger (``DossierEvent``) is the source of truth; the ``*_due_at`` and pause
    columns are derived from it and rewritten in the same transaction as each event.
    """

    __tablename__ = "dossiers"
    __table_args__ = (
        CheckConstraint(f"state IN ({_STATES})", name="state_known"),
        CheckConstraint(f"channel IN ({_CHANNELS})", name="channel_known"),
        CheckConstraint("version >= 1", name="version_positive"),
        CheckConstraint("applicant_kind IN ('person', 'organisation')", name="applicant_kind"),
        CheckConstraint("supplement_count >= 0 AND apology_count <= 1", name="counters"),
        Index("ix_dossiers_owner_id", "owner_id"),
        Index("ix_dossiers_agency_state", "agency_id", "state"),
        # The clerk queue: open dossiers of an agency by deadline (docs/benchmarks.md, Ceilings: a
        # partial index makes the page 0.25 ms instead of 100 ms at a million rows).
        Index(
            "ix_dossiers_queue",
            "agency_id",
            "legal_due_at",
            postgresql_where=text(OPEN_STATES_SQL),
            sqlite_where=text(OPEN_STATES_SQL),
        ),
        Index("ix_dossiers_finished", "agency_id", "finished_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    submission_no: Mapped[str] = mapped_column(String(20), unique=True)
    code: Mapped[str | None] = mapped_column(String(60), unique=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    state: Mapped[str] = mapped_column(String(30))
    channel: Mapped[str] = mapped_column(String(20))
    procedure_code: Mapped[str] = mapped_column(String(40))
    procedure_version_id: Mapped[int] = mapped_column(
        ForeignKey("procedure_versions.id", ondelete="RESTRICT")
    )
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id", ondelete="RESTRICT"))
    current_unit_id: Mapped[int] = mapped_column(ForeignKey("agencies.id", ondelete="RESTRICT"))
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    assigned_to_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))

    # Applicant (personal data: never logged; CCCD masked except for the assigned clerk).
    applicant_kind: Mapped[str] = mapped_column(String(20), default="person")
    applicant_name: Mapped[str] = mapped_column(String(200))
    applicant_name_search: Mapped[str] = mapped_column(String(200))
    applicant_id_number: Mapped[str | None] = mapped_column(String(12))
    applicant_tax_code: Mapped[str | None] = mapped_column(String(14))
    applicant_birth_date: Mapped[date | None] = mapped_column(Date)
    applicant_address: Mapped[str] = mapped_column(String(500), default="")
    applicant_phone: Mapped[str | None] = mapped_column(String(20))
    applicant_email: Mapped[str | None] = mapped_column(String(254))
    sets_count: Mapped[int] = mapped_column(Integer, default=1)
    result_delivery: Mapped[str] = mapped_column(String(20), default="desk")
    delivery_address: Mapped[str] = mapped_column(String(500), default="")
    note: Mapped[str] = mapped_column(String(2000), default="")

    # Public status lookup (docs/security.md decision 7): a 128-bit token for the QR link and a
    # short check code typed together with the dossier code.
    lookup_token: Mapped[str] = mapped_column(String(64), unique=True)
    check_code: Mapped[str] = mapped_column(String(8))

    # Clock, materialised from the ledger.
    submitted_at: Mapped[datetime]
    received_at: Mapped[datetime | None]
    clock_start_at: Mapped[datetime | None]  # receipt, or the next working period
    duration_amount: Mapped[int | None] = mapped_column(Integer)
    duration_unit: Mapped[str | None] = mapped_column(String(20))
    calendar_key: Mapped[str | None] = mapped_column(String(80))
    payment_pauses_clock: Mapped[bool] = mapped_column(Boolean, default=False)
    max_supplement_requests: Mapped[int] = mapped_column(Integer, default=1)
    promised_due_at: Mapped[datetime | None]  # printed on the receipt, never changes
    legal_due_at: Mapped[datetime | None]  # promised + paused working time (+ re-projection)
    extended_due_at: Mapped[datetime | None]  # the new date of the apology (form 04)
    paused_since: Mapped[datetime | None]
    paused_seconds: Mapped[int] = mapped_column(Integer, default=0)  # working seconds
    supplement_count: Mapped[int] = mapped_column(Integer, default=0)
    apology_count: Mapped[int] = mapped_column(Integer, default=0)
    current_step: Mapped[str | None] = mapped_column(String(40))
    step_due_at: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None]
    returned_at: Mapped[datetime | None]
    stopped_at: Mapped[datetime | None]
    # End of processing for Decision 766: state 9, else 10, else 8 when there is no 9.
    finished_at: Mapped[datetime | None]
    result_summary: Mapped[str] = mapped_column(String(2000), default="")
    return_method: Mapped[str | None] = mapped_column(String(20))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class DossierEvent(Base):
    """The clock ledger and transition log of one dossier; append-only (database trigger)."""

    __tablename__ = "dossier_events"
    __table_args__ = (UniqueConstraint("dossier_id", "seq"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    dossier_id: Mapped[int] = mapped_column(ForeignKey("dossiers.id", ondelete="RESTRICT"))
    seq: Mapped[int] = mapped_column(Integer)
    # started | paused | resumed | extended | step_entered | step_left | stopped | finished
    # | transition
    kind: Mapped[str] = mapped_column(String(30))
    action: Mapped[str] = mapped_column(String(40))
    at: Mapped[datetime]
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    from_state: Mapped[str | None] = mapped_column(String(30))
    to_state: Mapped[str | None] = mapped_column(String(30))
    data: Mapped[dict[str, Any]]


class Handover(Base):
    """One row of the control slip (Phiếu kiểm soát quá trình giải quyết hồ sơ, form 06)."""

    __tablename__ = "dossier_handovers"
    __table_args__ = (UniqueConstraint("dossier_id", "seq"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    dossier_id: Mapped[int] = mapped_column(ForeignKey("dossiers.id", ondelete="RESTRICT"))
    seq: Mapped[int] = mapped_column(Integer)
    from_unit_id: Mapped[int] = mapped_column(ForeignKey("agencies.id", ondelete="RESTRICT"))
    to_unit_id: Mapped[int] = mapped_column(ForeignKey("agencies.id", ondelete="RESTRICT"))
    handed_by_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    handed_at: Mapped[datetime]
    accepted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    accepted_at: Mapped[datetime | None]
    step_code: Mapped[str | None] = mapped_column(String(40))
    step_name: Mapped[str] = mapped_column(String(300), default="")
    step_due_at: Mapped[datetime | None]
    step_result: Mapped[str] = mapped_column(String(1000), default="")


class CodeSequence(Base):
    """The per-agency, per-receipt-day counter behind dossier codes (gap-free: the increment
    commits or rolls back with the reception that used it)."""

    __tablename__ = "dossier_code_sequences"

    agency_id: Mapped[int] = mapped_column(
        ForeignKey("agencies.id", ondelete="RESTRICT"), primary_key=True
    )
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    last_value: Mapped[int] = mapped_column(Integer)


PDF = "application/pdf"
JPEG = "image/jpeg"
PNG = "image/png"
# Allowed types and the file-name extensions that may stay on a display name of that type.
EXTENSIONS: dict[str, tuple[str, ...]] = {
    PDF: (".pdf",),
    JPEG: (".jpg", ".jpeg"),
    PNG: (".png",),
}
_MEDIA_TYPES_SQL = ", ".join(f"'{t}'" for t in EXTENSIONS)
DISPLAY_NAME_MAX = 200


class DossierFile(Base):
    """One uploaded document of a dossier; ``superseded_at`` is set when a newer one replaces it."""

    __tablename__ = "dossier_files"
    __table_args__ = (
        CheckConstraint(f"media_type IN ({_MEDIA_TYPES_SQL})", name="media_type_allowed"),
        CheckConstraint("size_bytes > 0", name="size_positive"),
        CheckConstraint("length(sha256) = 64", name="sha256_length"),
        Index(
            "uq_dossier_files_current_slot",
            "dossier_id",
            "slot",
            unique=True,
            postgresql_where=text("superseded_at IS NULL"),
            sqlite_where=text("superseded_at IS NULL"),
        ),
        # Garbage collection asks whether any row still refers to a blob.
        Index("ix_dossier_files_sha256", "sha256"),
        # The citizen's 24-hour upload budget sums their recent uploads.
        Index("ix_dossier_files_uploaded_by_id_uploaded_at", "uploaded_by_id", "uploaded_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    dossier_id: Mapped[int] = mapped_column(ForeignKey("dossiers.id", ondelete="RESTRICT"))
    slot: Mapped[str] = mapped_column(String(48))
    # The user's file name, cleaned, for display only: never used on disk.
    display_name: Mapped[str] = mapped_column(String(DISPLAY_NAME_MAX))
    media_type: Mapped[str] = mapped_column(String(40))  # detected from the bytes
    size_bytes: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    uploaded_at: Mapped[datetime]
    uploaded_by_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    uploaded_by_role: Mapped[str] = mapped_column(String(20))
    superseded_at: Mapped[datetime | None]

"""Calendar rows: dated overrides, agency working hours, the change counter, version snapshots."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import CheckConstraint, Date, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from onestop.agencies.models import Agency
from onestop.core.db import Base

# The override kinds an administrator may store (``onestop.worktime.OverrideKind``); the
# repository's ``confirm_day_off`` only documents what the rules already compute, so it stays
# in the repository file.
OVERRIDE_KINDS = ("day_off", "working_day", "remove_holiday")
_KINDS_SQL = ", ".join(f"'{k}'" for k in OVERRIDE_KINDS)


class CalendarOverride(Base):
    """One dated change to the calendar, with the document that announced it.

    ``agency_id`` NULL: the national calendar (every agency); otherwise the agency and every
    agency below it. Rows are never deleted: removal sets ``removed_at`` so the history of what
    was in force, and under which calendar version, stays readable.
    """

    __tablename__ = "calendar_overrides"
    __table_args__ = (
        CheckConstraint(f"kind IN ({_KINDS_SQL})", name="kind_known"),
        CheckConstraint(
            "swapped_with IS NULL OR kind = 'working_day'", name="swap_only_for_working_day"
        ),
        CheckConstraint(
            "(removed_at IS NULL) = (removed_version IS NULL)", name="removal_complete"
        ),
        Index("ix_calendar_overrides_agency_date", "agency_id", "date"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    agency_id: Mapped[int | None] = mapped_column(ForeignKey("agencies.id", ondelete="RESTRICT"))
    date: Mapped[date] = mapped_column(Date)
    kind: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(300))
    source: Mapped[str] = mapped_column(String(300))  # số văn bản: e.g. "Công văn 2450/VPCP-KGVX"
    swapped_with: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime]
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    created_version: Mapped[int] = mapped_column(Integer)
    removed_at: Mapped[datetime | None]
    removed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    removed_version: Mapped[int | None] = mapped_column(Integer)

    agency: Mapped[Agency | None] = relationship(lazy="selectin")


class AgencyWorkingHours(Base):
    """An agency's own weekly working hours from ``valid_from`` on (until a later row).

    ``periods`` holds ``{"weekly": [[HH:MM-HH:MM, ...] × 7 (Monday first)], "makeup": [...]}``.
    Agencies without a row in force use their parent's hours, and so on up to the national
    hours (docs/domain.md §3: working hours are set locally).
    """

    __tablename__ = "agency_working_hours"
    __table_args__ = (UniqueConstraint("agency_id", "valid_from"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id", ondelete="RESTRICT"))
    valid_from: Mapped[date] = mapped_column(Date)
    periods: Mapped[dict[str, Any]]
    source: Mapped[str] = mapped_column(String(300))
    updated_at: Mapped[datetime]
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    updated_version: Mapped[int] = mapped_column(Integer)

    agency: Mapped[Agency] = relationship(lazy="selectin")


class CalendarChangeCounter(Base):
    """The single row counting calendar changes.

    Every change increments ``version`` and draws a new random ``token`` in its transaction:
    the UPDATE serialises concurrent calendar changes (row lock on PostgreSQL, the write lock
    on SQLite), and processes cache built calendars by token, so a change committed by another
    worker is seen on the next request.
    """

    __tablename__ = "calendar_changes"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[int] = mapped_column(Integer)
    token: Mapped[str] = mapped_column(String(32))
    changed_at: Mapped[datetime]


class CalendarVersion(Base):
    """The spec of each calendar version ever given to a dossier, so it can be rebuilt by key."""

    __tablename__ = "calendar_versions"

    key: Mapped[str] = mapped_column(String(80), primary_key=True)  # CalendarSpec.version
    spec: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]

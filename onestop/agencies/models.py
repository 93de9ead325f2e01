"""Agency rows: an effective-dated tree keyed by the official electronic code."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, Date, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from onestop.core.db import Base, utcnow


class AgencyKind(StrEnum):
    PROVINCE = "province"  # Ủy ban nhân dân tỉnh
    DEPARTMENT = "department"  # Sở, ban, ngành cấp tỉnh
    COMMUNE = "commune"  # Ủy ban nhân dân xã, phường, đặc khu (since 01/07/2025)
    UNIT = "unit"  # a desk or division inside one of the above


class Agency(Base):
    """An agency with its code under Decision 20/2020/QĐ-TTg (e.g. ``000.00.14.H56``).

    Codes are opaque strings: the 2025 mergers renumbered agencies, so the tree is effective
    dated (``valid_from``/``valid_to``) rather than rewritten.
    """

    __tablename__ = "agencies"
    __table_args__ = (
        CheckConstraint("kind IN ('province', 'department', 'commune', 'unit')", name="kind"),
        CheckConstraint("valid_to IS NULL OR valid_to > valid_from", name="validity"),
        Index("ix_agencies_parent_id", "parent_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(300))
    kind: Mapped[str] = mapped_column(String(20))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("agencies.id", ondelete="RESTRICT"))
    # Where the agency is, as printed in form headers ("Thanh Hóa, ngày ...").
    place: Mapped[str] = mapped_column(String(100), default="")
    address: Mapped[str] = mapped_column(String(500), default="")
    valid_from: Mapped[date] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    parent: Mapped[Agency | None] = relationship(remote_side=[id], lazy="selectin")

    def is_valid_on(self, day: date) -> bool:
        return self.valid_from <= day and (self.valid_to is None or day < self.valid_to)

"""Agency queries and changes; flushes, never commits."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from onestop.agencies.models import Agency, AgencyKind
from onestop.core import audit
from onestop.core.access import Principal
from onestop.core.errors import Conflict, NotFound, RuleViolation


def get_by_code(session: Session, code: str) -> Agency:
    agency = session.scalar(select(Agency).where(Agency.code == code))
    if agency is None:
        raise NotFound(f"Không có cơ quan mã {code}.", type="agency.not_found")
    return agency


def list_agencies(
    session: Session,
    *,
    on: date | None = None,
    kind: str | None = None,
    parent_id: int | None = None,
):
    stmt = select(Agency).order_by(Agency.code)
    if on is not None:
        stmt = stmt.where(
            Agency.valid_from <= on, (Agency.valid_to.is_(None)) | (Agency.valid_to > on)
        )
    if kind:
        stmt = stmt.where(Agency.kind == kind)
    if parent_id is not None:
        stmt = stmt.where(Agency.parent_id == parent_id)
    return stmt


def subtree_ids(session: Session, roots: Iterable[int]) -> frozenset[int]:
    """The given agencies and every agency below them (a clerk of a commune acts in its units).

    A recursive CTE, identical on SQLite and PostgreSQL.
    """
    roots = list(roots)
    if not roots:
        return frozenset()
    tree = select(Agency.id).where(Agency.id.in_(roots)).cte("tree", recursive=True)
    tree = tree.union_all(select(Agency.id).where(Agency.parent_id == tree.c.id))
    return frozenset(session.scalars(select(tree.c.id)).all())


@dataclass(frozen=True)
class AgencyInput:
    code: str
    name: str
    kind: AgencyKind
    parent_code: str | None
    valid_from: date
    valid_to: date | None = None
    place: str = ""
    address: str = ""


def create_agency(
    session: Session, data: AgencyInput, *, actor: Principal | None, now: datetime
) -> Agency:
    if session.scalar(select(Agency.id).where(Agency.code == data.code)) is not None:
        raise Conflict(f"Mã cơ quan {data.code} đã tồn tại.", type="agency.code_taken")
    parent = get_by_code(session, data.parent_code) if data.parent_code else None
    if parent is None and data.kind != AgencyKind.PROVINCE:
        raise RuleViolation(
            "Chỉ cấp tỉnh mới không có cơ quan cấp trên.", type="agency.parent_required"
        )
    if data.valid_to is not None and data.valid_to <= data.valid_from:
        raise RuleViolation(
            "Ngày hết hiệu lực phải sau ngày có hiệu lực.", type="agency.invalid_validity"
        )
    agency = Agency(
        code=data.code,
        name=data.name,
        kind=str(data.kind),
        parent_id=parent.id if parent else None,
        valid_from=data.valid_from,
        valid_to=data.valid_to,
        place=data.place or (parent.place if parent else ""),
        address=data.address,
        created_at=now,
    )
    session.add(agency)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="agency.created",
        stream=f"agency:{agency.id}",
        agency_id=agency.id,
        now=now,
        data={"code": agency.code, "name": agency.name, "kind": agency.kind},
    )
    return agency

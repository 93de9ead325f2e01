"""The demo province: Thanh Hóa (code H56), a handful of departments, communes and their desks.

Codes follow the pattern of Decision 20/2020/QĐ-TTg (``000.00.xx.H56`` for provincial bodies);
the numbers below are illustrative for a demonstration, not the official register. Since
01/07/2025 (Law on Local Government 2025) communes sit directly under the province.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from onestop.agencies.models import Agency, AgencyKind
from onestop.agencies.services import AgencyInput, create_agency

TWO_LEVEL_SINCE = date(2025, 7, 1)

P, D, C, U = AgencyKind.PROVINCE, AgencyKind.DEPARTMENT, AgencyKind.COMMUNE, AgencyKind.UNIT

# (code, name, kind, parent code)
DEMO_AGENCIES: list[tuple[str, str, AgencyKind, str | None]] = [
    ("000.00.00.H56", "Ủy ban nhân dân tỉnh Thanh Hóa", P, None),
    ("000.00.10.H56", "Trung tâm Phục vụ hành chính công tỉnh Thanh Hóa", D, "000.00.00.H56"),
    ("000.00.13.H56", "Sở Tư pháp tỉnh Thanh Hóa", D, "000.00.00.H56"),
    ("000.00.14.H56", "Sở Xây dựng tỉnh Thanh Hóa", D, "000.00.00.H56"),
    ("000.00.15.H56", "Sở Nông nghiệp và Môi trường tỉnh Thanh Hóa", D, "000.00.00.H56"),
    ("000.00.16.H56", "Sở Tài chính tỉnh Thanh Hóa", D, "000.00.00.H56"),
    ("000.00.17.H56", "Sở Y tế tỉnh Thanh Hóa", D, "000.00.00.H56"),
    ("000.00.18.H56", "Sở Nội vụ tỉnh Thanh Hóa", D, "000.00.00.H56"),
    ("000.00.19.H56", "Sở Giáo dục và Đào tạo tỉnh Thanh Hóa", D, "000.00.00.H56"),
    ("000.00.20.H56", "Công an tỉnh Thanh Hóa", D, "000.00.00.H56"),
    ("000.13.01.H56", "Phòng Hành chính tư pháp - Sở Tư pháp", U, "000.00.13.H56"),
    ("000.14.01.H56", "Phòng Quản lý xây dựng - Sở Xây dựng", U, "000.00.14.H56"),
    ("000.15.01.H56", "Văn phòng Đăng ký đất đai tỉnh Thanh Hóa", U, "000.00.15.H56"),
    ("000.21.01.H56", "Ủy ban nhân dân phường Hạc Thành", C, "000.00.00.H56"),
    ("000.21.02.H56", "Ủy ban nhân dân phường Sầm Sơn", C, "000.00.00.H56"),
    ("000.21.03.H56", "Ủy ban nhân dân xã Hoằng Hóa", C, "000.00.00.H56"),
    ("000.21.04.H56", "Ủy ban nhân dân xã Thọ Xuân", C, "000.00.00.H56"),
    ("000.31.01.H56", "Trung tâm Phục vụ hành chính công phường Hạc Thành", U, "000.21.01.H56"),
    ("000.31.02.H56", "Trung tâm Phục vụ hành chính công phường Sầm Sơn", U, "000.21.02.H56"),
    ("000.31.03.H56", "Trung tâm Phục vụ hành chính công xã Hoằng Hóa", U, "000.21.03.H56"),
    ("000.31.04.H56", "Trung tâm Phục vụ hành chính công xã Thọ Xuân", U, "000.21.04.H56"),
]


def seed_demo_agencies(session: Session, *, now: datetime) -> int:
    """Create the demo agencies that do not exist yet; returns how many were created."""
    existing = set(session.scalars(select(Agency.code)).all())
    created = 0
    for code, name, kind, parent in DEMO_AGENCIES:
        if code in existing:
            continue
        create_agency(
            session,
            AgencyInput(
                code=code,
                name=name,
                kind=kind,
                parent_code=parent,
                valid_from=TWO_LEVEL_SINCE,
                place="Thanh Hóa",
            ),
            actor=None,
            now=now,
        )
        created += 1
    return created

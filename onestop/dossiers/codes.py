"""Dossier codes ``<agency code>-<yyMMdd>-<NNNN>``, issued at receipt, gap-free per agency and day.

The counter row is incremented with ``INSERT … ON CONFLICT DO UPDATE … RETURNING`` in the
reception's own transaction: on PostgreSQL the row lock makes concurrent receptions wait for
each other, on SQLite ``BEGIN IMMEDIATE`` already serialises writers. A reception that rolls
back takes its increment with it, so numbers have no gaps and are never shared.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from onestop.agencies.models import Agency
from onestop.core.clock import VN_TZ
from onestop.core.errors import NotFound, RuleViolation
from onestop.dossiers.models import CodeSequence

# Four digits in the national format (e.g. 000.17.22.H56-210531-0001).
MAX_PER_DAY = 9999


def next_code(session: Session, agency_id: int, received_at: datetime) -> str:
    day = received_at.astimezone(VN_TZ).date()
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    stmt = (
        insert(CodeSequence)
        .values(agency_id=agency_id, day=day, last_value=1)
        .on_conflict_do_update(
            index_elements=["agency_id", "day"],
            set_={"last_value": CodeSequence.last_value + 1},
        )
        .returning(CodeSequence.last_value)
    )
    number = session.execute(stmt).scalar_one()
    if number > MAX_PER_DAY:
        raise RuleViolation(
            "Đã hết số hồ sơ trong ngày của cơ quan này.", type="dossier.code_exhausted"
        )
    agency = session.get(Agency, agency_id)
    if agency is None:
        raise NotFound("Không tìm thấy cơ quan.", type="agency.not_found")
    return f"{agency.code}-{day:%y%m%d}-{number:04d}"

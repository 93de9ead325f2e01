"""Finding a dossier from public credentials, and the status it may show: no personal data.

docs/security.md decision 7 and "Lookup enumeration": the QR link carries the dossier's
192-bit ``lookup_token``; a person typing from the paper receipt gives the dossier code and its
6-character check code (32 symbols, 30 bits; guessed one code at a time and rate-limited
per code). Every failure is the same ``NotFound`` — unknown code, wrong check code, wrong or
malformed token, dossier not yet received — so the reply is no oracle for which codes exist.

Only received dossiers (those with a code) can be looked up: the code and the check code are
printed on the receipt (form 01) issued at receipt, and a citizen who submitted online follows
the dossier in their own account until then.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, Select, select
from sqlalchemy.orm import Session

from onestop.agencies.models import Agency
from onestop.catalogue.models import ProcedureVersion
from onestop.core.errors import NotFound
from onestop.dossiers import clock, procedures
from onestop.dossiers.models import Dossier
from onestop.dossiers.states import State

NOT_FOUND_MESSAGE = "Không tìm thấy hồ sơ; vui lòng kiểm tra lại thông tin tra cứu."
NOT_FOUND_TYPE = "lookup.not_found"

# Longer inputs cannot match anything issued; they are refused without a query.
MAX_TOKEN_LENGTH = 64
MAX_CODE_LENGTH = 60
MAX_CHECK_LENGTH = 16

# Compared against when the code is unknown, so that path does the same comparison work.
_DUMMY_CHECK = "XXXXXX"


def not_found() -> NotFound:
    return NotFound(NOT_FOUND_MESSAGE, type=NOT_FOUND_TYPE)


@dataclass(frozen=True)
class PublicStatus:
    """What anyone holding the receipt may see: state, procedure, agency and dates only."""

    code: str
    state: str
    state_code: int
    state_label: str
    procedure_code: str
    procedure_name: str
    agency_name: str
    received_at: datetime | None
    promised_due_at: datetime | None  # printed on the receipt; never changes
    legal_due_at: datetime | None  # moves by the time spent waiting for the citizen
    extended_due_at: datetime | None  # the new date of an apology letter (form 04)
    due_at: datetime | None  # the date the citizen should now expect
    resolved_at: datetime | None
    returned_at: datetime | None
    verdict: str
    verdict_label: str


def normalise_code(code: str) -> str:
    """Dossier codes are upper case (``000.17.22.H56-210531-0001``); accept them typed in lower."""
    return code.strip().upper()


def by_token(session: Session, token: str, *, now: datetime) -> PublicStatus:
    """The status of the received dossier whose QR token is ``token``."""
    token = token.strip()
    if not token or len(token) > MAX_TOKEN_LENGTH:
        raise not_found()
    row = session.execute(_with_names(Dossier.lookup_token == token)).first()
    d = row[0] if row is not None else None
    # The equality above is the database's; the comparison that decides is constant-time.
    if d is None or not hmac.compare_digest(d.lookup_token.encode(), token.encode()):
        raise not_found()
    if d.code is None:
        raise not_found()
    return status_of(session, d, now=now, names=(row[1], row[2]))


def by_code(session: Session, code: str, check: str, *, now: datetime) -> PublicStatus:
    """The status of the dossier ``code`` when ``check`` is its check code."""
    code = normalise_code(code)
    check = check.strip().upper()
    if not code or len(code) > MAX_CODE_LENGTH or len(check) > MAX_CHECK_LENGTH:
        raise not_found()
    row = session.execute(_with_names(Dossier.code == code)).first()
    d = row[0] if row is not None else None
    expected = d.check_code if d is not None else _DUMMY_CHECK
    matches = hmac.compare_digest(expected.encode(), check.encode())
    if row is None or d is None or not matches:
        raise not_found()
    return status_of(session, d, now=now, names=(row[1], row[2]))


def _with_names(where: ColumnElement[bool]) -> Select[tuple[Dossier, str, str]]:
    """The dossier matching ``where`` with its agency's and procedure's names, in one query
    (a public lookup is the most frequent request; each extra query is a round trip)."""
    return (
        select(Dossier, Agency.name, ProcedureVersion.name)
        .join(Agency, Agency.id == Dossier.agency_id)
        .join(ProcedureVersion, ProcedureVersion.id == Dossier.procedure_version_id)
        .where(where)
    )


def status_of(
    session: Session, d: Dossier, *, now: datetime, names: tuple[str, str] | None = None
) -> PublicStatus:
    """The public view of ``d``; nothing in it names or identifies the applicant. ``names``:
    the agency's and the procedure's, when the caller already read them with the dossier."""
    if d.code is None:
        raise ValueError("a dossier not yet received has no public status")
    cal = clock.calendar_by_key(session, d.calendar_key)[1] if d.calendar_key else None
    v = clock.verdict(d, cal, at=now)
    state = State(d.state)
    if names is None:
        names = (
            session.scalar(select(Agency.name).where(Agency.id == d.agency_id)) or "",
            procedures.name_of(session, d.procedure_version_id),
        )
    agency_name, procedure_name = names
    return PublicStatus(
        code=d.code,
        state=state.value,
        state_code=state.code,
        state_label=state.label,
        procedure_code=d.procedure_code,
        procedure_name=procedure_name,
        agency_name=agency_name,
        received_at=d.received_at,
        promised_due_at=d.promised_due_at,
        legal_due_at=d.legal_due_at,
        extended_due_at=d.extended_due_at,
        due_at=d.extended_due_at or v.due_at or d.legal_due_at,
        resolved_at=d.resolved_at,
        returned_at=d.returned_at,
        verdict=v.verdict.value,
        verdict_label=v.label,
    )

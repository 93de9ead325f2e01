"""Helpers to create dossiers and move them through the HTTP API, as users would."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from onestop.catalogue.filespec import load_folder
from onestop.catalogue.services import sync_catalogue
from onestop.core.access import Role
from tests.factories import AGENCY_A, AGENCY_B, SEED_TIME, login, make_user, seed_agencies

PROCEDURES = Path(__file__).resolve().parents[2] / "procedures"
# Cấp Giấy xác nhận tình trạng hôn nhân: commune level, full online, 3 working days.
MARRIAGE_STATUS = "1.004873"
# A CCCD registered in Thanh Hóa (038), a man born in 1990.
CCCD = "038090001234"
_definitions = None


def sync_procedures(session: Session) -> None:
    global _definitions
    if _definitions is None:
        _definitions = load_folder(PROCEDURES)
    sync_catalogue(session, _definitions, actor=None, now=SEED_TIME)
    session.commit()


@dataclass
class World:
    """Two citizens, clerks of agencies A and B, a manager of A; their auth headers."""

    client: FlaskClient
    headers: dict[str, dict[str, str]]
    users: dict[str, Any]

    def __getitem__(self, name: str) -> dict[str, str]:
        return self.headers[name]


def make_world(client: FlaskClient, session: Session) -> World:
    seed_agencies(session)
    sync_procedures(session)
    spec = {
        "citizen": (Role.CITIZEN, ()),
        "citizen2": (Role.CITIZEN, ()),
        "clerk_a": (Role.CLERK, (AGENCY_A,)),
        "clerk_a2": (Role.CLERK, (AGENCY_A,)),
        "clerk_b": (Role.CLERK, (AGENCY_B,)),
        "manager_a": (Role.MANAGER, (AGENCY_A,)),
        "admin": (Role.ADMIN, ()),
    }
    users, headers = {}, {"anonymous": {}}
    for name, (role, agencies) in spec.items():
        users[name] = make_user(
            session, role, agencies=agencies, username=f"w_{name}_{uuid.uuid4().hex[:6]}"
        )
        headers[name] = login(client, users[name].username)
    return World(client, headers, users)


def applicant(**overrides: Any) -> dict[str, Any]:
    return {
        "full_name": "Nguyễn Thị Ánh Tuyết",
        "id_number": CCCD,
        "birth_date": "1990-04-12",
        "address": "Số 12, phố Lê Lợi, phường Hạc Thành, tỉnh Thanh Hóa",
        "phone": "0912345678",
        "email": "tuyet@example.vn",
        **overrides,
    }


def submit(
    client: FlaskClient,
    headers: dict[str, str],
    *,
    procedure: str = MARRIAGE_STATUS,
    agency: str = AGENCY_A,
    channel: str = "online",
    key: str | None = None,
    **extra: Any,
):
    body = {
        "procedure_code": procedure,
        "agency_code": agency,
        "channel": channel,
        "applicant": applicant(),
        **extra,
    }
    return client.post(
        "/api/v1/dossiers",
        json=body,
        headers={**headers, "Idempotency-Key": key or uuid.uuid4().hex},
    )


def act(
    client: FlaskClient,
    headers: dict[str, str],
    dossier_id: int,
    action: str,
    body: dict[str, Any] | None = None,
    *,
    etag: str | None = None,
):
    """POST a transition with the dossier's current ETag (fetched as ``headers`` sees it)."""
    if etag is None:
        got = client.get(f"/api/v1/dossiers/{dossier_id}", headers=headers)
        etag = got.headers.get("ETag", '"none"')
    return client.post(
        f"/api/v1/dossiers/{dossier_id}/{action.replace('_', '-')}",
        json=body or {},
        headers={**headers, "If-Match": etag},
    )


def ok(resp, status: int = 200) -> dict[str, Any]:
    assert resp.status_code == status, (resp.status_code, resp.json)
    return resp.json

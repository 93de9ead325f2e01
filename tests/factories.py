"""Plain factory functions that build test data through the real services: agencies, users,
the catalogue, and dossiers moved through the HTTP API as users would move them."""

from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from onestop.accounts.models import User
from onestop.accounts.services import NewUser, create_user
from onestop.agencies.demo import seed_demo_agencies
from onestop.catalogue.filespec import load_folder
from onestop.catalogue.services import sync_catalogue
from onestop.core.access import Role

PASSWORD = "mat-khau-thu-nghiem-1"
SEED_TIME = datetime(2026, 1, 5, 1, 0, tzinfo=UTC)
_counter = itertools.count(1)

# Two communes used as "agency A" and "agency B" in access tests.
AGENCY_A = "000.21.01.H56"  # Ủy ban nhân dân phường Hạc Thành
AGENCY_B = "000.21.02.H56"  # Ủy ban nhân dân phường Sầm Sơn


def seed_agencies(session: Session) -> None:
    seed_demo_agencies(session, now=SEED_TIME)
    session.commit()  # inside the test's outer transaction: rolled back after the test


def make_user(
    session: Session,
    role: Role = Role.CITIZEN,
    *,
    agencies: tuple[str, ...] = (),
    username: str | None = None,
    full_name: str = "Nguyễn Thị Ánh Tuyết",
    password: str = PASSWORD,
) -> User:
    username = username or f"{role.value}{next(_counter)}"
    user = create_user(
        session,
        NewUser(
            username=username,
            password=password,
            full_name=full_name,
            role=role,
            agency_codes=agencies,
        ),
        actor=None,
        now=SEED_TIME,
    )
    session.commit()
    return user


def login(client: FlaskClient, username: str, password: str = PASSWORD) -> dict[str, str]:
    resp = client.post("/api/v1/auth/tokens", json={"username": username, "password": password})
    assert resp.status_code == 201, resp.json
    return {"Authorization": f"Bearer {resp.json['token']}"}


def auth_headers(client: FlaskClient, session: Session, role: Role, **kw) -> dict[str, str]:
    user = make_user(session, role, **kw)
    return login(client, user.username)


# ---- dossiers ----------------------------------------------------------------------------------

PROCEDURES = Path(__file__).resolve().parents[1] / "procedures"
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


def supply(
    client: FlaskClient,
    headers: dict[str, str],
    dossier_id: int,
    body: dict[str, Any] | None = None,
):
    """Upload a supplement (a small PDF in an "other papers" slot), then POST ``supply``: the
    clock resumes only on a file uploaded since the request (docs/dossiers.md)."""
    pdf = b"%PDF-1.4\n% " + uuid.uuid4().hex.encode() + b"\n%%EOF\n"
    put = client.put(
        f"/api/v1/dossiers/{dossier_id}/files/extra",
        data=pdf,
        headers={**headers, "Content-Type": "application/pdf"},
    )
    assert put.status_code in (200, 201), put.json
    return act(client, headers, dossier_id, "supply", body)

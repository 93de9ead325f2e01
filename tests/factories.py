"""Plain factory functions that build test data through the real services."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from onestop.accounts.models import User
from onestop.accounts.services import NewUser, create_user
from onestop.agencies.demo import seed_demo_agencies
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

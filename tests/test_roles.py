"""Role separation on PostgreSQL: the service role runs the whole API flow but cannot rewrite
the append-only tables or their guards (migrations/roles.sql, docs/security.md)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, make_url, text
from sqlalchemy.exc import DBAPIError

from onestop import create_app
from onestop.core.db import Database
from onestop.demo import DEMO_PASSWORD
from tests.dbutil import SERVER_URL, backend
from tests.servers import AUDIT_KEYS, CHEAP_HASH, ROOT, add_users, prepare_database

pytestmark = pytest.mark.skipif(backend() != "postgresql", reason="roles exist on PostgreSQL only")

HAC_THANH = "000.21.01.H56"
MARRIAGE_STATUS = "1.004873"
USERS = [
    ("congdan.roles", "Phạm Thị Hương", "citizen", ()),
    ("canbo.roles", "Đỗ Văn Hùng", "clerk", (HAC_THANH,)),
]
APPEND_ONLY = ("audit_events", "dossier_events")


def roles_sql(service: str) -> str:
    """migrations/roles.sql with psql's ``:"service"`` variable filled in, as psql -v does."""
    sql = (ROOT / "migrations" / "roles.sql").read_text()
    sql = "\n".join(line for line in sql.splitlines() if not line.startswith("--"))
    return re.sub(r':"service"', f'"{service}"', sql)


@pytest.fixture
def two_roles(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """A database owned by a fresh owner role, migrated and seeded by it, with the grants of
    migrations/roles.sql for a fresh service role. Yields (owner URL, service URL)."""
    url = make_url(SERVER_URL).set(drivername="postgresql+psycopg")
    suffix = uuid.uuid4().hex[:8]
    owner, service, name = f"onestop_owner_{suffix}", f"onestop_app_{suffix}", f"onestop_r_{suffix}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE ROLE "{owner}" LOGIN'))
        conn.execute(text(f'CREATE ROLE "{service}" LOGIN'))
        conn.execute(
            text(f'CREATE DATABASE "{name}" OWNER "{owner}" ENCODING \'UTF8\' TEMPLATE template0')
        )
    owner_url = url.set(database=name, username=owner).render_as_string(hide_password=False)
    service_url = url.set(database=name, username=service).render_as_string(hide_password=False)
    try:
        prepare_database(owner_url, add_users(USERS, DEMO_PASSWORD))
        owner_engine = create_engine(owner_url)
        with owner_engine.begin() as conn:
            conn.exec_driver_sql(roles_sql(service))
        owner_engine.dispose()
        yield owner_url, service_url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(text(f'DROP ROLE IF EXISTS "{service}"'))
            conn.execute(text(f'DROP ROLE IF EXISTS "{owner}"'))
        admin.dispose()


def test_service_role_runs_the_api_but_cannot_rewrite_history(two_roles, tmp_path):
    _owner_url, service_url = two_roles
    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "roles-test-secret",
            "AUDIT_KEYS": AUDIT_KEYS,  # the key prepare_database seeded with
            "DATABASE_URL": service_url,
            "PASSWORD_HASH_PROFILE": CHEAP_HASH,
            "STORAGE_DIR": str(tmp_path / "storage"),
            "AUDIT_CHECKPOINT_FILE": str(tmp_path / "checkpoints.jsonl"),
        }
    )
    client = app.test_client()

    def login(username: str) -> dict[str, str]:
        resp = client.post(
            "/api/v1/auth/tokens", json={"username": username, "password": DEMO_PASSWORD}
        )
        assert resp.status_code == 201, resp.json
        return {"Authorization": f"Bearer {resp.json['token']}"}

    # The normal flow, as the service role: submit, read, receive (which issues the receipt).
    citizen, clerk = login("congdan.roles"), login("canbo.roles")
    created = client.post(
        "/api/v1/dossiers",
        json={
            "procedure_code": MARRIAGE_STATUS,
            "agency_code": HAC_THANH,
            "channel": "online",
            "applicant": {
                "full_name": "Nguyễn Văn Sáu",
                "id_number": "038090001234",
                "birth_date": "1990-04-12",
                "address": "Số 8, phố Lê Hoàn, phường Hạc Thành, tỉnh Thanh Hóa",
            },
        },
        headers={**citizen, "Idempotency-Key": "roles-1"},
    )
    assert created.status_code == 201, created.json
    path = f"/api/v1/dossiers/{created.json['id']}"
    got = client.get(path, headers=clerk)
    assert got.status_code == 200
    received = client.post(
        f"{path}/receive", json={}, headers={**clerk, "If-Match": got.headers["ETag"]}
    )
    assert received.status_code == 200, received.json
    runner = app.test_cli_runner()
    checkpoint = runner.invoke(args=["onestop", "audit", "checkpoint"])
    assert checkpoint.exit_code == 0, checkpoint.output
    verified = runner.invoke(
        args=["onestop", "audit", "verify", "--against", str(tmp_path / "checkpoints.jsonl")]
    )
    assert verified.exit_code == 0, verified.output

    # What the service role must not do, even with the triggers out of the way.
    engine = Database.state(app).engine
    refused = [
        *(f"UPDATE {t} SET action = 'x'" for t in APPEND_ONLY),
        *(f"DELETE FROM {t}" for t in APPEND_ONLY),
        *(f"TRUNCATE {t}" for t in APPEND_ONLY),
        "DROP TRIGGER tr_audit_events_append_only ON audit_events",
        "DROP TRIGGER tr_dossier_events_append_only ON dossier_events",
        "ALTER TABLE audit_events DISABLE TRIGGER USER",
        "DROP TABLE audit_events",
        "CREATE TABLE intruder (id int)",
        "UPDATE alembic_version SET version_num = 'x'",
    ]
    for stmt in refused:
        with engine.connect() as conn:
            with pytest.raises(DBAPIError) as caught:
                conn.execute(text(stmt))
            # Refused by the privileges themselves, not by the triggers (which would say
            # "append-only"): a role that could disable them would get through.
            message = str(caught.value.orig)
            assert "permission denied" in message or "must be owner" in message, (stmt, message)
            conn.rollback()
    with engine.connect() as conn:
        events = conn.execute(text("SELECT count(*) FROM audit_events")).scalar_one()
        ledger = conn.execute(text("SELECT count(*) FROM dossier_events")).scalar_one()
    assert events > 0 and ledger > 0
    engine.dispose()

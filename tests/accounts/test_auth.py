"""Logging in and out, tokens, throttling and account administration."""

from __future__ import annotations

import unicodedata
from datetime import datetime, timedelta

from sqlalchemy import select

from onestop.accounts.models import ApiToken, User
from onestop.core.access import Role
from onestop.core.audit import AuditEvent
from tests.factories import AGENCY_A, PASSWORD, login, make_user, seed_agencies


def _login(client, username, password=PASSWORD, ip="198.51.100.7"):
    return client.post(
        "/api/v1/auth/tokens",
        json={"username": username, "password": password},
        environ_base={"REMOTE_ADDR": ip},
    )


def test_citizen_registers_then_logs_in_and_sees_themselves(client):
    resp = client.post(
        "/api/v1/accounts",
        json={
            "username": "Tran.An",
            "password": "mot-mat-khau-dai",
            "full_name": unicodedata.normalize("NFD", "Trần Văn An"),  # as typed on a Mac
            "email": "an@example.vn",
        },
    )
    assert resp.status_code == 201, resp.json
    assert resp.json["role"] == "citizen"
    assert resp.json["full_name"] == "Trần Văn An"  # stored NFC
    assert "password" not in resp.json
    headers = login(client, "tran.an", "mot-mat-khau-dai")
    me = client.get("/api/v1/accounts/me", headers=headers)
    assert me.status_code == 200 and me.json["username"] == "tran.an"


def test_registration_refuses_short_password_and_taken_username(client, session):
    body = {"username": "binh", "password": "ngan", "full_name": "Lê Bình"}
    short = client.post("/api/v1/accounts", json=body)
    assert short.status_code == 422 and short.json["type"] == "account.weak_password"
    make_user(session, Role.CITIZEN, username="binh")
    taken = client.post("/api/v1/accounts", json={**body, "password": "mat-khau-du-dai"})
    assert taken.status_code == 409 and taken.json["type"] == "account.username_taken"


def test_registration_refuses_control_and_bidi_characters(client):
    for bad in ("Lê\x00Bình", "Lê\u202eBình"):
        resp = client.post(
            "/api/v1/accounts",
            json={"username": "binh2", "password": "mat-khau-du-dai", "full_name": bad},
        )
        assert resp.status_code == 422
        assert "full_name" in resp.json["errors"]["json"]


def test_token_is_random_long_and_stored_only_as_hash(client, session):
    user = make_user(session, Role.CITIZEN)
    resp = _login(client, user.username)
    token = resp.json["token"]
    assert len(token) >= 43  # 32 random bytes, base64url: 256 bits
    stored = session.scalars(select(ApiToken.token_hash)).all()
    assert token not in stored and len(stored) == 1


def test_wrong_password_and_unknown_user_look_the_same(client, session):
    user = make_user(session, Role.CITIZEN)
    wrong = _login(client, user.username, "sai-mat-khau-roi")
    unknown = _login(client, "khong-ai-ca", "sai-mat-khau-roi")
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json["message"] == unknown.json["message"]
    assert wrong.json["type"] == "auth.invalid_credentials"


def test_logout_revokes_the_token(client, session):
    user = make_user(session, Role.CITIZEN)
    headers = login(client, user.username)
    assert client.delete("/api/v1/auth/tokens", headers=headers).status_code == 204
    again = client.get("/api/v1/accounts/me", headers=headers)
    assert again.status_code == 401 and again.json["type"] == "auth.invalid_token"


def test_expired_token_is_refused(client, session, frozen_clock):
    user = make_user(session, Role.CITIZEN)
    headers = login(client, user.username)
    frozen_clock.advance(hours=12, seconds=1)
    assert client.get("/api/v1/accounts/me", headers=headers).status_code == 401


def test_failed_logins_throttle_the_attacker_not_the_victim(client, session):
    user = make_user(session, Role.CITIZEN)
    attacker = "203.0.113.9"
    for _ in range(5):
        assert _login(client, user.username, "doan-mo-mat-khau", ip=attacker).status_code == 401
    blocked = _login(client, user.username, PASSWORD, ip=attacker)
    assert blocked.status_code == 429
    assert blocked.json["type"] == "auth.throttled"
    assert int(blocked.headers["Retry-After"]) > 0
    # The owner, from their own machine, still gets in.
    assert _login(client, user.username, PASSWORD, ip="198.51.100.20").status_code == 201


def test_one_client_spraying_many_accounts_is_throttled(client, session):
    for i in range(30):
        _login(client, f"nguoi{i}", "doan-mo-mat-khau", ip="203.0.113.50")
    user = make_user(session, Role.CITIZEN)
    assert _login(client, user.username, PASSWORD, ip="203.0.113.50").status_code == 429


def test_throttle_window_expires(client, session, frozen_clock):
    user = make_user(session, Role.CITIZEN)
    for _ in range(5):
        _login(client, user.username, "doan-mo-mat-khau")
    assert _login(client, user.username).status_code == 429
    frozen_clock.advance(minutes=16)
    assert _login(client, user.username).status_code == 201


def test_admin_creates_clerk_in_an_agency(client, session):
    seed_agencies(session)
    admin = make_user(session, Role.ADMIN)
    headers = login(client, admin.username)
    resp = client.post(
        "/api/v1/users",
        headers=headers,
        json={
            "username": "canbo.moi",
            "password": "mat-khau-can-bo-1",
            "full_name": "Hoàng Thị Lan",
            "role": "clerk",
            "agency_codes": [AGENCY_A],
        },
    )
    assert resp.status_code == 201, resp.json
    assert resp.json["agency_codes"] == [AGENCY_A]
    staff_without_agency = client.post(
        "/api/v1/users",
        headers=headers,
        json={
            "username": "canbo.thieu",
            "password": "mat-khau-can-bo-1",
            "full_name": "Hoàng Thị Lan",
            "role": "clerk",
        },
    )
    assert staff_without_agency.status_code == 422
    assert staff_without_agency.json["type"] == "account.agency_required"
    events = session.scalars(select(AuditEvent.action)).all()
    assert "user.created" in events


def test_disabling_a_user_kills_their_tokens(client, session):
    admin = make_user(session, Role.ADMIN)
    citizen = make_user(session, Role.CITIZEN)
    admin_headers = login(client, admin.username)
    citizen_headers = login(client, citizen.username)
    resp = client.post(f"/api/v1/users/{citizen.id}/disable", headers=admin_headers)
    assert resp.status_code == 200 and resp.json["is_active"] is False
    assert client.get("/api/v1/accounts/me", headers=citizen_headers).status_code == 401
    assert _login(client, citizen.username).status_code == 401
    session.expire_all()
    assert session.get(User, citizen.id).disabled_at is not None


def test_token_lifetime_follows_the_setting(client, session, frozen_clock):
    user = make_user(session, Role.CITIZEN)
    resp = _login(client, user.username)
    expires = datetime.fromisoformat(resp.json["expires_at"])
    assert expires - frozen_clock.current == timedelta(hours=12)


def test_malformed_authorization_header_is_anonymous(client):
    for value in ("Basic abc", "Bearer", "Bearer    "):
        resp = client.get("/api/v1/accounts/me", headers={"Authorization": value})
        assert resp.status_code == 401 and resp.json["type"] == "auth.required"

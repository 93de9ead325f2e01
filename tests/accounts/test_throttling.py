"""Login throttling per account (progressive delays, never a lockout), per known device, with a
CAPTCHA hook; registration limited per client (docs/accounts.md)."""

from __future__ import annotations

import pytest

from onestop.accounts.captcha import set_verifier, verifier_of
from onestop.core.access import Role
from tests.conftest import make_test_app
from tests.factories import PASSWORD, make_user

WRONG = "doan-mo-mat-khau"


def _login(client, username, password=PASSWORD, *, ip, device=None, captcha=None):
    body = {"username": username, "password": password}
    if device is not None:
        body["device_token"] = device
    if captcha is not None:
        body["captcha"] = captcha
    return client.post("/api/v1/auth/tokens", json=body, environ_base={"REMOTE_ADDR": ip})


def _botnet(client, username, n, *, start=1):
    """``n`` wrong guesses, each from an address of its own (no per-client limit is reached)."""
    for i in range(start, start + n):
        resp = _login(client, username, WRONG, ip=f"203.0.113.{i}")
        assert resp.status_code == 401, resp.json


def test_guesses_from_many_addresses_slow_the_account_down_progressively(
    client, session, frozen_clock, limiter
):
    """After 10 failures of one account from anywhere, unknown clients wait 2, 4, 8 … seconds
    after each failure: a botnet gets one guess per delay, not one per address."""
    user = make_user(session, Role.CITIZEN)
    _botnet(client, user.username, 10)
    refused = _login(client, user.username, WRONG, ip="192.0.2.1")
    assert refused.status_code == 429 and refused.json["type"] == "auth.throttled"
    assert refused.headers["Retry-After"] == "2"

    frozen_clock.advance(seconds=2)
    assert _login(client, user.username, WRONG, ip="192.0.2.2").status_code == 401
    again = _login(client, user.username, WRONG, ip="192.0.2.3")
    assert again.status_code == 429 and again.headers["Retry-After"] == "4"

    # An unknown name is slowed down exactly the same: the delay tells nobody who exists.
    _botnet(client, "khong-co-ai", 10, start=100)
    ghost = _login(client, "khong-co-ai", WRONG, ip="192.0.2.4")
    assert ghost.status_code == 429 and ghost.json == {
        **refused.json,
        "request_id": ghost.json["request_id"],
    }


def test_attempts_fired_at_once_after_the_delay_get_one_try_between_them(
    client, session, frozen_clock, limiter
):
    """When the delay runs out, one attempt is let through for all unknown clients together
    (claimed in the shared store), however many addresses fire at that instant."""
    user = make_user(session, Role.CITIZEN)
    _botnet(client, user.username, 10)
    frozen_clock.advance(seconds=2)
    # The first one in happens to be the owner on a new phone: in, and the others still wait.
    assert _login(client, user.username, PASSWORD, ip="192.0.2.10").status_code == 201
    for ip in ("192.0.2.11", "192.0.2.12", "192.0.2.13"):
        resp = _login(client, user.username, WRONG, ip=ip)
        assert resp.status_code == 429 and int(resp.headers["Retry-After"]) >= 1


def test_the_owner_is_never_locked_out(client, session, frozen_clock, limiter):
    """Under a sustained attack the owner gets in from a known device at once, and from an
    unknown one after at most LOGIN_ACCOUNT_MAX_DELAY_SECONDS."""
    user = make_user(session, Role.CITIZEN)
    first = _login(client, user.username, ip="198.51.100.20")
    assert first.status_code == 201
    device = first.json["device_token"]
    _botnet(client, user.username, 10)
    for step in range(12):  # the attacker keeps guessing as fast as the delays allow
        frozen_clock.advance(seconds=min(2 ** (step + 1), 900))
        assert _login(client, user.username, WRONG, ip=f"203.0.113.{50 + step}").status_code == 401
    waiting = _login(client, user.username, ip="192.0.2.30")
    assert waiting.status_code == 429 and int(waiting.headers["Retry-After"]) == 900

    # The owner's phone, even from the attacker's own address: straight in.
    known = _login(client, user.username, ip="203.0.113.61", device=device)
    assert known.status_code == 201, known.json
    # A new device waits the capped delay, then gets in.
    frozen_clock.advance(seconds=900)
    assert _login(client, user.username, ip="192.0.2.30").status_code == 201


def test_a_known_device_is_not_throttled_by_an_attacker_behind_the_same_nat(client, session):
    user = make_user(session, Role.CITIZEN)
    nat = "198.51.100.77"
    device = _login(client, user.username, ip=nat).json["device_token"]
    for _ in range(30):  # the per-(account, client) and per-client limits of this address
        _login(client, user.username, WRONG, ip=nat)
    assert _login(client, user.username, ip=nat).status_code == 429
    resp = _login(client, user.username, ip=nat, device=device)
    assert resp.status_code == 201, resp.json
    assert resp.json["device_token"].split(".")[0] == device.split(".")[0]  # same device


def test_a_known_device_has_its_own_failure_limit(client, session):
    user = make_user(session, Role.CITIZEN)
    device = _login(client, user.username, ip="198.51.100.5").json["device_token"]
    for _ in range(5):
        resp = _login(client, user.username, WRONG, ip=f"192.0.2.{_ + 40}", device=device)
        assert resp.status_code == 401
    stolen = _login(client, user.username, ip="192.0.2.99", device=device)
    assert stolen.status_code == 429 and stolen.json["type"] == "auth.throttled"


def test_forged_foreign_and_stale_device_tokens_count_for_nothing(client, session, frozen_clock):
    owner = make_user(session, Role.CITIZEN)
    other = make_user(session, Role.CITIZEN)
    ip = "198.51.100.9"
    foreign = _login(client, other.username, ip="192.0.2.200").json["device_token"]
    genuine = _login(client, owner.username, ip="192.0.2.201").json["device_token"]
    forged = genuine[:-1] + ("A" if genuine[-1] != "A" else "B")
    for _ in range(5):
        _login(client, owner.username, WRONG, ip=ip)
    for token in (foreign, forged, "x" * 100, "a.b.c", "....."):
        resp = _login(client, owner.username, ip=ip, device=token)
        assert resp.status_code == 429, (token, resp.json)
    frozen_clock.advance(days=181)
    for _ in range(5):
        _login(client, owner.username, WRONG, ip=ip)
    assert _login(client, owner.username, ip=ip, device=genuine).status_code == 429


def fake_captcha(response: str, *, client: str) -> bool:
    return response == f"solved-by-{client}"


def test_a_solved_captcha_replaces_the_account_delay(app, client, session, frozen_clock):
    set_verifier(app, fake_captcha)
    user = make_user(session, Role.CITIZEN)
    _botnet(client, user.username, 10)
    ip = "192.0.2.60"
    wait = _login(client, user.username, ip=ip)
    assert wait.status_code == 429 and wait.json["type"] == "auth.captcha_required"
    wrong = _login(client, user.username, ip=ip, captcha="solved-by-someone-else")
    assert wrong.status_code == 429
    assert _login(client, user.username, ip=ip, captcha=f"solved-by-{ip}").status_code == 201


def test_the_captcha_verifier_is_named_by_a_setting(database_url, tmp_path):
    app = make_test_app(
        database_url,
        STORAGE_DIR=str(tmp_path),
        LOGIN_CAPTCHA_VERIFIER="tests.accounts.test_throttling:fake_captcha",
    )
    verifier = verifier_of(app)
    assert verifier is not None and verifier.__name__ == "fake_captcha"
    assert verifier("solved-by-192.0.2.1", client="192.0.2.1") is True
    with pytest.raises(ModuleNotFoundError):
        make_test_app(database_url, LOGIN_CAPTCHA_VERIFIER="no_such_module:verify")


# ---- registration ------------------------------------------------------------------------------


def _register(client, username, *, ip, password="mat-khau-du-dai"):
    return client.post(
        "/api/v1/accounts",
        json={"username": username, "password": password, "full_name": "Lê Văn Bình"},
        environ_base={"REMOTE_ADDR": ip},
    )


def test_registration_is_limited_per_client_and_every_probe_counts(client, session, limiter):
    """Registration answers whether a name is taken (409), so the per-client limit is what
    keeps it from being a quick way to list accounts; probes count like registrations."""
    make_user(session, Role.CITIZEN, username="da.co")
    ip = "203.0.113.200"
    assert _register(client, "moi.dang.ky", ip=ip).status_code == 201
    for _ in range(19):  # probing with a short password: no account made, no hash computed
        assert _register(client, "da.co", ip=ip, password="ngan").status_code == 409
    over = _register(client, "nguoi.khac", ip=ip)
    assert over.status_code == 429 and over.json["type"] == "account.rate_limited"
    assert 1 <= int(over.headers["Retry-After"]) <= 3600
    assert "Retry-After" in over.headers and over.json["message"]
    assert _register(client, "nguoi.khac", ip="198.51.100.200").status_code == 201

"""Public status lookup: what it shows, what it hides, and that failures all look the same."""

from __future__ import annotations

import json

from sqlalchemy import select

from onestop.dossiers.models import Dossier
from tests.dossiers.helpers import CCCD, act, applicant, ok, submit

APPLICANT = applicant()
PERSONAL = [
    APPLICANT["full_name"],
    CCCD,
    "*********" + CCCD[-3:],  # not even the masked form
    APPLICANT["birth_date"],
    APPLICANT["phone"],
    APPLICANT["email"],
    APPLICANT["address"],
]


def assert_nothing_personal(body: bytes) -> None:
    text = body.decode("utf-8")
    for value in PERSONAL:
        assert value not in text, value
    # The JSON escape of the name too, should a serializer ever switch to ASCII output.
    assert json.dumps(APPLICANT["full_name"])[1:-1] not in text


def test_lookup_by_token_shows_state_procedure_and_dates_and_nothing_personal(client, received):
    resp = client.get(f"/api/v1/lookup/by-token/{received.token}")
    body = ok(resp)
    d = received.detail
    assert body["code"] == d["code"]
    assert (body["state"], body["state_code"], body["state_label"]) == (
        "received",
        2,
        "Được tiếp nhận",
    )
    assert body["procedure_code"] == d["procedure_code"]
    assert body["procedure_name"] == d["procedure_name"]
    assert body["agency_name"]
    for field in ("received_at", "promised_due_at", "legal_due_at"):
        assert body[field] == d[field] and body[field] is not None
    assert body["due_at"] == d["legal_due_at"]
    assert body["resolved_at"] is None and body["returned_at"] is None
    assert body["verdict"] == "in_progress"
    assert body["verdict_label"] == d["verdict"]["label"]
    assert_nothing_personal(resp.data)
    assert resp.headers["Cache-Control"] == "no-store"
    assert resp.headers["Referrer-Policy"] == "no-referrer"
    assert "noindex" in resp.headers["X-Robots-Tag"]


def test_lookup_by_code_and_check_gives_the_same_status_as_the_token(client, received):
    by_token = ok(client.get(f"/api/v1/lookup/by-token/{received.token}"))
    resp = client.get(
        "/api/v1/lookup", query_string={"code": received.code, "check": received.check}
    )
    assert ok(resp) == by_token
    assert_nothing_personal(resp.data)
    # Typed by hand from paper: lower case and stray spaces still find it.
    typed = {"code": f" {received.code.lower()} ", "check": f"{received.check.lower()} "}
    assert ok(client.get("/api/v1/lookup", query_string=typed)) == by_token


def test_lookup_follows_the_dossier_to_its_result(client, world, received, frozen_clock):
    c, clerk = world.client, world["clerk_a"]
    frozen_clock.advance(hours=1)
    ok(act(c, clerk, received.id, "forward", {"to_unit": "000.31.01.H56"}))
    # The unit the dossier was handed to accepts it before acting on it (docs/dossiers.md).
    ok(act(c, clerk, received.id, "accept_handover"))
    frozen_clock.advance(hours=1)
    ok(act(c, clerk, received.id, "resolve", {"result": "Đã cấp giấy xác nhận"}))
    resolved = ok(client.get(f"/api/v1/lookup/by-token/{received.token}"))
    assert resolved["state_code"] == 9 and resolved["state_label"] == "Đã xử lý xong"
    assert resolved["resolved_at"] == frozen_clock.current.isoformat()
    assert resolved["verdict"] == "early" and resolved["verdict_label"] == "Trước hạn"
    frozen_clock.advance(hours=1)
    ok(act(c, clerk, received.id, "return_result", {"method": "desk"}))
    returned = ok(client.get(f"/api/v1/lookup/by-token/{received.token}"))
    assert returned["state_code"] == 10 and returned["state_label"] == "Đã trả kết quả"
    assert returned["returned_at"] == frozen_clock.current.isoformat()
    assert returned["resolved_at"] == resolved["resolved_at"]


def _reply(resp) -> tuple[int, dict, dict]:
    body = dict(resp.json)
    assert body.pop("request_id")
    headers = {k: v for k, v in resp.headers.items() if k != "X-Request-ID"}
    return resp.status_code, body, headers


def test_every_failed_lookup_gets_the_same_reply(client, world, session, received):
    # A dossier submitted online but not yet received has a token and a check code already.
    waiting = ok(submit(world.client, world["citizen"]), 201)
    pending = session.get(Dossier, waiting["id"])
    wrong_check = "ABCDEF" if received.check != "ABCDEF" else "BCDEFG"
    failures = {
        "unknown code": client.get(
            "/api/v1/lookup", query_string={"code": received.code[:-4] + "9999", "check": "ABCDEF"}
        ),
        "wrong check code": client.get(
            "/api/v1/lookup", query_string={"code": received.code, "check": wrong_check}
        ),
        "submission number": client.get(
            "/api/v1/lookup",
            query_string={"code": pending.submission_no, "check": pending.check_code},
        ),
        # The last character changed to another one (a fixed "A" would be no change 1 time in 64).
        "wrong token": client.get(
            f"/api/v1/lookup/by-token/{received.token[:-1]}"
            + ("B" if received.token.endswith("A") else "A")
        ),
        "token of a dossier not yet received": client.get(
            f"/api/v1/lookup/by-token/{pending.lookup_token}"
        ),
        "overlong token": client.get(f"/api/v1/lookup/by-token/{'A' * 300}"),
    }
    replies = {name: _reply(resp) for name, resp in failures.items()}
    first = replies["unknown code"]
    assert first[0] == 404
    assert first[1]["type"] == "lookup.not_found"
    for name, reply in replies.items():
        assert reply == first, name
    # Byte for byte, once the per-request id is taken out.
    raw = {
        name: resp.data.replace(resp.json["request_id"].encode(), b"")
        for name, resp in failures.items()
    }
    assert len(set(raw.values())) == 1


def test_lookup_refuses_unknown_query_fields(client, received):
    resp = client.get(
        "/api/v1/lookup",
        query_string={"code": received.code, "check": received.check, "id": received.id},
    )
    assert resp.status_code == 422
    assert resp.json["type"] == "request.invalid"


def test_the_token_is_unguessable_and_the_check_code_short(client, world, session, received):
    """128 bits at least for the QR link (ASVS 5.0 V7.2.3); 6 characters to type by hand."""
    for _ in range(5):
        ok(submit(world.client, world["citizen"]), 201)
    tokens = session.scalars(select(Dossier.lookup_token)).all()
    assert len(set(tokens)) == len(tokens) == 6
    # URL-safe base64: 6 bits per character.
    assert all(len(t) * 6 >= 128 for t in tokens)
    assert len(received.check) == 6

"""Hostile and malformed input on the dossier routes: always a 4xx in the one error shape, never
a 5xx, and nothing stored (docs/security.md decision 9 and its bad-input test)."""

from __future__ import annotations

import copy
import json
import unicodedata
import uuid
from http import HTTPStatus
from typing import Any

import pytest
from sqlalchemy import func, select

from onestop.dossiers.models import Dossier
from tests.dossiers.helpers import MARRIAGE_STATUS, applicant, ok, submit
from tests.factories import AGENCY_A

NFC_NAME = "Nguyễn Thị Ánh Tuyết"
NFD_NAME = unicodedata.normalize("NFD", NFC_NAME)


def valid_body() -> dict[str, Any]:
    return {
        "procedure_code": MARRIAGE_STATUS,
        "agency_code": AGENCY_A,
        "channel": "online",
        "applicant": applicant(),
    }


def count_dossiers(session) -> int:
    return session.scalar(select(func.count()).select_from(Dossier))


def assert_refused(resp, status: int | None = None, type_: str | None = None) -> dict[str, Any]:
    """A client error in the API's one error shape (never a 5xx, never an HTML page)."""
    assert 400 <= resp.status_code < 500, (resp.status_code, resp.get_data(as_text=True)[:500])
    assert resp.mimetype == "application/json"
    body = resp.json
    assert {"code", "status", "type", "message", "request_id"} <= set(body), body
    assert body["code"] == resp.status_code
    assert body["status"] == HTTPStatus(resp.status_code).phrase
    assert body["message"] and body["type"]
    assert body["request_id"] == resp.headers["X-Request-ID"]
    if status is not None:
        assert resp.status_code == status, body
    if type_ is not None:
        assert body["type"] == type_, body
    return body


def post_dossier(client, headers, body: Any, *, raw: bytes | None = None, key: str | None = None):
    return client.post(
        "/api/v1/dossiers",
        data=raw if raw is not None else json.dumps(body),
        content_type="application/json",
        headers={**headers, "Idempotency-Key": key or uuid.uuid4().hex},
    )


def with_value(path: str, value: Any) -> dict[str, Any]:
    """The valid body with the field at dotted ``path`` set to ``value``."""
    body = copy.deepcopy(valid_body())
    *parents, last = path.split(".")
    target = body
    for p in parents:
        target = target[p]
    target[last] = value
    return body


# (case, dotted field, bad value): each must be refused with 422 naming that field.
FIELD_CASES = [
    ("NUL in the name", "applicant.full_name", "Nguyễn\x00Văn An"),
    ("NUL in the address", "applicant.address", "Số 12\x00 phố Lê Lợi"),
    ("NUL in the note", "note", "Ghi chú\x00"),
    ("NUL in the procedure code", "procedure_code", "1.004873\x00"),
    ("NUL in the agency code", "agency_code", AGENCY_A + "\x00"),
    ("NUL in the tax code", "applicant.tax_code", "0101234567\x00"),
    ("NUL in the e-mail", "applicant.email", "tuyet\x00@example.vn"),
    ("NUL in the phone", "applicant.phone", "0912\x00345678"),
    ("NUL in the delivery address", "delivery_address", "Thôn 3\x00"),
    ("lone surrogate in the name", "applicant.full_name", "Nguyễn \ud800"),
    ("lone surrogate in the tax code", "applicant.tax_code", "\ud800"),
    ("right-to-left override in the name", "applicant.full_name", "Nguyễn \u202eVăn An"),
    ("bidi isolate in the address", "applicant.address", "Số 12 \u2067phố\u2069"),
    ("zero-width space in the name", "applicant.full_name", "Nguy\u200bễn Văn An"),
    ("byte-order mark in the name", "applicant.full_name", "\ufeffNguyễn Văn An"),
    ("escape sequence in the name", "applicant.full_name", "Nguyễn \x1b[31mVăn An"),
    ("line break in the name", "applicant.full_name", "Nguyễn\nVăn An"),
    ("11-digit CCCD", "applicant.id_number", "03809000123"),
    ("13-digit CCCD", "applicant.id_number", "0380900012345"),
    ("CCCD with a bad province code", "applicant.id_number", "003090001234"),
    ("CCCD with a bad century digit", "applicant.id_number", "038890001234"),
    ("CCCD with full-width digits", "applicant.id_number", "０３８０９０００１２３４"),
    ("CCCD with letters", "applicant.id_number", "03809000123A"),
    ("CCCD born in 1990, birth date in 1991", "applicant.birth_date", "1991-04-12"),
    ("name too short", "applicant.full_name", "A"),
    ("name too long", "applicant.full_name", "Nguyễn " * 40),
    ("number of sets as a word", "sets_count", "hai"),
    ("number of sets huge", "sets_count", 10**30),
    ("number of sets zero", "sets_count", 0),
    ("number of sets fractional", "sets_count", 1.5),
    ("applicant as a string", "applicant", NFC_NAME),
    ("channel as a number", "channel", 2),
    ("unknown channel", "channel", "fax"),
    ("birth date in Vietnamese order", "applicant.birth_date", "12/04/1990"),
    ("procedure code as a number", "procedure_code", 1.004873),
    ("unknown result delivery", "result_delivery", "drone"),
    ("unknown field in the body", "colour", "đỏ"),
    ("unknown field in the applicant", "applicant.nickname", "Tuyết"),
    ("applicant kind unknown", "applicant.kind", "robot"),
]


# The birth year is encoded in the CCCD: the number is what the clerk asks to correct.
ERROR_AT = {"CCCD born in 1990, birth date in 1991": "applicant.id_number"}


def test_bad_fields_are_refused_with_422_naming_them_and_nothing_is_stored(
    world, session, frozen_clock, subtests
):
    before = count_dossiers(session)
    for case, path, value in FIELD_CASES:
        with subtests.test(case):
            resp = post_dossier(world.client, world["citizen"], with_value(path, value))
            body = assert_refused(resp, 422, "request.invalid")
            errors = body["errors"]["json"]
            for part in ERROR_AT.get(case, path).split("."):
                assert part in errors, (case, body["errors"])
                errors = errors[part]
    assert count_dossiers(session) == before


MALFORMED_BODIES = [
    ("not JSON", b'{"procedure_code": ', 400),
    ("invalid UTF-8", b'{"procedure_code": "\xff\xfe"}', 400),
    ("a JSON array", b"[]", 422),
    ("a JSON string", b'"' + NFC_NAME.encode() + b'"', 422),
    ("null", b"null", 422),
    ("NaN for a number", json.dumps(valid_body())[:-1].encode() + b', "sets_count": NaN}', 422),
    ("deeply nested", b'{"applicant": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", 400),
]


def test_malformed_bodies_are_refused(world, session, frozen_clock, subtests):
    before = count_dossiers(session)
    for case, raw, status in MALFORMED_BODIES:
        with subtests.test(case):
            assert_refused(post_dossier(world.client, world["citizen"], None, raw=raw), status)
    assert count_dossiers(session) == before


def test_oversized_body_is_refused_with_413_before_it_is_read(world, session, app, frozen_clock):
    app.config["MAX_CONTENT_LENGTH"] = 4096  # this test's app only
    before = count_dossiers(session)
    big = with_value("note", "Hồ sơ kèm ghi chú rất dài. " * 400)
    assert_refused(post_dossier(world.client, world["citizen"], big), 413, "request.too_large")
    assert count_dossiers(session) == before
    # A body under the limit still goes through.
    ok(post_dossier(world.client, world["citizen"], valid_body()), 201)


def test_nfd_name_is_stored_as_nfc_and_found_by_either_form(world, session, frozen_clock):
    """A name typed on a Mac arrives decomposed; it must be the same name as on Windows."""
    assert NFD_NAME != NFC_NAME
    body = with_value("applicant.full_name", NFD_NAME)
    body["applicant"]["address"] = unicodedata.normalize("NFD", "Phường Hạc Thành, Thanh Hóa")
    d = ok(post_dossier(world.client, world["citizen"], body), 201)
    assert d["applicant"]["full_name"] == NFC_NAME
    assert d["applicant"]["address"] == "Phường Hạc Thành, Thanh Hóa"
    stored = session.scalar(select(Dossier.applicant_name).where(Dossier.id == d["id"]))
    assert stored == NFC_NAME and len(stored) == len(NFC_NAME)
    for query in (NFC_NAME, NFD_NAME, "Ánh Tuyết", "anh tuyet"):
        found = ok(
            world.client.get(
                "/api/v1/dossiers", query_string={"q": query}, headers=world["clerk_a"]
            )
        )
        assert [i["id"] for i in found["items"]] == [d["id"]], query


BAD_QUERIES = [
    {"stat": "submitted"},  # a typo must not silently return everything
    {"state": "approved"},
    {"page": "hai"},
    {"page": "0"},
    {"page_size": "100000"},
    {"q": "Ng\x00uyễn"},
    {"q": "\u202eNguyễn"},
    {"procedure": "1.004873\x00"},
    {"code": "000.21.01.H56-260305-0001\x00"},
]


def test_bad_query_strings_on_the_list_are_refused(world, frozen_clock, subtests):
    for query in BAD_QUERIES:
        with subtests.test(repr(query)):
            resp = world.client.get(
                "/api/v1/dossiers", query_string=query, headers=world["clerk_a"]
            )
            body = assert_refused(resp, 422, "request.invalid")
            assert next(iter(query)) in body["errors"]["query"]


@pytest.fixture
def submitted(world, frozen_clock) -> dict[str, Any]:
    return ok(submit(world.client, world["citizen"]), 201)


def _transition(world, who, dossier_id, action, body, if_match):
    return world.client.post(
        f"/api/v1/dossiers/{dossier_id}/{action}",
        data=json.dumps(body),
        content_type="application/json",
        headers={**world[who], "If-Match": if_match},
    )


def _version(world, dossier_id) -> int:
    return world.client.get(f"/api/v1/dossiers/{dossier_id}", headers=world["citizen"]).json[
        "version"
    ]


BAD_IF_MATCH = ["garbage", '"d{id}-vX"', '"d{id}-v"', '"d{other}-v1"', "*", '"d{id}-v1', '""']


def test_malformed_if_match_is_412_and_changes_nothing(world, submitted, subtests):
    for if_match in BAD_IF_MATCH:
        with subtests.test(if_match):
            header = if_match.format(id=submitted["id"], other=submitted["id"] + 1000)
            resp = _transition(world, "clerk_a", submitted["id"], "receive", {}, header)
            assert_refused(resp, 412, "dossier.etag_mismatch")
    assert _version(world, submitted["id"]) == 1


TRANSITION_CASES = [
    ("receive", {"colour": "đỏ"}, "colour"),
    ("refuse", {}, "reason"),
    ("refuse", {"reason": 42}, "reason"),
    ("refuse", {"reason": "Không\x00 thuộc thẩm quyền"}, "reason"),
    ("refuse", {"reason": "\u202eKhông thuộc thẩm quyền"}, "reason"),
    ("intake-incomplete", {"missing": []}, "missing"),
    ("intake-incomplete", {"missing": "Tờ khai"}, "missing"),
    ("intake-incomplete", {"missing": ["Tờ khai\x00"]}, "missing"),
]


def test_bad_transition_bodies_are_refused_and_change_nothing(world, submitted, subtests):
    tag = f'"d{submitted["id"]}-v1"'
    for action, body, field in TRANSITION_CASES:
        with subtests.test(f"{action} {body!r}"):
            resp = _transition(world, "clerk_a", submitted["id"], action, body, tag)
            errors = assert_refused(resp, 422)["errors"]["json"]
            assert field in errors
    assert _version(world, submitted["id"]) == 1


RECEIVED_CASES = [
    ("forward", {"to_unit": "000.31.01.H56\x00"}, "to_unit"),
    ("forward", {"to_unit": "000.31.01.H56", "step_code": "xac_minh\x00"}, "step_code"),
    ("assign", {"assignee": "canbo\x00"}, "assignee"),
    ("apologize", {"reason": "Chậm xác minh", "new_due_at": "2026-03-13T17:00:00"}, "new_due_at"),
    ("request-supplement", {"missing": ["Tờ khai"], "extra": True}, "extra"),
]


def test_bad_bodies_on_a_received_dossier_are_refused(world, submitted, subtests):
    received = _transition(
        world, "clerk_a", submitted["id"], "receive", {}, f'"d{submitted["id"]}-v1"'
    )
    tag = ok(received)["version"] and received.headers["ETag"]
    for action, body, field in RECEIVED_CASES:
        with subtests.test(f"{action} {body!r}"):
            resp = _transition(world, "clerk_a", submitted["id"], action, body, tag)
            errors = assert_refused(resp, 422)["errors"]["json"]
            assert field in errors
    assert _version(world, submitted["id"]) == 2


def test_idempotency_key_reused_with_another_body_is_422(world, session, frozen_clock):
    key = uuid.uuid4().hex
    first = ok(post_dossier(world.client, world["citizen"], valid_body(), key=key), 201)
    before = count_dossiers(session)
    other = with_value("applicant.full_name", "Trần Văn Bình")
    resp = post_dossier(world.client, world["citizen"], other, key=key)
    assert_refused(resp, 422, "idempotency.key_reused")
    assert count_dossiers(session) == before
    # The same key and the same body still replay the first answer.
    again = post_dossier(world.client, world["citizen"], valid_body(), key=key)
    assert again.status_code == 201 and again.json == first
    assert again.headers["Idempotent-Replayed"] == "true"


def test_submission_without_idempotency_key_is_400(world, session, frozen_clock):
    before = count_dossiers(session)
    resp = world.client.post("/api/v1/dossiers", json=valid_body(), headers=world["citizen"])
    assert_refused(resp, 400, "idempotency.key_required")
    for bad_key in ("k" * 101, "khóa\x00", "   "):
        resp = world.client.post(
            "/api/v1/dossiers",
            json=valid_body(),
            headers={**world["citizen"], "Idempotency-Key": bad_key},
        )
        assert_refused(resp, 400)
    assert count_dossiers(session) == before

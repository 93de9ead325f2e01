"""Body limits and JSON shape limits at the edge, with the defaults as configured: a body over
its route's limit is refused with 413 before it is read, and JSON nested too deep or too wide
is a 400, never a 500."""

from __future__ import annotations

import io
import json
import logging

import pytest

from onestop.core.access import Role
from tests.factories import auth_headers

MB = 1024 * 1024


class Zeros(io.RawIOBase):
    """``size`` spaces made on demand, counting what the server pulls (the test client seeks
    to the end once to learn the length; nothing is read then)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.pos = 0
        self.pulled = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.pos

    def seek(self, offset: int, whence: int = 0) -> int:
        self.pos = self.size + offset if whence == 2 else offset
        return self.pos

    def readinto(self, buffer) -> int:
        n = max(0, min(len(buffer), self.size - self.pos))
        buffer[:n] = b" " * n
        self.pos += n
        self.pulled += n
        return n


def assert_error_shape(resp, status: int, type_: str | None = None) -> dict:
    assert resp.status_code == status, (resp.status_code, resp.get_data(as_text=True)[:300])
    body = resp.json
    assert body["code"] == status and body["message"] and body["request_id"]
    if type_:
        assert body["type"] == type_, body
    return body


def test_a_huge_anonymous_login_body_is_refused_before_it_is_read(client) -> None:
    """A 200 MB anonymous login was read whole (the worker grew by 800 MB) and answered 422."""
    body = Zeros(200 * MB)
    resp = client.post(
        "/api/v1/auth/tokens",
        input_stream=body,
        content_length=200 * MB,
        content_type="application/json",
    )
    assert_error_shape(resp, 413, "request.too_large")
    assert body.pulled == 0


def test_a_streamed_body_without_length_is_cut_off_past_the_json_limit(client) -> None:
    body = Zeros(20 * MB)
    resp = client.post(
        "/api/v1/auth/tokens",
        input_stream=body,
        content_type="application/json",
        headers={"Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input_terminated": True},
    )
    assert_error_shape(resp, 413, "request.too_large")
    assert body.pulled <= MB + 64 * 1024


def test_json_routes_have_a_small_limit_and_uploads_their_own(client, app) -> None:
    """2 MB of JSON is refused on a JSON route (the JSON limit is 1 MB), while the upload
    limit (10 MB) applies to uploads only (tests/dossiers/test_attachments.py uploads)."""
    name = "x" * (2 * MB)
    resp = client.post("/api/v1/accounts", json={"username": name, "password": name})
    assert_error_shape(resp, 413, "request.too_large")
    assert app.config["UPLOAD_MAX_FILE_BYTES"] > app.config["JSON_MAX_BYTES"]
    verify = client.post(
        "/api/v1/documents/verify",
        input_stream=Zeros(6 * MB),
        content_length=6 * MB,
        content_type="application/pdf",
    )
    assert_error_shape(verify, 413, "document.too_large")


@pytest.mark.parametrize("depth", [33, 490, 980, 5000])
def test_deeply_nested_json_is_a_400_without_a_traceback(client, caplog, depth: int) -> None:
    """Depths of 490–980 in a ~1 KB anonymous body were a 500 (the character scan recursed
    after json.loads succeeded) and a 240 KB traceback in the log."""
    raw = b'{"username": ' + b"[" * depth + b"]" * depth + b', "password": "x"}'
    with caplog.at_level(logging.INFO):
        resp = client.post("/api/v1/auth/tokens", data=raw, content_type="application/json")
    assert_error_shape(resp, 400, "request.json_too_deep")
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]


def test_json_with_too_many_values_is_a_400(client) -> None:
    raw = json.dumps({"username": "a", "password": "b", "x": list(range(20_000))})
    resp = client.post("/api/v1/auth/tokens", data=raw, content_type="application/json")
    assert_error_shape(resp, 400, "request.json_too_complex")


def test_brackets_inside_strings_do_not_count_as_nesting(client, session) -> None:
    """A name or note with many brackets and escaped quotes is ordinary text."""
    admin = auth_headers(client, session, Role.ADMIN)
    text = '[[[{{{"\\' * 40
    resp = client.post(
        "/api/v1/calendar/overrides",
        json={"date": "2026-12-31", "kind": "day_off", "name": text, "source": text},
        headers=admin,
    )
    assert resp.status_code in (201, 422), resp.json
    assert resp.json.get("type") != "request.json_too_deep"


def test_nested_json_just_under_the_bound_reaches_the_schema(client) -> None:
    raw = b'{"username": ' + b"[" * 31 + b"]" * 31 + b', "password": "x"}'
    resp = client.post("/api/v1/auth/tokens", data=raw, content_type="application/json")
    assert_error_shape(resp, 422, "request.invalid")

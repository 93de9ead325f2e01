"""The application shell: configuration, the error shape, the OpenAPI document, the docs page."""

from __future__ import annotations

import logging
import re

import pytest
from flask import Flask
from openapi_spec_validator import validate

from onestop import create_app
from onestop.config import ConfigError

ERROR_KEYS = {"code", "status", "type", "message", "request_id"}


def test_production_refuses_to_start_without_secret_key(monkeypatch, tmp_path):
    monkeypatch.delenv("ONESTOP_SECRET_KEY", raising=False)
    monkeypatch.setenv("ONESTOP_ENV", "production")
    with pytest.raises(ConfigError, match="ONESTOP_SECRET_KEY"):
        create_app({"DATABASE_URL": f"sqlite:///{tmp_path}/x.db"})


def test_production_refuses_the_development_key(monkeypatch, tmp_path):
    monkeypatch.setenv("ONESTOP_ENV", "production")
    monkeypatch.setenv("ONESTOP_SECRET_KEY", "dev-only-not-secret")
    with pytest.raises(ConfigError, match="development key"):
        create_app({"DATABASE_URL": f"sqlite:///{tmp_path}/x.db"})


def test_environment_overrides_are_typed(monkeypatch, tmp_path):
    monkeypatch.setenv("ONESTOP_SECRET_KEY", "s" * 40)
    monkeypatch.setenv("ONESTOP_AUDIT_KEYS", "a1:" + "k" * 40)
    monkeypatch.setenv("ONESTOP_TOKEN_TTL_HOURS", "3")
    monkeypatch.setenv("ONESTOP_DATABASE_URL", f"sqlite:///{tmp_path}/x.db")
    app = create_app()
    assert app.config["TOKEN_TTL_HOURS"] == 3
    assert app.config["DATABASE_URL"].endswith("x.db")


def test_unknown_database_scheme_is_named_in_the_error(monkeypatch):
    monkeypatch.setenv("ONESTOP_SECRET_KEY", "s" * 40)
    monkeypatch.setenv("ONESTOP_AUDIT_KEYS", "a1:" + "k" * 40)
    with pytest.raises(ConfigError, match="ONESTOP_DATABASE_URL"):
        create_app({"DATABASE_URL": "mysql://x/y"})


def test_default_database_is_sqlite_in_the_instance_folder(monkeypatch):
    monkeypatch.setenv("ONESTOP_SECRET_KEY", "s" * 40)
    monkeypatch.setenv("ONESTOP_AUDIT_KEYS", "a1:" + "k" * 40)
    monkeypatch.delenv("ONESTOP_DATABASE_URL", raising=False)
    app = create_app()
    assert app.config["DATABASE_URL"] == f"sqlite:///{app.instance_path}/onestop.sqlite3"


def test_sqlite_connections_use_wal_full_sync_and_foreign_keys(tmp_path):
    app = create_app({"TESTING": True, "DATABASE_URL": f"sqlite:///{tmp_path}/p.db"})
    from onestop.core.db import Database

    with Database.state(app).engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000


def test_unknown_route_gets_the_error_shape(client):
    resp = client.get("/api/v1/khong-ton-tai")
    assert resp.status_code == 404
    assert ERROR_KEYS <= resp.json.keys()
    assert resp.json["type"] == "not_found"
    assert resp.headers["X-Request-ID"] == resp.json["request_id"]


def test_wrong_method_gets_405_in_the_error_shape(client):
    resp = client.put("/api/v1/agencies")
    assert resp.status_code == 405
    assert resp.json["type"] == "request.method_not_allowed"
    assert "GET" in resp.headers["Allow"]


def test_unknown_query_parameter_is_refused(client):
    resp = client.get("/api/v1/agencies?kindd=commune")
    assert resp.status_code == 422
    assert resp.json["errors"] == {"query": {"kindd": ["Unknown field."]}}


def test_unknown_body_field_is_refused(client):
    resp = client.post(
        "/api/v1/accounts",
        json={
            "username": "nguoidan",
            "password": "mot-mat-khau-dai",
            "full_name": "Trần Văn An",
            "is_admin": True,
        },
    )
    assert resp.status_code == 422
    assert "is_admin" in resp.json["errors"]["json"]


def test_malformed_json_is_a_400_not_a_500(client):
    resp = client.post(
        "/api/v1/auth/tokens", data="{not json", headers={"Content-Type": "application/json"}
    )
    assert resp.status_code == 400
    assert resp.json["type"] == "request.bad"
    assert ERROR_KEYS <= resp.json.keys()


def test_unexpected_error_is_a_generic_500_with_request_id(app: Flask, caplog):
    @app.get("/api/v1/_boom")
    def _boom():
        raise RuntimeError("secret detail")

    with caplog.at_level(logging.ERROR):
        resp = app.test_client().get("/api/v1/_boom")
    assert resp.status_code == 500
    assert resp.json["type"] == "server.error"
    assert "secret detail" not in resp.get_data(as_text=True)
    assert resp.json["request_id"] in caplog.text
    assert "secret detail" in caplog.text


def test_openapi_document_validates_and_documents_errors(client):
    spec = client.get("/api/v1/openapi.json").json
    validate(spec)
    assert "Error" in spec["components"]["schemas"]
    error_props = spec["components"]["schemas"]["Error"]["properties"]
    assert {"code", "status", "type", "message", "errors"} <= error_props.keys()
    for path, item in spec["paths"].items():
        for method, op in item.items():
            if method not in {"get", "post", "put", "patch", "delete"}:
                continue
            codes = set(op["responses"])
            assert "default" in codes or any(c.startswith(("4", "5")) for c in codes), (
                f"{method.upper()} {path} documents no error response"
            )
            assert "x-access-policy" in op, f"{method.upper()} {path} has no access policy"


def test_openapi_lists_every_api_route(app: Flask, client):
    spec = client.get("/api/v1/openapi.json").json
    documented = {(path, method.upper()) for path, item in spec["paths"].items() for method in item}
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/") or rule.endpoint.startswith("api-docs"):
            continue
        if rule.endpoint == "apidocs_assets":
            continue
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)
        path = path.replace(">", "}")
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            assert (path, method) in documented, f"{method} {rule.rule} missing from OpenAPI"


def test_docs_page_is_served_from_local_files(client):
    page = client.get("/api/v1/docs")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "/api/v1/docs/assets/swagger-ui-bundle.js" in html
    assert "https://" not in html.replace("https://swagger.io", "")
    with client.get("/api/v1/docs/assets/swagger-ui-bundle.js") as asset:
        assert asset.status_code == 200 and len(asset.data) > 100_000


def test_docs_page_has_a_content_security_policy_that_allows_only_its_own_script(client):
    """The page had no CSP and could be framed by any site."""
    import base64
    import hashlib
    import re

    page = client.get("/api/v1/docs")
    policy = dict(
        part.strip().split(" ", 1)
        for part in page.headers["Content-Security-Policy"].split(";")
        if part.strip()
    )
    assert policy["frame-ancestors"] == "'none'" and policy["default-src"] == "'none'"
    assert page.headers["X-Frame-Options"] == "DENY"
    assert "'unsafe-inline'" not in policy["script-src"]
    assert "'unsafe-eval'" not in policy["script-src"]
    inline = re.findall(rb"<script>(.*?)</script>", page.get_data(), re.DOTALL)
    assert len(inline) == 1
    digest = base64.b64encode(hashlib.sha256(inline[0]).digest()).decode()
    assert f"'sha256-{digest}'" in policy["script-src"].split()


def test_nul_bytes_and_lone_surrogates_are_refused_on_every_route(client):
    """No field of any feature may carry a NUL byte or a lone surrogate to the database:
    PostgreSQL answers NUL with a server error, and SQLite would store it."""
    cases = [
        client.post("/api/v1/auth/tokens", json={"username": "a\x00b", "password": "x"}),
        client.post(
            "/api/v1/auth/tokens",
            data='{"username": "a\\ud800b", "password": "x"}',  # a lone surrogate, escaped
            content_type="application/json",
        ),
        client.get("/api/v1/procedures?q=dang%00ky"),
        client.get("/api/v1/agencies/000.00.00.H56?on=2026-01-01%00"),
        client.post(
            "/api/v1/accounts",
            json={"username": "nguoidan", "password": "mat-khau-dai-1", "full_name": "A\x00"},
        ),
    ]
    for resp in cases:
        assert resp.status_code == 422, (resp.status_code, resp.get_data(as_text=True))
        assert resp.json["type"] == "request.invalid"
    assert "username" in cases[0].json["errors"]["json"]
    assert "q" in cases[2].json["errors"]["query"]


def test_query_parameters_on_a_route_that_takes_none_are_refused(client):
    resp = client.get("/api/v1/agencies/000.00.00.H56?admin=1")
    assert resp.status_code == 422
    assert resp.json["errors"] == {"query": {"admin": ["Unknown field."]}}


def test_nul_in_a_path_parameter_is_a_400_not_a_database_error(client):
    resp = client.get("/api/v1/agencies/000.00.00%00.H56")
    assert resp.status_code == 400 and resp.json["type"] == "request.bad_path"
    resp = client.get("/api/v1/procedures/1.001193%00")
    assert resp.status_code == 400

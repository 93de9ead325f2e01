"""onestop: backend for Vietnam's one-stop public-service desks; ``create_app`` is the entry."""

from __future__ import annotations

import importlib
import logging
from pathlib import Path
from typing import Any

import swagger_ui_bundle
from flask import Flask, Response, g, request, send_from_directory

from onestop.config import load_config
from onestop.core import logs
from onestop.core.csp import docs_page_policy
from onestop.core.errors import register_error_handlers, request_id
from onestop.core.guards import (
    IdConverter,
    SlotConverter,
    limit_request_body,
    refuse_unparsed_input,
)
from onestop.extensions import api, db

# Feature packages that expose ``blp`` (an API blueprint) in their ``api`` module, in the order
# they appear in the OpenAPI document; a dotted name is the module itself (a second blueprint).
FEATURES = [
    "accounts",
    "agencies",
    "catalogue",
    "dossiers",
    "calendars",
    "lookup",
    "dossiers.attachments_api",
    "documents.api",
    "queues",
]

API_DESCRIPTION = """\
REST API of onestop, the one-stop public-service desk (một cửa điện tử) backend.

Authenticate with `POST /api/v1/auth/tokens` and send `Authorization: Bearer <token>`.
Every error has the same JSON shape (`ErrorSchema`): `code`, `status`, `type` (a stable slug),
`message` (Vietnamese), `errors` (per field, when fields are wrong) and `request_id`.
Unknown fields in bodies and query strings are refused with 422.
"""


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the application. Never touches the database, never starts threads."""
    app = Flask(__name__, instance_relative_config=True)
    load_config(app, test_config)
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    _configure_logging(app)

    app.config.update(
        API_TITLE="onestop",
        API_VERSION="v1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/api/v1",
        OPENAPI_JSON_PATH="openapi.json",
        OPENAPI_SWAGGER_UI_PATH="docs",
        # Served from the swagger-ui-bundle package below: the machines have no internet.
        OPENAPI_SWAGGER_UI_URL="/api/v1/docs/assets/",
        API_SPEC_OPTIONS={
            "info": {"description": API_DESCRIPTION},
            "components": {
                "securitySchemes": {
                    "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "opaque"}
                }
            },
        },
        JSON_SORT_KEYS=False,
    )
    app.json.ensure_ascii = False  # Vietnamese stays readable in responses

    # Before any route is added: every <int:...> path parameter is a bounded identifier.
    app.url_map.converters["int"] = IdConverter
    app.url_map.converters["slot"] = SlotConverter
    db.init_app(app)
    api.init_app(app)
    api.register_converter(SlotConverter, SlotConverter.openapi_schema)
    register_error_handlers(app)  # after smorest, so our handlers replace its own

    assets = swagger_ui_bundle.swagger_ui_path
    app.add_url_rule(
        "/api/v1/docs/assets/<path:filename>",
        endpoint="apidocs_assets",
        view_func=lambda filename: send_from_directory(assets, filename, max_age=86400),
    )

    # Every model, so that Base.metadata is complete (the models-versus-migrations check).
    importlib.import_module("onestop.models")
    for name in FEATURES:
        module = importlib.import_module(f"onestop.{name}" + ("" if "." in name else ".api"))
        api.register_blueprint(module.blp)
        if hasattr(module, "init_app"):
            module.init_app(app)

    from onestop.cli import onestop_cli

    app.cli.add_command(onestop_cli)

    @app.before_request
    def _fresh_request_state() -> None:
        # An app context can outlive one request (tests, CLI); per-request values must not.
        for key in (
            "principal",
            "principal_loaded",
            "request_id",
            "body_limit",
            "body_too_large",
        ):
            g.pop(key, None)

    # Health, readiness and metrics (the assembly's own routes, outside the API document).
    # Imported here, like the features: importing ``onestop`` must not load every layer.
    from onestop import ops

    # Timed from here, so that a request refused by the checks below is counted too.
    app.before_request(ops.start_timer)
    app.after_request(ops.observe)
    ops.init_app(app)

    @app.before_request
    def _limit_body() -> None:
        limit_request_body(app)

    @app.before_request
    def _refuse_what_no_schema_sees() -> None:
        refuse_unparsed_input(app)

    @app.after_request
    def _headers(resp: Response) -> Response:
        resp.headers["X-Request-ID"] = request_id()
        resp.headers.setdefault("X-Content-Type-Options", "nosniff")
        resp.headers.setdefault("Referrer-Policy", "no-referrer")
        if resp.mimetype == "application/json":
            resp.headers.setdefault("Cache-Control", "no-store")
        if request.endpoint == "api-docs.openapi_swagger_ui":
            resp.headers["Content-Security-Policy"] = docs_page_policy(resp.get_data())
            resp.headers["X-Frame-Options"] = "DENY"
        return resp

    return app


def _configure_logging(app: Flask) -> None:
    logs.configure(app.config["LOG_FORMAT"])
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
    # WeasyPrint logs every rendering step at INFO; only its warnings matter to operators.
    logging.getLogger("weasyprint.progress").setLevel(logging.WARNING)

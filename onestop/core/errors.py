"""Domain errors with stable ``type`` slugs, and the one JSON error shape of the whole API.

Every error the API returns looks like::

    {"code": 422, "status": "Unprocessable Entity", "type": "request.invalid",
     "message": "Dữ liệu gửi lên không hợp lệ.", "errors": {"json": {"field": ["..."]}},
     "request_id": "..."}

``errors`` is present only when fields are wrong.
"""

from __future__ import annotations

import logging
import uuid
from http import HTTPStatus
from typing import Any

from flask import Flask, Response, g, jsonify, request
from marshmallow import Schema, fields
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)


class DomainError(Exception):
    """Base of the errors services raise; the API turns them into the error shape."""

    status = 400
    type = "request.bad"
    default_message = "Yêu cầu không hợp lệ."

    def __init__(
        self,
        message: str | None = None,
        *,
        type: str | None = None,
        errors: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message or self.default_message)
        self.message = message or self.default_message
        if type:
            self.type = type
        self.errors = errors
        self.headers = headers or {}


class BadRequest(DomainError):
    status = 400
    type = "request.bad"


class Unauthenticated(DomainError):
    status = 401
    type = "auth.required"
    default_message = "Cần đăng nhập để thực hiện thao tác này."

    def __init__(self, message: str | None = None, **kw: Any) -> None:
        kw.setdefault("headers", {"WWW-Authenticate": 'Bearer realm="onestop"'})
        super().__init__(message, **kw)


class PermissionDenied(DomainError):
    status = 403
    type = "auth.forbidden"
    default_message = "Bạn không có quyền thực hiện thao tác này."


class NotFound(DomainError):
    status = 404
    type = "not_found"
    default_message = "Không tìm thấy."


class Conflict(DomainError):
    status = 409
    type = "conflict"
    default_message = "Dữ liệu đã bị thay đổi bởi một thao tác khác."


class PreconditionFailed(DomainError):
    status = 412
    type = "precondition_failed"
    default_message = "Phiên bản hồ sơ đã cũ; hãy tải lại và thử lại."


class PreconditionRequired(DomainError):
    status = 428
    type = "precondition_required"
    default_message = "Thiếu tiêu đề If-Match với ETag của hồ sơ."


class RuleViolation(DomainError):
    status = 422
    type = "rule_violation"
    default_message = "Thao tác vi phạm quy định."


class TooManyRequests(DomainError):
    status = 429
    type = "rate_limited"
    default_message = "Quá nhiều yêu cầu; vui lòng thử lại sau."


class ErrorSchema(Schema):
    """The error shape, documented once in the OpenAPI file and used by every response."""

    code = fields.Integer(required=True, metadata={"description": "HTTP status code"})
    status = fields.String(required=True, metadata={"description": "HTTP status name"})
    type = fields.String(
        required=True, metadata={"description": "stable machine-readable slug, e.g. auth.required"}
    )
    message = fields.String(required=True, metadata={"description": "Vietnamese, for people"})
    errors = fields.Dict(metadata={"description": "per-location, per-field messages"})
    request_id = fields.String(metadata={"description": "quote it when reporting a problem"})


# Messages and slugs for errors raised by Flask/Werkzeug/webargs rather than by our services.
_HTTP_DEFAULTS: dict[int, tuple[str, str]] = {
    400: ("request.bad", "Yêu cầu không hợp lệ."),
    401: ("auth.required", "Cần đăng nhập để thực hiện thao tác này."),
    403: ("auth.forbidden", "Bạn không có quyền thực hiện thao tác này."),
    404: ("not_found", "Không tìm thấy."),
    405: ("request.method_not_allowed", "Phương thức không được hỗ trợ cho địa chỉ này."),
    406: ("request.not_acceptable", "Không có định dạng phản hồi phù hợp."),
    409: ("conflict", "Dữ liệu đã bị thay đổi bởi một thao tác khác."),
    412: ("precondition_failed", "Phiên bản đã cũ; hãy tải lại và thử lại."),
    413: ("request.too_large", "Dữ liệu gửi lên vượt quá dung lượng cho phép."),
    415: ("request.unsupported_media_type", "Định dạng dữ liệu gửi lên không được hỗ trợ."),
    422: ("request.invalid", "Dữ liệu gửi lên không hợp lệ."),
    428: ("precondition_required", "Thiếu tiêu đề điều kiện bắt buộc."),
    429: ("rate_limited", "Quá nhiều yêu cầu; vui lòng thử lại sau."),
    500: ("server.error", "Lỗi hệ thống; vui lòng thử lại sau và báo mã yêu cầu."),
}


def request_id() -> str:
    if "request_id" not in g:
        incoming = request.headers.get("X-Request-ID", "") if request else ""
        # Accept a proxy's id only when it is short and plain, so it cannot inject log lines.
        ok = 0 < len(incoming) <= 64 and incoming.replace("-", "").isalnum()
        g.request_id = incoming if ok else uuid.uuid4().hex
    rid: str = g.request_id
    return rid


def error_response(
    status: int,
    type_: str | None = None,
    message: str | None = None,
    errors: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    default_type, default_message = _HTTP_DEFAULTS.get(
        status, ("request.bad" if status < 500 else "server.error", HTTPStatus(status).phrase)
    )
    body: dict[str, Any] = {
        "code": status,
        "status": HTTPStatus(status).phrase,
        "type": type_ or default_type,
        "message": message or default_message,
        "request_id": request_id(),
    }
    if errors:
        body["errors"] = errors
    resp = jsonify(body)
    resp.status_code = status
    for k, v in (headers or {}).items():
        resp.headers[k] = v
    return resp


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(DomainError)
    def _domain(err: DomainError) -> Response:
        return error_response(err.status, err.type, err.message, err.errors, err.headers)

    @app.errorhandler(HTTPException)
    def _http(err: HTTPException) -> Response:
        status = err.code or 500
        data = getattr(err, "data", None) or {}
        errors = data.get("messages") or data.get("errors")
        headers = dict(data.get("headers") or {})
        if status == 405 and err.valid_methods:  # type: ignore[attr-defined]
            headers["Allow"] = ", ".join(err.valid_methods)  # type: ignore[attr-defined]
        if status >= 500:
            return _unexpected(err)
        too_large = g.get("body_too_large")
        if status == 413 and too_large is not None:
            # A streamed body cut off at the route's limit (``guards.limit_request_body``).
            return _domain(too_large())
        return error_response(status, None, data.get("message"), errors, headers)

    @app.errorhandler(Exception)
    def _unexpected(err: BaseException) -> Response:
        original = getattr(err, "original_exception", None) or err
        # The details go to the log with the request id, never to the client.
        log.error(
            "unexpected error, request_id=%s %s %s",
            request_id(),
            request.method,
            request.path,
            exc_info=original,
        )
        return error_response(500)

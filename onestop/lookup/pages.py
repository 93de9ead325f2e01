"""``/tra-cuu/<token>``: the small Vietnamese page a citizen reaches by scanning the receipt's QR.

Plain HTML for a phone: no JavaScript, no external assets, one inline style sheet allowed by its
hash in a strict Content-Security-Policy. The page shows what the JSON lookup shows and nothing
personal; every failure gives the same "Không tìm thấy hồ sơ" page with status 404.
"""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

from flask import Blueprint, Response, render_template
from markupsafe import Markup

from onestop.core.access import access
from onestop.core.clock import now
from onestop.core.errors import NotFound, TooManyRequests
from onestop.core.ratelimit import LimiterUnavailable
from onestop.core.vndates import format_datetime_long
from onestop.dossiers.clock import Verdict
from onestop.extensions import db
from onestop.lookup import services
from onestop.lookup.limits import PRIVATE_HEADERS, enforce_limits

pages = Blueprint("lookup_pages", __name__, template_folder="templates")

CSS = (Path(__file__).parent / "templates" / "lookup" / "page.css").read_text(encoding="utf-8")
CSS_HASH = base64.b64encode(hashlib.sha256(CSS.encode("utf-8")).digest()).decode("ascii")
# Nothing may load or run: the only thing allowed is the style sheet whose hash is listed.
CONTENT_SECURITY_POLICY = (
    f"default-src 'none'; style-src 'sha256-{CSS_HASH}'; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'"
)

NOT_FOUND_PARAGRAPHS = (
    "Đường dẫn tra cứu không đúng, chưa đầy đủ hoặc hồ sơ chưa được tiếp nhận.",
    "Vui lòng quét lại mã QR trên Giấy tiếp nhận hồ sơ và hẹn trả kết quả, "
    "hoặc liên hệ bộ phận một cửa nơi đã nộp hồ sơ.",
)
LATE = {Verdict.LATE, Verdict.LATE_WITH_APOLOGY, Verdict.OVERDUE}


def _page(
    template: str, status_code: int, headers: dict[str, str] | None = None, **context
) -> Response:
    html = render_template(f"lookup/{template}", css=Markup(CSS), **context)  # noqa: S704 - our own file
    resp = Response(html, status=status_code, mimetype="text/html")
    resp.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    for name, value in {**PRIVATE_HEADERS, **(headers or {})}.items():
        resp.headers[name] = value
    return resp


def rows_of(status: services.PublicStatus) -> list[tuple[str, str]]:
    """Label and value of each line on the page, dates in the long Vietnamese form."""
    rows = [
        ("Mã hồ sơ", status.code),
        ("Thủ tục", status.procedure_name),
        ("Cơ quan tiếp nhận", status.agency_name),
    ]
    dates = [
        ("Thời gian tiếp nhận", status.received_at),
        ("Hẹn trả kết quả (theo giấy tiếp nhận)", status.promised_due_at),
    ]
    if status.extended_due_at is not None:
        dates.append(("Ngày hẹn trả kết quả mới", status.extended_due_at))
    elif status.due_at is not None and status.due_at != status.promised_due_at:
        # The legal date moved by the time the dossier waited for the citizen (supplement).
        dates.append(("Hạn giải quyết hiện tại", status.due_at))
    dates += [
        ("Thời gian có kết quả", status.resolved_at),
        ("Thời gian trả kết quả", status.returned_at),
    ]
    rows += [(label, format_datetime_long(at)) for label, at in dates if at is not None]
    rows.append(("Tiến độ giải quyết", status.verdict_label))
    return rows


@pages.route("/tra-cuu/<string:token>")
@access.public
def status_page(token: str) -> Response:
    """The status page behind the receipt's QR code."""
    at = now()
    try:
        enforce_limits(None)
        status = services.by_token(db.session, token, now=at)
    except TooManyRequests as exc:
        wait = exc.headers.get("Retry-After", "60")
        return _page(
            "message.html",
            429,
            {"Retry-After": wait},
            heading="Quá nhiều lượt tra cứu",
            paragraphs=(
                "Bạn đã tra cứu quá nhiều lần trong thời gian ngắn.",
                f"Vui lòng thử lại sau {wait} giây.",
            ),
        )
    except NotFound:
        return _page(
            "message.html", 404, heading="Không tìm thấy hồ sơ", paragraphs=NOT_FOUND_PARAGRAPHS
        )
    except LimiterUnavailable:
        return _page(
            "message.html",
            503,
            {"Retry-After": "60"},
            heading="Tạm thời chưa tra cứu được",
            paragraphs=("Hệ thống đang bận; vui lòng thử lại sau ít phút.",),
        )
    return _page(
        "status.html",
        200,
        status=status,
        rows=rows_of(status),
        late=status.verdict in LATE,
        checked_at=format_datetime_long(at),
    )

"""The page behind the receipt's QR code: Vietnamese, readable on a phone, locked down."""

from __future__ import annotations

import base64
import hashlib
import re
from datetime import UTC, datetime

import pytest
from sqlalchemy import update

from onestop.catalogue.models import ProcedureVersion
from onestop.dossiers.models import Dossier
from onestop.lookup.pages import format_datetime_long
from tests.lookup.test_lookup import assert_nothing_personal


def style_hash(page: str) -> str:
    css = re.search(r"<style>(.*?)</style>", page, re.S).group(1)
    return base64.b64encode(hashlib.sha256(css.encode()).digest()).decode()


def assert_locked_down(resp) -> None:
    csp = resp.headers["Content-Security-Policy"]
    page = resp.get_data(as_text=True)
    assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp
    # The one inline style sheet is allowed by its hash, and nothing else is.
    assert f"style-src 'sha256-{style_hash(page)}'" in csp
    assert "unsafe-inline" not in csp
    assert "<script" not in page and "style=" not in page
    assert not re.search(r"(src|href)=", page), "no external assets, no links"
    assert resp.headers["Referrer-Policy"] == "no-referrer"
    assert resp.headers["Cache-Control"] == "no-store"
    assert "noindex" in resp.headers["X-Robots-Tag"]
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in page
    assert '<html lang="vi">' in page


def test_the_page_shows_the_status_in_vietnamese(client, received):
    resp = client.get(f"/tra-cuu/{received.token}")
    assert resp.status_code == 200
    assert resp.headers["Content-Type"] == "text/html; charset=utf-8"
    page = resp.get_data(as_text=True)
    assert "Tình trạng hồ sơ" in page
    assert "Được tiếp nhận" in page
    assert received.code in page
    assert received.detail["procedure_name"] in page
    # Received Thursday 05/03/2026 at 14:30 Hà Nội time, due three working days later.
    assert "Thời gian tiếp nhận" in page
    assert "14 giờ 30 phút, ngày 05 tháng 3 năm 2026" in page
    assert "Hẹn trả kết quả (theo giấy tiếp nhận)" in page
    assert "17 giờ 00 phút, ngày 10 tháng 3 năm 2026" in page
    assert "Đang giải quyết, trong hạn" in page
    assert_nothing_personal(resp.data)
    assert received.token not in page
    assert_locked_down(resp)


def test_a_wrong_token_gets_the_not_found_page(client, received):
    resp = client.get(f"/tra-cuu/{received.token[:-2]}zz")
    assert resp.status_code == 404
    page = resp.get_data(as_text=True)
    assert "Không tìm thấy hồ sơ" in page
    assert received.code not in page
    assert_locked_down(resp)
    other = client.get("/tra-cuu/khong-co-ho-so-nay")
    assert other.status_code == 404 and other.data == resp.data


def test_text_on_the_page_is_escaped(client, session, received):
    """Procedure names come from catalogue files; on the page they are text, never markup."""
    d = session.get(Dossier, received.id)
    session.execute(
        update(ProcedureVersion)
        .where(ProcedureVersion.id == d.procedure_version_id)
        .values(name='Thủ tục <img src=x onerror="alert(1)"> & <b>đậm</b>')
    )
    session.commit()
    page = client.get(f"/tra-cuu/{received.token}").get_data(as_text=True)
    assert (
        "Thủ tục &lt;img src=x onerror=&#34;alert(1)&#34;&gt; &amp; &lt;b&gt;đậm&lt;/b&gt;" in page
    )
    assert "<img" not in page and "<b>" not in page


@pytest.mark.parametrize(
    ("instant", "expected"),
    [
        (datetime(2026, 3, 5, 7, 30, tzinfo=UTC), "14 giờ 30 phút, ngày 05 tháng 3 năm 2026"),
        # Months 1 and 2 keep their leading zero (Decree 30/2020, Appendix I).
        (datetime(2026, 2, 9, 1, 5, tzinfo=UTC), "08 giờ 05 phút, ngày 09 tháng 02 năm 2026"),
        # 20:00 UTC on 31 January is already 1 February in Hà Nội.
        (datetime(2026, 1, 31, 20, 0, tzinfo=UTC), "03 giờ 00 phút, ngày 01 tháng 02 năm 2026"),
        (datetime(2026, 12, 31, 10, 0, tzinfo=UTC), "17 giờ 00 phút, ngày 31 tháng 12 năm 2026"),
    ],
)
def test_dates_read_as_on_the_receipt(instant, expected):
    assert format_datetime_long(instant) == expected

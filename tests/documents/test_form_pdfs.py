"""The seven forms as a citizen or a clerk reads them: text, dates, codes, both copies, QR."""

from __future__ import annotations

import io
import re
import subprocess
import unicodedata
from pathlib import Path
from typing import Any

import pytest
import zxingcpp
from PIL import Image
from pypdf import PdfReader

from onestop.documents.forms import (
    ApologyData,
    ControlSlipData,
    FormData,
    ReceiptData,
    RefusalData,
    RegisterData,
    StopNoticeData,
    SupplementRequestData,
)
from onestop.documents.render import format_datetime_long, render_form
from tests.documents.conftest import (
    APPLICANT,
    CODE,
    apology_dict,
    control_slip_dict,
    pdf_text,
    receipt_dict,
    refusal_dict,
    register_dict,
    stop_notice_dict,
    supplement_dict,
)

NAME = APPLICANT["name"]
# pdftotext sometimes drops the space before a hyphen, depending on the page's spacing.
HEADING = re.compile(r"CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM Độc lập ?- ?Tự do ?- ?Hạnh phúc")


def in_cell(phrase: str, text: str) -> bool:
    """Whether the words of ``phrase`` appear in order, as text wrapped inside a table cell reads.

    pdftotext reads a table line by line across the columns, so a phrase wrapped in its cell is
    interleaved with the neighbouring cells' lines; only a short gap is allowed between words.
    """
    words = phrase.split()
    pattern = r"\s(?:.{0,60}?\s)?".join(re.escape(w) for w in words)
    return re.search(pattern, text) is not None


def render(cls: type[FormData], data: dict[str, Any]) -> tuple[FormData, bytes]:
    form = cls.from_dict(data)
    return form, render_form(form).pdf


def nfd(data: Any) -> Any:
    """The same sample with every string decomposed, as a Mac keyboard would send it."""
    if isinstance(data, dict):
        return {k: nfd(v) for k, v in data.items()}
    if isinstance(data, list):
        return [nfd(v) for v in data]
    if isinstance(data, str):
        return unicodedata.normalize("NFD", data)
    return data


def fonts_in(pdf: bytes) -> set[str]:
    names = set()
    for page in PdfReader(io.BytesIO(pdf)).pages:
        for font in page["/Resources"]["/Font"].values():
            names.add(str(font.get_object()["/BaseFont"]).split("+", 1)[-1])
    return names


@pytest.mark.parametrize("decompose", [False, True], ids=["nfc", "nfd"])
def test_receipt_prints_code_applicant_dates_and_processing_time(
    decompose: bool, tmp_path: Path
) -> None:
    data = receipt_dict()
    form, pdf = render(ReceiptData, nfd(data) if decompose else data)
    text = pdf_text(pdf, tmp_path)
    assert unicodedata.is_normalized("NFC", text)
    assert "GIẤY TIẾP NHẬN HỒ SƠ VÀ HẸN TRẢ KẾT QUẢ" in text
    assert HEADING.search(text)
    assert "UBND TỈNH THANH HÓA" in text
    assert "Thanh Hóa, ngày 05 tháng 3 năm 2026" in text
    assert f"Mã hồ sơ: {CODE}" in text
    assert f"Tiếp nhận hồ sơ của: {NAME}" in text
    assert "Địa chỉ: Số 12, ngõ 34, đường Trần Phú, phường Hạc Thành, tỉnh Thanh Hóa" in text
    assert "Thời gian giải quyết hồ sơ theo quy định là: 03 ngày làm việc" in text
    assert "Thời gian nhận hồ sơ: 14 giờ 30 phút, ngày 05 tháng 3 năm 2026" in text
    assert (
        "Thời gian trả kết quả giải quyết hồ sơ: 17 giờ 00 phút, ngày 10 tháng 3 năm 2026" in text
    )
    assert "Biên bản họp thành viên hộ gia đình về việc thành lập hộ kinh doanh" in text
    assert "Quyển số: 03/2026, Số thứ tự: 0001" in text
    assert "Đặng Hữu Phước" in text
    assert form.lookup_url in text


def test_receipt_has_two_copies_on_two_a4_pages(tmp_path: Path) -> None:
    _, pdf = render(ReceiptData, receipt_dict())
    reader = PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) == 2
    for page in reader.pages:
        assert (round(float(page.mediabox.width)), round(float(page.mediabox.height))) == (595, 842)
    first, second = pdf_text(pdf, tmp_path, first=1), pdf_text(pdf, tmp_path, first=2)
    assert "(Liên 1: Lưu)" in first and "Liên 2" not in first
    assert "(Liên 2: Giao người nộp hồ sơ)" in second and "Liên 1" not in second
    for page_text in (first, second):
        assert f"Mã hồ sơ: {CODE}" in page_text
        assert "NGƯỜI NỘP HỒ SƠ" in page_text and "NGƯỜI TIẾP NHẬN HỒ SƠ" in page_text


def test_receipt_qr_code_on_each_copy_opens_the_public_lookup(tmp_path: Path) -> None:
    form, pdf = render(ReceiptData, receipt_dict())
    path = tmp_path / "receipt.pdf"
    path.write_bytes(pdf)
    subprocess.run(
        ["pdftoppm", "-r", "150", "-png", str(path), str(tmp_path / "page")],
        check=True,
        timeout=60,
    )
    pages = sorted(tmp_path.glob("page*.png"))
    assert len(pages) == 2
    for png in pages:
        with Image.open(png) as image:
            found = zxingcpp.read_barcodes(image)
        assert [b.text for b in found] == [form.lookup_url]
    assert form.lookup_url == "https://dichvucong.thanhhoa.gov.vn/tra-cuu/q3Zt9wR1xKp7LmNc2VbYhA"


def test_supplement_request_lists_every_missing_item_and_the_reason(tmp_path: Path) -> None:
    _, pdf = render(SupplementRequestData, supplement_dict())
    text = pdf_text(pdf, tmp_path)
    assert "PHIẾU YÊU CẦU BỔ SUNG, HOÀN THIỆN HỒ SƠ" in text
    assert "Số: 15/HDHS" in text
    assert f"Tiếp nhận hồ sơ của: {NAME}" in text
    assert "1. Bản sao Căn cước công dân của các thành viên hộ gia đình" in text
    assert "2. Giấy đề nghị đăng ký hộ kinh doanh: ghi rõ ngành, nghề kinh doanh" in text
    assert "Lý do: Hồ sơ chưa đủ thành phần theo quy định tại Nghị định 168/2025/NĐ-CP." in text
    assert "NGƯỜI HƯỚNG DẪN" in text and "Lê Thị Hồng Nhung" in text
    # Incomplete at intake: the dossier is not received, so no code is printed.
    assert "Mã hồ sơ" not in text


def test_refusal_gives_each_reason(tmp_path: Path) -> None:
    _, pdf = render(RefusalData, refusal_dict())
    text = pdf_text(pdf, tmp_path)
    assert "PHIẾU TỪ CHỐI TIẾP NHẬN GIẢI QUYẾT HỒ SƠ" in text
    assert "thông báo không tiếp nhận, giải quyết hồ sơ này với lý do cụ thể như sau:" in text
    assert (
        "1. Ngành, nghề đề nghị đăng ký thuộc danh mục ngành, nghề cấm đầu tư kinh doanh." in text
    )
    assert "2. Địa điểm kinh doanh nằm ngoài địa giới hành chính của tỉnh." in text
    assert f"Tiếp nhận hồ sơ của: {NAME}" in text


def test_apology_gives_the_old_and_the_new_return_time(tmp_path: Path) -> None:
    _, pdf = render(ApologyData, apology_dict())
    text = pdf_text(pdf, tmp_path)
    assert "PHIẾU XIN LỖI VÀ HẸN LẠI NGÀY TRẢ KẾT QUẢ" in text
    assert "Thanh Hóa, ngày 09 tháng 3 năm 2026" in text
    assert f"Kính gửi: {NAME}" in text
    assert f"Mã hồ sơ: {CODE}" in text
    assert "Vào lúc 14 giờ 30 phút, ngày 05 tháng 3 năm 2026" in text
    assert (
        "thời gian trả kết quả giải quyết hồ sơ là 17 giờ 00 phút, ngày 10 tháng 3 năm 2026" in text
    )
    assert "vào 16 giờ 00 phút, ngày 13 tháng 3 năm 2026" in text
    assert "lý do: Cần xác minh thông tin địa điểm kinh doanh" in text
    assert "KT. GIÁM ĐỐC PHÓ GIÁM ĐỐC" in text and "Trịnh Văn Quyết" in text
    assert "Sở Tài chính tỉnh Thanh Hóa" in text


def test_stop_notice_gives_the_request_and_the_reason(tmp_path: Path) -> None:
    _, pdf = render(StopNoticeData, stop_notice_dict())
    text = pdf_text(pdf, tmp_path)
    assert "Về việc dừng giải quyết hồ sơ thủ tục hành chính" in text
    assert f"Mã hồ sơ: {CODE}" in text and f"Kính gửi: {NAME}" in text
    assert "Vào lúc 08 giờ 05 phút, ngày 08 tháng 3 năm 2026, Ông/Bà có yêu cầu dừng" in text
    assert "Lý do dừng giải quyết hồ sơ: Người nộp hồ sơ có văn bản đề nghị rút hồ sơ." in text
    assert "kể từ ngày 09 tháng 3 năm 2026" in text
    assert "Lê Văn Thắng" in text


def test_control_slip_has_a_row_per_handover(tmp_path: Path) -> None:
    form, pdf = render(ControlSlipData, control_slip_dict())
    assert isinstance(form, ControlSlipData)
    text = pdf_text(pdf, tmp_path)
    assert "PHIẾU KIỂM SOÁT QUÁ TRÌNH GIẢI QUYẾT HỒ SƠ" in text
    assert f"Mã hồ sơ: {CODE}" in text and NAME in text
    for phrase in (
        "1. Giao: Bộ phận Một cửa",
        "1. Nhận: Phòng Đăng ký kinh doanh",
        "2. Giao: Phòng Đăng ký kinh doanh",
        "2. Nhận: Bộ phận Một cửa",
        "Người giao: Hoàng Minh Đức",
        "Người nhận: Đặng Hữu Phước",
        "15 giờ 10 phút, ngày 05 tháng 3 năm 2026",
        "16 giờ 10 phút, ngày 09 tháng 3 năm 2026",
    ):
        assert in_cell(phrase, text), phrase
    for step in form.steps:
        assert in_cell(format_datetime_long(step.handed_at), text)
    assert not in_cell("17 giờ 10 phút, ngày 09 tháng 3 năm 2026", text)
    assert "Trước hạn" in text and "Đúng hạn" in text and "Đã ký số kết quả" in text


def test_register_lists_every_dossier_of_the_period(tmp_path: Path) -> None:
    form, pdf = render(RegisterData, register_dict(entries=40))
    assert isinstance(form, RegisterData)
    text = pdf_text(pdf, tmp_path)
    assert "SỔ THEO DÕI HỒ SƠ" in text
    assert "Quyển số: 03/2026. Từ ngày 01 tháng 3 năm 2026 đến ngày 31 tháng 3 năm 2026" in text
    # Codes may wrap after a hyphen in their narrow column; the date and sequence part is unique.
    for entry in form.entries:
        assert entry.dossier_code.split("-", 1)[1] in text
    assert "Trương Ngọc Ẩn" in text
    reader = PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) > 1
    width, height = reader.pages[0].mediabox.width, reader.pages[0].mediabox.height
    assert width > height  # landscape
    assert f"Trang {len(reader.pages)}/{len(reader.pages)}" in text


def test_empty_register_says_so(tmp_path: Path) -> None:
    _, pdf = render(RegisterData, register_dict(entries=0))
    assert "Không có hồ sơ trong kỳ." in pdf_text(pdf, tmp_path)


@pytest.mark.parametrize(
    ("cls", "sample"),
    [
        (ReceiptData, receipt_dict),
        (SupplementRequestData, supplement_dict),
        (RefusalData, refusal_dict),
        (ApologyData, apology_dict),
        (StopNoticeData, stop_notice_dict),
        (ControlSlipData, control_slip_dict),
        (RegisterData, register_dict),
    ],
    ids=lambda x: getattr(x, "__name__", ""),
)
def test_every_form_is_pdf_a_3u_in_the_bundled_font_only(
    cls: type[FormData], sample: Any, tmp_path: Path
) -> None:
    form = cls.from_dict(sample())
    doc = render_form(form)
    assert doc.pdf.startswith(b"%PDF-1.7")
    reader = PdfReader(io.BytesIO(doc.pdf))
    xmp = reader.xmp_metadata
    assert xmp is not None
    raw = reader.trailer["/Root"]["/Metadata"].get_object().get_data()
    assert b'pdfaid:part="3"' in raw and b'pdfaid:conformance="U"' in raw
    assert "/OutputIntents" in reader.trailer["/Root"]
    # Only our font is embedded: nothing was filled in from the system's fonts.
    assert fonts_in(doc.pdf) and all(name.startswith("Onestop-Serif") for name in fonts_in(doc.pdf))
    assert doc.form_code == form.form_code and doc.template_version == form.template_version
    assert HEADING.search(pdf_text(doc.pdf, tmp_path))


def test_rendering_is_reproducible_from_the_stored_snapshot() -> None:
    first = render_form(ReceiptData.from_dict(receipt_dict()))
    again = render_form(ReceiptData.from_dict(first.snapshot))
    assert again.pdf == first.pdf
    assert again.sha256 == first.sha256
    other = render_form(ReceiptData.from_dict(receipt_dict(register_entry="0002")))
    assert other.sha256 != first.sha256

"""Demo data for the seven forms (Thanh Hóa, as a desk fills them in) and PDF reading helpers."""

from __future__ import annotations

import re
import subprocess
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

VN = ZoneInfo("Asia/Ho_Chi_Minh")

HEADER = {
    "agency": "UBND tỉnh Thanh Hóa",
    "unit": "Trung tâm Phục vụ hành chính công tỉnh",
    "place": "Thanh Hóa",
    "issued_at": "2026-03-05T14:30:00+07:00",
}

APPLICANT = {
    "name": "Nguyễn Thị Ánh Tuyết",
    "id_number": "038186012345",
    "address": "Số 12, ngõ 34, đường Trần Phú, phường Hạc Thành, tỉnh Thanh Hóa",
    "phone": "0912 345 678",
    "email": "anhtuyet.nguyen@example.vn",
}

PROCEDURE = "Cấp Giấy chứng nhận đăng ký hộ kinh doanh (thủ tục 2.000575.000.00.00.H56)"
CODE = "000.00.10.H56-260305-0001"


def receipt_dict(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "header": dict(HEADER),
        "dossier_code": CODE,
        "applicant": dict(APPLICANT),
        "procedure_name": PROCEDURE,
        "documents": [
            {
                "name": "Giấy đề nghị đăng ký hộ kinh doanh (Mẫu Phụ lục III-1)",
                "originals": 1,
                "certified_copies": 0,
                "photocopies": 0,
            },
            {
                "name": "Bản sao Căn cước công dân của chủ hộ kinh doanh",
                "originals": 0,
                "certified_copies": 1,
                "photocopies": 0,
            },
            {
                "name": "Biên bản họp thành viên hộ gia đình về việc thành lập hộ kinh doanh",
                "originals": 1,
                "certified_copies": 0,
                "photocopies": 1,
            },
            {
                "name": "Hợp đồng thuê địa điểm kinh doanh",
                "originals": 0,
                "certified_copies": 0,
                "photocopies": 1,
            },
        ],
        "sets_count": 1,
        "processing_time": "03 ngày làm việc",
        "received_at": "2026-03-05T14:30:00+07:00",
        "appointment_at": "2026-03-10T17:00:00+07:00",
        "result_delivery": "Quầy số 5, Trung tâm Phục vụ hành chính công tỉnh Thanh Hóa",
        "register_volume": "03/2026",
        "register_entry": "0001",
        "receiving_officer": "Đặng Hữu Phước",
        "lookup_base_url": "https://dichvucong.thanhhoa.gov.vn",
        "lookup_token": "q3Zt9wR1xKp7LmNc2VbYhA",
        "check_code": "ZFS4DP",
    }
    data.update(overrides)
    return data


def supplement_dict(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "header": {**HEADER, "number": "15/HDHS"},
        "dossier_code": None,
        "applicant": dict(APPLICANT),
        "procedure_name": PROCEDURE,
        "items": [
            "Bản sao Căn cước công dân của các thành viên hộ gia đình",
            "Giấy đề nghị đăng ký hộ kinh doanh: ghi rõ ngành, nghề kinh doanh",
        ],
        "reason": "Hồ sơ chưa đủ thành phần theo quy định tại Nghị định 168/2025/NĐ-CP.",
        "guidance": "Quầy số 5, số điện thoại 0237 3 753 888",
        "guiding_officer": "Lê Thị Hồng Nhung",
    }
    data.update(overrides)
    return data


def refusal_dict(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "header": {**HEADER, "number": "03/TCHS"},
        "dossier_code": None,
        "applicant": dict(APPLICANT),
        "procedure_name": PROCEDURE,
        "reasons": [
            "Ngành, nghề đề nghị đăng ký thuộc danh mục ngành, nghề cấm đầu tư kinh doanh.",
            "Địa điểm kinh doanh nằm ngoài địa giới hành chính của tỉnh.",
        ],
        "receiving_officer": "Đặng Hữu Phước",
    }
    data.update(overrides)
    return data


def apology_dict(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "header": {**HEADER, "issued_at": "2026-03-09T09:15:00+07:00", "number": "12/PXL"},
        "dossier_code": CODE,
        "applicant": dict(APPLICANT),
        "procedure_name": PROCEDURE,
        "received_at": "2026-03-05T14:30:00+07:00",
        "appointment_at": "2026-03-10T17:00:00+07:00",
        "reason": "Cần xác minh thông tin địa điểm kinh doanh với UBND phường Hạc Thành.",
        "new_appointment_at": "2026-03-13T16:00:00+07:00",
        "signer_title": "KT. Giám đốc",
        "signer_role": "Phó Giám đốc",
        "signer_name": "Trịnh Văn Quyết",
        "recipients": ["Như trên", "Sở Tài chính tỉnh Thanh Hóa"],
    }
    data.update(overrides)
    return data


def stop_notice_dict(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "header": {**HEADER, "issued_at": "2026-03-09T10:00:00+07:00", "number": "07/TB-TTPVHCC"},
        "dossier_code": CODE,
        "applicant": dict(APPLICANT),
        "procedure_name": PROCEDURE,
        "received_at": "2026-03-05T14:30:00+07:00",
        "requested_at": "2026-03-08T08:05:00+07:00",
        "reason": "Người nộp hồ sơ có văn bản đề nghị rút hồ sơ.",
        "signer_title": "Giám đốc",
        "signer_role": None,
        "signer_name": "Lê Văn Thắng",
        "recipients": ["Như trên"],
    }
    data.update(overrides)
    return data


def control_slip_dict(**overrides: Any) -> dict[str, Any]:
    t0 = datetime(2026, 3, 5, 15, 10, tzinfo=VN)
    data: dict[str, Any] = {
        "header": dict(HEADER),
        "dossier_code": CODE,
        "applicant_name": APPLICANT["name"],
        "procedure_name": PROCEDURE,
        "received_at": "2026-03-05T14:30:00+07:00",
        "appointment_at": "2026-03-10T17:00:00+07:00",
        "steps": [
            {
                "from_unit": "Bộ phận Một cửa",
                "to_unit": "Phòng Đăng ký kinh doanh",
                "handed_at": t0.isoformat(),
                "giver": "Đặng Hữu Phước",
                "receiver": "Hoàng Minh Đức",
                "result": "Đúng hạn",
                "note": None,
            },
            {
                "from_unit": "Phòng Đăng ký kinh doanh",
                "to_unit": "Bộ phận Một cửa",
                "handed_at": (t0 + timedelta(days=4, hours=1)).isoformat(),
                "giver": "Hoàng Minh Đức",
                "receiver": "Đặng Hữu Phước",
                "result": "Trước hạn",
                "note": "Đã ký số kết quả",
            },
        ],
    }
    data.update(overrides)
    return data


def register_entry(i: int) -> dict[str, Any]:
    # Four dossiers a working day, from 08:00, Monday to Friday.
    day, slot = divmod(i, 4)
    week, weekday = divmod(day, 5)
    received = datetime(2026, 3, 2, 8, 0, tzinfo=VN) + timedelta(
        days=7 * week + weekday, hours=2 * slot, minutes=5 * (i % 7)
    )
    return {
        "dossier_code": f"000.00.10.H56-{received:%y%m%d}-{i + 1:04d}",
        "procedure_name": "Chứng thực bản sao từ bản chính giấy tờ, văn bản",
        "sets_count": 1,
        "applicant_name": ["Nguyễn Thị Ánh Tuyết", "Đặng Hữu Phước", "Trương Ngọc Ẩn"][i % 3],
        "applicant_contact": "Phường Hạc Thành, tỉnh Thanh Hóa; 0912 345 678",
        "handling_agency": "Sở Tư pháp",
        "received_at": received.isoformat(),
        "appointment_at": (received + timedelta(days=1)).isoformat(),
        "transferred_at": (received + timedelta(minutes=40)).isoformat(),
        "result_received_at": None,
        "returned_at": None,
        "note": None,
    }


def register_dict(entries: int = 12, **overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "header": {**HEADER, "issued_at": "2026-04-01T08:00:00+07:00"},
        "volume": "03/2026",
        "period_start": "2026-03-01",
        "period_end": "2026-03-31",
        "entries": [register_entry(i) for i in range(entries)],
    }
    data.update(overrides)
    return data


def pdf_text(pdf: bytes, tmp_path: Path, *, first: int | None = None) -> str:
    """Text of a PDF as poppler's pdftotext reads it, each run of white space made one space."""
    path = tmp_path / "doc.pdf"
    path.write_bytes(pdf)
    args = ["pdftotext", "-enc", "UTF-8"]
    if first is not None:
        args += ["-f", str(first), "-l", str(first)]
    out = subprocess.run([*args, str(path), "-"], check=True, capture_output=True, timeout=60)
    return re.sub(r"\s+", " ", out.stdout.decode("utf-8"))


@pytest.fixture
def text_of(tmp_path: Path):
    return lambda pdf, **kw: pdf_text(pdf, tmp_path, **kw)

"""Form input records: NFC normalisation, caps on every field, refusals that name the field."""

from __future__ import annotations

import json
import time
import unicodedata
from typing import Any

import pytest

from onestop.core.glyphs import supported_codepoints
from onestop.documents.forms import (
    FORM_TYPES,
    ApologyData,
    Applicant,
    ControlSlipData,
    FormData,
    FormValidationError,
    ReceiptData,
    RefusalData,
    RegisterData,
    StopNoticeData,
    SupplementRequestData,
)
from tests.documents.conftest import (
    apology_dict,
    control_slip_dict,
    receipt_dict,
    refusal_dict,
    register_dict,
    stop_notice_dict,
    supplement_dict,
)

SAMPLES: list[tuple[type[FormData], Any]] = [
    (ReceiptData, receipt_dict),
    (SupplementRequestData, supplement_dict),
    (RefusalData, refusal_dict),
    (ApologyData, apology_dict),
    (StopNoticeData, stop_notice_dict),
    (ControlSlipData, control_slip_dict),
    (RegisterData, register_dict),
]


def text_paths(data: Any, prefix: str = "") -> list[str]:
    """Dotted paths of every string value in a sample, e.g. ``applicant.name``, ``items[0]``."""
    paths: list[str] = []
    if isinstance(data, dict):
        for key, value in data.items():
            paths += text_paths(value, f"{prefix}.{key}" if prefix else key)
    elif isinstance(data, list):
        for i, value in enumerate(data[:1]):
            paths += text_paths(value, f"{prefix}[{i}]")
    elif isinstance(data, str):
        paths.append(prefix)
    return paths


def set_path(data: Any, path: str, value: Any) -> None:
    parts = path.replace("[", ".[").split(".")
    for part in parts[:-1]:
        data = data[int(part[1:-1])] if part.startswith("[") else data[part]
    last = parts[-1]
    if last.startswith("["):
        data[int(last[1:-1])] = value
    else:
        data[last] = value


def test_every_form_code_from_01_to_07_has_a_record_type() -> None:
    assert sorted(FORM_TYPES) == ["01", "02", "03", "04", "05", "06", "07"]
    assert len({cls.template_version for cls in FORM_TYPES.values()}) == 7


@pytest.mark.parametrize(("cls", "sample"), SAMPLES, ids=lambda x: getattr(x, "__name__", ""))
def test_snapshot_is_json_and_rebuilds_the_same_record(cls: type[FormData], sample: Any) -> None:
    form = cls.from_dict(sample())
    snapshot = form.to_dict()
    again = cls.from_dict(json.loads(json.dumps(snapshot)))
    assert again == form
    assert again.to_dict() == snapshot


def test_nfd_input_is_stored_as_nfc() -> None:
    nfd_name = unicodedata.normalize("NFD", "Nguyễn Thị Ánh Tuyết")
    assert nfd_name != "Nguyễn Thị Ánh Tuyết"
    data = receipt_dict()
    data["applicant"]["name"] = nfd_name
    form = ReceiptData.from_dict(data)
    assert form.applicant.name == "Nguyễn Thị Ánh Tuyết"
    assert form.to_dict()["applicant"]["name"] == "Nguyễn Thị Ánh Tuyết"


@pytest.mark.parametrize(("cls", "sample"), SAMPLES, ids=lambda x: getattr(x, "__name__", ""))
def test_every_text_field_is_capped_and_the_error_names_it(
    cls: type[FormData], sample: Any
) -> None:
    paths = text_paths(sample())
    assert len(paths) >= 5
    for path in paths:
        data = sample()
        set_path(data, path, "A" * 200_000)
        started = time.perf_counter()
        with pytest.raises(FormValidationError) as err:
            cls.from_dict(data)
        assert time.perf_counter() - started < 0.5  # a render of this would take seconds
        assert err.value.field == path


def test_list_sizes_are_capped() -> None:
    too_many = receipt_dict(documents=[receipt_dict()["documents"][0]] * 31)
    with pytest.raises(FormValidationError) as err:
        ReceiptData.from_dict(too_many)
    assert err.value.field == "documents"
    with pytest.raises(FormValidationError) as err:
        RegisterData.from_dict(register_dict(entries=RegisterData.max_entries + 1))
    assert err.value.field == "entries"
    with pytest.raises(FormValidationError) as err:
        SupplementRequestData.from_dict(supplement_dict(items=[]))
    assert err.value.field == "items"


def test_a_character_the_font_cannot_draw_is_refused_by_field_name() -> None:
    # Chinese, emoji and Khmer are outside the bundled font: the form is refused, not half-printed.
    for text in ("Nguyễn 阮", "Tuyết 🙂", "ស្រី"):
        assert any(ord(ch) not in supported_codepoints() for ch in text)
        data = receipt_dict()
        data["applicant"]["address"] = text
        with pytest.raises(FormValidationError) as err:
            ReceiptData.from_dict(data)
        assert err.value.field == "applicant.address"
        assert "phông chữ" in err.value.message


def test_every_vietnamese_letter_with_every_tone_is_drawable() -> None:
    base = "aăâeêioôơuưyAĂÂEÊIOÔƠUƯY"
    tones = ["", "\u0300", "\u0301", "\u0309", "\u0303", "\u0323"]
    letters = {unicodedata.normalize("NFC", b + t) for b in base for t in tones} | set("đĐ")
    assert all(len(ch) == 1 for ch in letters)
    missing = sorted(ch for ch in letters if ord(ch) not in supported_codepoints())
    assert missing == []
    assert len(letters) == 146


@pytest.mark.parametrize("bad", ["Nguyễn\u202eTuyết", "Nguyễn\x00", "Nguyễn\u200bTuyết", "a\nb"])
def test_control_bidi_and_line_break_characters_are_refused(bad: str) -> None:
    with pytest.raises(FormValidationError) as err:
        Applicant.from_dict({**receipt_dict()["applicant"], "name": bad})
    assert err.value.field == "name"


def test_multiline_fields_keep_their_line_breaks() -> None:
    form = SupplementRequestData.from_dict(supplement_dict(reason="Dòng một.\r\nDòng hai."))
    assert form.reason == "Dòng một.\nDòng hai."


def test_unknown_and_missing_fields_are_refused() -> None:
    with pytest.raises(FormValidationError) as err:
        ReceiptData.from_dict(receipt_dict(colour="red"))
    assert err.value.field == "colour"
    data = receipt_dict()
    del data["appointment_at"]
    with pytest.raises(FormValidationError) as err:
        ReceiptData.from_dict(data)
    assert err.value.field == "appointment_at"


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("received_at", "2026-03-05T14:30:00"),  # no time zone
        ("received_at", "5/3/2026"),
        ("dossier_code", "000.00.10.H56-2603-1"),
        ("dossier_code", "000.00.10.h56-260305-0001"),
        ("lookup_token", "short"),
        ("lookup_token", "q3Zt9wR1xKp7LmNc2VbYhA/../x"),
        ("lookup_base_url", "javascript:alert(1)"),
        ("lookup_base_url", 'https://example.vn/"><img src=x>'),
        ("sets_count", 0),
        ("sets_count", True),
        ("applicant.phone", "gọi tôi"),
        ("applicant.id_number", "0381 8601"),
        ("applicant.name", "   "),
    ],
)
def test_malformed_values_are_refused(path: str, value: Any) -> None:
    data = receipt_dict()
    set_path(data, path, value)
    with pytest.raises(FormValidationError) as err:
        ReceiptData.from_dict(data)
    assert err.value.field == path


def test_dates_must_run_forwards() -> None:
    with pytest.raises(FormValidationError) as err:
        ReceiptData.from_dict(receipt_dict(appointment_at="2026-03-05T14:00:00+07:00"))
    assert err.value.field == "appointment_at"
    with pytest.raises(FormValidationError) as err:
        ApologyData.from_dict(apology_dict(new_appointment_at="2026-03-10T16:00:00+07:00"))
    assert err.value.field == "new_appointment_at"
    with pytest.raises(FormValidationError) as err:
        RegisterData.from_dict(register_dict(period_end="2026-02-28"))
    assert err.value.field == "period_end"


def test_direct_construction_runs_the_same_checks() -> None:
    good = ReceiptData.from_dict(receipt_dict())
    with pytest.raises(FormValidationError) as err:
        Applicant(name="x" * 201, address="Thanh Hóa", id_number=None, phone=None, email=None)
    assert err.value.field == "name"
    assert good.lookup_url == "https://dichvucong.thanhhoa.gov.vn/tra-cuu/q3Zt9wR1xKp7LmNc2VbYhA"

"""Long unbroken text wraps inside its line or cell; nothing is clipped off the printed form.

Found by trying it: a 200-character name without spaces ran off the right edge of the receipt
and only about 40 characters were on the page. Every field may hold such text (a name typed
without spaces, an address pasted from a system that drops them): each one must be on the page
in full. pdftotext reads only what lies on the page, in drawing order (``-raw``), so a field
clipped at the edge is missing from its output.
"""

from __future__ import annotations

import dataclasses
import re
import subprocess
import unicodedata
from pathlib import Path
from typing import Any

import pytest

from onestop.documents.forms import FormData, _List, _Nested, _Text
from onestop.documents.render import render_form
from tests.documents.test_form_data import SAMPLES, set_path, text_paths

# Vietnamese letters with every kind of mark, and no space anywhere.
UNBROKEN = "ĐặngThịÁnhTuyếtNguyễnVănHạcThànhHoằngHóaThọXuân" * 10


def spec_at(cls: type, path: str) -> Any:
    """The check (``_Text``, ``_List``…) of the field at a dotted path of a form's plain data."""
    spec: Any = None
    record = cls
    for part in path.replace("[", ".[").split("."):
        spec = spec.item if part.startswith("[") else None
        if spec is None:
            spec = {f.name: f for f in dataclasses.fields(record)}[part].metadata["spec"]
        if isinstance(spec, _Nested):
            record = spec.cls
        elif isinstance(spec, _List) and isinstance(spec.item, _Nested):
            record = spec.item.cls
    return spec


def page_text(pdf: bytes, tmp_path: Path) -> str:
    path = tmp_path / "form.pdf"
    path.write_bytes(pdf)
    out = subprocess.run(
        ["pdftotext", "-raw", "-enc", "UTF-8", str(path), "-"],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return unicodedata.normalize("NFC", out.stdout.decode("utf-8"))


@pytest.mark.parametrize(("cls", "sample"), SAMPLES, ids=lambda x: getattr(x, "__name__", ""))
def test_every_free_text_field_prints_in_full_however_long_and_unbroken(
    cls: type[FormData], sample: Any, tmp_path: Path
) -> None:
    data = sample(entries=1) if cls.__name__ == "RegisterData" else sample()
    filled: dict[str, str] = {}
    for i, path in enumerate(text_paths(data)):
        spec = spec_at(cls, path)
        if not isinstance(spec, _Text) or spec.pattern is not None:
            continue  # codes, numbers, addresses of the web: formats of their own
        # A tag per field, so one field's text cannot stand in for another's.
        value = f"F{i:02d}{UNBROKEN}"[: min(spec.max_len, 200)]
        set_path(data, path, value)
        filled[path] = value
    assert len(filled) >= 5
    text = re.sub(r"\s+", "", page_text(render_form(cls.from_dict(data)).pdf, tmp_path))
    # Headings set some fields in capitals (text-transform), so either case counts.
    clipped = [p for p, v in filled.items() if v not in text and v.upper() not in text]
    assert clipped == []


def test_a_200_character_name_is_on_the_receipt_in_full(tmp_path: Path) -> None:
    from tests.documents.conftest import receipt_dict

    data = receipt_dict()
    name = UNBROKEN[:200]
    data["applicant"]["name"] = name
    text = re.sub(r"\s+", "", page_text(render_form(SAMPLES[0][0].from_dict(data)).pdf, tmp_path))
    assert name in text

"""User text at the boundary: NFC normalisation, and refusal of invisible or control characters.

A name typed on a Mac arrives decomposed (NFD); the same name from Windows is composed (NFC).
Both must match, so every text is normalised to NFC before it is stored or compared
(docs/security.md decision 9). NUL bytes are refused on both databases (PostgreSQL rejects them,
SQLite would store them), as are bidi overrides that can disguise a name.
"""

from __future__ import annotations

import unicodedata
from typing import Any

from marshmallow import ValidationError, fields

# Bidirectional controls (Trojan Source, CVE-2021-42574) and zero-width characters that make two
# different strings look the same.
_FORBIDDEN = {
    *map(chr, range(0x202A, 0x202F)),
    *map(chr, range(0x2066, 0x206A)),
    "\u200e",
    "\u200f",
    "\u061c",
    "\u200b",
    "\u200c",
    "\u200d",
    "\u2060",
    "\ufeff",
}


def clean_text(value: str, *, multiline: bool = False) -> str:
    """Return the NFC form of ``value``; raise ``ValueError`` on control or bidi characters."""
    for ch in value:
        if ch in _FORBIDDEN:
            raise ValueError("Văn bản chứa ký tự điều khiển hướng chữ hoặc ký tự ẩn.")
        if unicodedata.category(ch) in {"Cc", "Cs", "Co", "Cn"} and not (
            multiline and ch in "\n\t"
        ):
            raise ValueError("Văn bản chứa ký tự điều khiển không hợp lệ.")
    return unicodedata.normalize("NFC", value).strip()


def fold(value: str) -> str:
    """Lower case without diacritics, for search: ``Đăng ký`` → ``dang ky``.

    Done in Python (not by the database) so that SQLite and PostgreSQL give the same results.
    """
    value = unicodedata.normalize("NFD", value.casefold().replace("đ", "d").replace("Đ", "d"))
    stripped = "".join(ch for ch in value if not unicodedata.combining(ch))
    return " ".join(stripped.split())


class Text(fields.String):
    """A string field that normalises to NFC and refuses control and bidi characters."""

    def __init__(self, *args: Any, multiline: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.multiline = multiline

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> str:
        raw = super()._deserialize(value, attr, data, **kwargs)
        try:
            return clean_text(raw, multiline=self.multiline)
        except ValueError as exc:
            raise ValidationError(str(exc)) from exc

"""User text at the boundary: NFC normalisation, and refusal of invisible or control characters.

A name typed on a Mac arrives decomposed (NFD); the same name from Windows is composed (NFC).
Both must match, so every text is normalised to NFC before it is stored or compared
(docs/security.md decision 9). NUL bytes are refused on both databases (PostgreSQL rejects them,
SQLite would store them), as are bidi overrides that can disguise a name.

Text that reaches a statutory form (names, addresses, reasons, results) is also held to what the
bundled fonts can draw (``printable``, see ``core.glyphs`` and docs/documents.md): refused at the
boundary with the field and the character named, never accepted and then unprintable on the
receipt. Spaces with a plain equivalent (no-break, ideographic, medium mathematical…) become an
ordinary space first.
"""

from __future__ import annotations

import unicodedata
from typing import Any

from marshmallow import ValidationError, fields

from onestop.core.glyphs import describe, first_unprintable, supported_codepoints

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


# Space characters (Unicode category Zs) with an ordinary space as their clear equivalent; some
# are not in the fonts (U+1680, U+205F, U+3000) and all of them look like a space to the reader.
_SPACES = str.maketrans(
    {
        ch: " "
        for ch in (
            "\u00a0",
            "\u1680",
            *map(chr, range(0x2000, 0x200B)),
            "\u202f",
            "\u205f",
            "\u3000",
        )
    }
)


class UnprintableText(ValueError):
    """The text holds a character the bundled fonts cannot draw; ``char`` is the first one."""

    def __init__(self, char: str) -> None:
        super().__init__(f"Ký tự {describe(char)} không in được trên giấy tờ (phông chữ không có).")
        self.char = char


def clean_text(value: str, *, multiline: bool = False, printable: bool = False) -> str:
    """Return the NFC form of ``value``; raise ``ValueError`` on control or bidi characters.

    With ``printable``, exotic spaces become ordinary ones and a character the forms' fonts cannot
    draw raises :class:`UnprintableText`.
    """
    if printable:
        value = value.translate(_SPACES)
    for ch in value:
        if ch in _FORBIDDEN:
            raise ValueError("Văn bản chứa ký tự điều khiển hướng chữ hoặc ký tự ẩn.")
        if unicodedata.category(ch) in {"Cc", "Cs", "Co", "Cn"} and not (
            multiline and ch in "\n\t"
        ):
            raise ValueError("Văn bản chứa ký tự điều khiển không hợp lệ.")
    text = unicodedata.normalize("NFC", value).strip()
    if printable and (bad := first_unprintable(text, multiline=multiline)) is not None:
        raise UnprintableText(bad)
    return text


# What a form shows in place of a character it cannot draw, in a row stored before the rule above
# held at the boundary (docs/documents.md). U+25A1 WHITE SQUARE is in the fonts.
PLACEHOLDER = "\u25a1"


def printable_or_placeholder(value: str, *, multiline: bool = False) -> tuple[str, bool]:
    """``value`` made printable for a form: exotic spaces made plain, NFC, and each character
    the fonts cannot draw (or a control, bidi or zero-width one) replaced by
    :data:`PLACEHOLDER`. The flag says whether anything had to be replaced."""
    text = unicodedata.normalize("NFC", value.translate(_SPACES)).strip()
    if not multiline:
        text = " ".join(text.splitlines())
    glyphs = supported_codepoints()
    out = [
        ch
        if (multiline and ch == "\n")
        or (ord(ch) in glyphs and ch not in _FORBIDDEN and unicodedata.category(ch) != "Cc")
        else PLACEHOLDER
        for ch in text
    ]
    return "".join(out), any(o != ch for o, ch in zip(out, text, strict=True))


def fold(value: str) -> str:
    """Lower case without diacritics, for search: ``Đăng ký`` → ``dang ky``.

    Done in Python (not by the database) so that SQLite and PostgreSQL give the same results.
    """
    value = unicodedata.normalize("NFD", value.casefold().replace("đ", "d").replace("Đ", "d"))
    stripped = "".join(ch for ch in value if not unicodedata.combining(ch))
    return " ".join(stripped.split())


def printable(value: str) -> None:
    """A marshmallow validator for fields that are not ``Text`` (an e-mail address, say) but are
    printed on a form: the same printable rule, the same message."""
    if (ch := first_unprintable(value)) is not None:
        raise ValidationError(str(UnprintableText(ch)))


class Text(fields.String):
    """A string field that normalises to NFC and refuses control and bidi characters.

    ``printable=True`` for every field whose value can reach a statutory form: the value must
    be drawable by the forms' fonts (docs/documents.md, "Text the forms can print").
    """

    def __init__(
        self, *args: Any, multiline: bool = False, printable: bool = False, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.multiline = multiline
        self.printable = printable

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> str:
        raw = super()._deserialize(value, attr, data, **kwargs)
        try:
            return clean_text(raw, multiline=self.multiline, printable=self.printable)
        except ValueError as exc:
            raise ValidationError(str(exc)) from exc

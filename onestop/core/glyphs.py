"""The bundled fonts and the code points they can draw: what "printable" means for a form.

The statutory forms (Circular 01/2018/TT-VPCP; docs/documents.md) are set only in the bundled
Liberation Serif faces, never in a fallback font, so a character missing from them cannot be
printed on a receipt or a notice. The same set decides at the API boundary (``core.text``) and
in the renderer (``documents.forms``): one rule, read from the fonts themselves.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from importlib.resources.abc import Traversable

from fontTools.ttLib import TTFont

# The four faces used by the templates (documents/assets/forms.css). A character must be in all of
# them, because any field may be set in bold or italic.
FONT_FILES = (
    "LiberationSerif-Regular.ttf",
    "LiberationSerif-Bold.ttf",
    "LiberationSerif-Italic.ttf",
    "LiberationSerif-BoldItalic.ttf",
)


def font_dir() -> Traversable:
    return resources.files("onestop.core") / "fonts"


@cache
def supported_codepoints() -> frozenset[int]:
    """Code points every bundled face can draw (read once from the fonts' cmap tables)."""
    sets = []
    for name in FONT_FILES:
        with (font_dir() / name).open("rb") as fh:
            sets.append(frozenset(TTFont(fh, lazy=True).getBestCmap()))
    return frozenset.intersection(*sets)


def first_unprintable(text: str, *, multiline: bool = False) -> str | None:
    """The first character of ``text`` the fonts cannot draw (line breaks allowed when
    ``multiline``), or None when all of it prints."""
    glyphs = supported_codepoints()
    for ch in text:
        if ord(ch) not in glyphs and not (multiline and ch == "\n"):
            return ch
    return None


def describe(ch: str) -> str:
    """``«🙂» (U+1F642)``: the character and its code point, for a message a person reads."""
    return f"«{ch}» (U+{ord(ch):04X})"

"""Rendering of the one-stop forms to PDF/A-3u: Vietnamese dates, the locked fetcher, WeasyPrint.

Imports neither Flask nor the database: the input is a validated ``FormData`` from ``forms.py``
and the output is bytes plus the snapshot they were rendered from, for the caller to store.

Security model (docs/documents.md): templates are autoescaped and put user text only in text nodes;
WeasyPrint gets a fetcher that serves the package's own fonts and refuses every other URL by
stopping the render; fields are capped in ``forms.py`` so a render stays bounded.
"""

from __future__ import annotations

import hashlib
import io
import logging
import threading
from dataclasses import dataclass
from importlib import resources
from typing import Any

import jinja2
import segno
from markupsafe import Markup
from weasyprint import CSS, HTML
from weasyprint.css import ColorProfile
from weasyprint.text.fonts import FontConfiguration
from weasyprint.urls import FatalURLFetchingError, URLFetcher, URLFetcherResponse

from onestop.core.glyphs import FONT_FILES, font_dir
from onestop.core.vndates import (
    format_date_long,
    format_date_short,
    format_datetime_long,
    format_datetime_short,
    format_place_date,
)
from onestop.documents.forms import FormData

log = logging.getLogger(__name__)

# Our own URL scheme: the fetcher answers it from an in-memory table and nothing else.
ASSET_PREFIX = "onestop-asset:"

PDF_VARIANT = "pdf/a-3u"
# PDF/A needs an output intent. WeasyPrint 70 opens its sRGB profile file for every PDF/A render
# and never closes it (a ResourceWarning each time; weasyprint/pdf/__init__.py, generate_pdf), so
# the same profile is loaded once, from memory, under our own name, and passed in.
OUTPUT_INTENT = "onestop-srgb"


# --- Vietnamese date and time formats (shared with the lookup page and the timeline) --------

__all__ = [
    "format_date_long",
    "format_date_short",
    "format_datetime_long",
    "format_datetime_short",
    "format_place_date",
]


# --- The fetcher ------------------------------------------------------------------------------


class FetchRefused(FatalURLFetchingError):
    """A document asked for a URL outside the asset table. Stops the render (it is fatal)."""


class RenderError(RuntimeError):
    """The PDF could not be produced; the message says why."""


class AssetFetcher(URLFetcher):
    """Serves only ``onestop-asset:`` URLs from an in-memory table; refuses everything else.

    WeasyPrint's default fetcher reads ``file://`` and the network, and ``<link rel=attachment>``
    embeds what it fetched into the PDF (GHSA-35jj-wx47-4w8r). Refusing raises a fatal error
    rather than a warning, so a missing font can never fall back to a system font silently.
    ``data:`` URLs are refused too: our templates never need them.
    """

    def __init__(self, assets: dict[str, tuple[str, bytes]]) -> None:
        super().__init__(timeout=1, allowed_protocols=frozenset(), allow_redirects=False)
        self._assets = dict(assets)
        # URLs refused since the last ``clear()``. WeasyPrint swallows every error while drawing an
        # SVG image, so the renderer checks this list after each render as well.
        self.refused: list[str] = []

    def fetch(self, url: str, headers: Any = None) -> URLFetcherResponse:
        asset = self._assets.get(url)
        if asset is None:
            shown = url[:120] + ("…" if len(url) > 120 else "")
            log.warning("PDF renderer refused to fetch %r", shown)
            self.refused.append(shown)
            raise FetchRefused(f"refused to fetch {shown!r}")
        mime, body = asset
        return URLFetcherResponse(url, body, {"Content-Type": mime})


def _load_assets() -> dict[str, tuple[str, bytes]]:
    root = resources.files("onestop.documents") / "assets"
    assets = {
        f"{ASSET_PREFIX}fonts/{name}": ("font/ttf", (font_dir() / name).read_bytes())
        for name in FONT_FILES
    }
    assets[f"{ASSET_PREFIX}forms.css"] = ("text/css", (root / "forms.css").read_bytes())
    return assets


# --- The renderer -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RenderedDocument:
    """A rendered form: the PDF, its hash, the template version and the data it was made from."""

    form_code: str
    pdf: bytes
    sha256: str
    template_version: str
    snapshot: dict[str, Any]


def _qr_svg(content: str) -> Markup:
    # Inline SVG, generated here: nothing is fetched and no entry lands in the image cache.
    # The SVG holds only path geometry, never the text it encodes.
    qr = segno.make(content, error="m")
    return Markup(qr.svg_inline(scale=1, border=0, omitsize=True))  # noqa: S704


class _Renderer:
    """Per-process state shared by every render: fonts, parsed stylesheet, image cache, templates.

    One ``FontConfiguration`` per process: a new one per render leaks about 0.22 MB a render
    (docs/documents.md). WeasyPrint and Pango give no thread-safety promise for shared font
    state, so renders in one process are serialised by a lock; run more workers to use more cores.
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        assets = _load_assets()
        self.fetcher = AssetFetcher(assets)
        self.font_config = FontConfiguration()
        self.image_cache: dict[str, Any] = {}
        icc = (resources.files("weasyprint.pdf") / "sRGB2014.icc").read_bytes()
        self.color_profile = ColorProfile(
            io.BytesIO(icc), "sRGB2014.icc", "relative-colorimetric", (["r"], ["g"], ["b"])
        )
        self.stylesheet = CSS(
            url=f"{ASSET_PREFIX}forms.css", url_fetcher=self.fetcher, font_config=self.font_config
        )
        self.env = jinja2.Environment(
            loader=jinja2.PackageLoader("onestop.documents", "templates"),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.filters.update(
            date_long=format_date_long,
            datetime_long=format_datetime_long,
            datetime_short=format_datetime_short,
            date_short=format_date_short,
            place_date=format_place_date,
        )

    def html_to_pdf(self, html: str) -> bytes:
        with self.lock:
            self.fetcher.refused.clear()
            try:
                document = HTML(string=html, url_fetcher=self.fetcher)
                pdf = document.write_pdf(
                    stylesheets=[self.stylesheet],
                    font_config=self.font_config,
                    cache=self.image_cache,
                    pdf_variant=PDF_VARIANT,
                    output_intent=OUTPUT_INTENT,
                    color_profiles={OUTPUT_INTENT: self.color_profile},
                )
            except FatalURLFetchingError as exc:
                raise RenderError(str(exc)) from exc
            finally:
                # Our templates hold no raster images, so nothing useful is cached between renders;
                # clearing keeps the shared cache from growing with per-document entries.
                self.image_cache.clear()
            if self.fetcher.refused:
                raise RenderError(f"refused to fetch {self.fetcher.refused[0]!r}")
        if pdf is None:  # pragma: no cover - write_pdf returns bytes when no target is given
            raise RenderError("WeasyPrint returned no PDF")
        return pdf


_renderer_lock = threading.Lock()
_renderer: _Renderer | None = None


def _get_renderer() -> _Renderer:
    global _renderer
    if _renderer is None:
        with _renderer_lock:
            if _renderer is None:
                _renderer = _Renderer()
    return _renderer


def render_html(html: str) -> bytes:
    """Render an HTML string with the shared fonts, stylesheet and locked fetcher.

    For the package's own templates and tests; user text must never be spliced into ``html``.
    Raises ``RenderError`` if the document asks for any URL outside the asset table.
    """
    return _get_renderer().html_to_pdf(html)


def render_template(template_name: str, **context: Any) -> str:
    """The HTML of one of the package's templates (autoescaped), before it becomes a PDF."""
    return _get_renderer().env.get_template(template_name).render(**context)


def render_form(form: FormData) -> RenderedDocument:
    """Render one of the seven forms to PDF/A-3u.

    ``form`` is already validated (its constructor checks lengths, characters and glyphs).
    The returned ``snapshot`` is ``form.to_dict()``: ``type(form).from_dict(snapshot)`` rebuilds it.
    """
    context: dict[str, Any] = {"form": form}
    if lookup_url := getattr(form, "lookup_url", None):
        context["qr_svg"] = _qr_svg(lookup_url)
    html = render_template(form.template_name, **context)
    pdf = render_html(html)
    return RenderedDocument(
        form_code=form.form_code,
        pdf=pdf,
        sha256=hashlib.sha256(pdf).hexdigest(),
        template_version=form.template_version,
        snapshot=form.to_dict(),
    )

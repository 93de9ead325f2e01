"""The renderer fetches nothing: files, network and data URLs are refused; user text stays text.

A loopback HTTP canary counts every request made to it; it must count zero. The control tests show
that the same documents do reach the canary and /etc/passwd through WeasyPrint's default fetcher,
so the corpus is live and the canary can count.
"""

from __future__ import annotations

import ast
import io
import re
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from pypdf import PdfReader
from weasyprint import HTML
from weasyprint.urls import URLFetcher

from onestop.documents.forms import FormValidationError, ReceiptData
from onestop.documents.render import (
    ASSET_PREFIX,
    AssetFetcher,
    FetchRefused,
    RenderError,
    render_form,
    render_html,
)
from tests.documents.conftest import pdf_text, receipt_dict

PASSWD_MARK = "root:x:0:0"
PACKAGE = Path(__file__).resolve().parents[2] / "onestop" / "documents"


class Canary:
    """A loopback HTTP server that counts the requests it receives."""

    def __init__(self) -> None:
        hits: list[str] = []

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                hits.append(self.path)
                body = b"root:x:0:0:canary"
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.hits = hits
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)

    def __enter__(self) -> Canary:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


@pytest.fixture
def canary() -> Iterator[Canary]:
    with Canary() as c:
        yield c


def corpus(base: str) -> dict[str, str]:
    """Documents that each try to fetch one resource; ``base`` is a file or http URL prefix."""
    return {
        "img": f'<img src="{base}/etc/passwd">',
        "object": f'<object data="{base}/etc/passwd"></object>',
        "embed": f'<embed src="{base}/etc/passwd">',
        "attachment": f'<link rel="attachment" href="{base}/etc/passwd">',
        "stylesheet": f'<link rel="stylesheet" href="{base}/style.css">',
        "import": f'<style>@import url("{base}/style.css");</style>',
        "background": f"<p style=\"background: url('{base}/bg.png')\">x</p>",
        "font-face": (
            f'<style>@font-face {{ font-family: X; src: url("{base}/f.ttf"); }}'
            " p { font-family: X; }</style><p>x</p>"
        ),
        "svg-image": (
            f'<svg width="10" height="10"><image href="{base}/i.png" width="9" height="9"/></svg>'
        ),
    }


def page(body: str) -> str:
    return f'<!DOCTYPE html><html lang="vi"><head></head><body><p>Nội dung</p>{body}</body></html>'


def attachments_of(pdf: bytes) -> list[str]:
    reader = PdfReader(io.BytesIO(pdf))
    return list(reader.attachments)


@pytest.mark.parametrize("vector", sorted(corpus("x")))
def test_each_fetching_vector_is_refused_and_nothing_reaches_the_network(
    vector: str, canary: Canary
) -> None:
    for base in ("file://", canary.url):
        started = time.perf_counter()
        with pytest.raises(RenderError, match="refused to fetch"):
            render_html(page(corpus(base)[vector]))
        assert time.perf_counter() - started < 5
    assert canary.hits == []


def test_control_the_default_fetcher_would_leak_the_file_and_hit_the_network(
    canary: Canary,
) -> None:
    # Same documents, WeasyPrint's own fetcher: the attachment carries /etc/passwd and the canary
    # is reached. This is what the locked fetcher is there to prevent.
    leaked = HTML(
        string=page(corpus("file://")["attachment"]), url_fetcher=URLFetcher()
    ).write_pdf()
    assert leaked is not None
    assert attachments_of(leaked) == ["passwd"]
    HTML(string=page(corpus(canary.url)["img"]), url_fetcher=URLFetcher()).write_pdf()
    assert canary.hits == ["/etc/passwd"]


def test_a_huge_data_url_is_refused_without_being_decoded() -> None:
    data_url = "data:image/png;base64," + "A" * (50 * 1024 * 1024)
    started = time.perf_counter()
    with pytest.raises(RenderError, match="refused to fetch 'data:image/png"):
        render_html(page(f'<img src="{data_url}">'))
    assert time.perf_counter() - started < 30


def test_the_fetcher_refuses_file_http_and_data_urls_given_directly(canary: Canary) -> None:
    fetcher = AssetFetcher({f"{ASSET_PREFIX}ok.css": ("text/css", b"p {}")})
    for url in (
        "file:///etc/passwd",
        f"{canary.url}/x",
        "https://example.org/",
        "data:text/plain,hello",
        f"{ASSET_PREFIX}../../etc/passwd",
        f"{ASSET_PREFIX}fonts/Missing.ttf",
    ):
        with pytest.raises(FetchRefused):
            fetcher.fetch(url)
        with pytest.raises(FetchRefused):
            fetcher(url)  # the call path WeasyPrint itself uses
    assert canary.hits == []
    assert fetcher.fetch(f"{ASSET_PREFIX}ok.css").read() == b"p {}"


HOSTILE = [
    '<link rel="attachment" href="file:///etc/passwd">',
    '"><img src="file:///etc/passwd">',
    "</p><style>@import url(file:///etc/passwd);</style>",
    "{{ 7 * 7 }} {% raw %}",
    "<script>alert(1)</script>",
]


@pytest.mark.parametrize("payload", HOSTILE)
def test_markup_typed_into_user_fields_is_printed_as_text(
    payload: str, canary: Canary, tmp_path: Path
) -> None:
    data = receipt_dict()
    data["applicant"]["name"] = payload
    data["applicant"]["address"] = payload.replace("file:///etc/passwd", f"{canary.url}/a")
    data["procedure_name"] = payload
    data["documents"][0]["name"] = payload
    pdf = render_form(ReceiptData.from_dict(data)).pdf
    text = pdf_text(pdf, tmp_path)
    assert payload in text
    assert PASSWD_MARK not in text
    assert attachments_of(pdf) == []
    assert "/EmbeddedFiles" not in str(
        PdfReader(io.BytesIO(pdf)).trailer["/Root"].get("/Names", {})
    )
    assert canary.hits == []


def test_a_200000_character_name_is_refused_before_rendering() -> None:
    data = receipt_dict()
    data["applicant"]["name"] = "Nguyễn " * 30_000
    started = time.perf_counter()
    with pytest.raises(FormValidationError) as err:
        ReceiptData.from_dict(data)
    assert err.value.field == "applicant.name"
    assert time.perf_counter() - started < 0.5  # a render of this would take seconds


def test_a_receipt_with_every_field_at_its_cap_renders_within_bound(tmp_path: Path) -> None:
    long_word = "Phước Hạc Thành " * 40
    data = receipt_dict(
        procedure_name=long_word[:500],
        result_delivery=long_word[:500],
        processing_time=long_word[:100],
        receiving_officer=long_word[:200],
        documents=[
            {"name": long_word[:500], "originals": 99, "certified_copies": 99, "photocopies": 99}
        ]
        * 30,
    )
    data["applicant"].update(name=long_word[:200], address=long_word[:500])
    data["header"].update(agency=long_word[:200], unit=long_word[:200], place=long_word[:100])
    form = ReceiptData.from_dict(data)
    started = time.perf_counter()
    pdf = render_form(form).pdf
    elapsed = time.perf_counter() - started
    assert elapsed < 10, f"{elapsed:.1f} s"
    assert len(PdfReader(io.BytesIO(pdf)).pages) >= 2
    assert form.dossier_code in pdf_text(pdf, tmp_path)


def test_renderer_modules_import_neither_flask_nor_the_database() -> None:
    forbidden = ("flask", "sqlalchemy", "werkzeug", "alembic")
    for path in (PACKAGE / "render.py", PACKAGE / "forms.py", PACKAGE / "__init__.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        imported = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                imported |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module:
                imported.add(node.module)
        assert not {m for m in imported if m.split(".")[0] in forbidden}, path


def test_templates_never_put_data_into_attributes() -> None:
    # User text may only be a text node: no {{ }} inside a tag (attributes, style, href, src).
    for template in (PACKAGE / "templates").glob("*.html"):
        source = template.read_text(encoding="utf-8")
        for tag in re.findall(r"<[a-zA-Z][^>]*>", source):
            assert "{{" not in tag and "{%" not in tag, (template.name, tag)

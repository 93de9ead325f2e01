"""Benchmark of the PDF renderer: cold start, warm receipts, memory over 1,000 renders, ceilings.

Run from the repository root:  python tests/bench/documents.py  [--renders 200] [--rss-renders 1000]
Write the form previews:        python tests/bench/documents.py --previews docs/forms

Ceilings: a minimal one-page document through the same WeasyPrint set-up (same fonts, fetcher,
PDF/A-3u), and the same two-copy receipt drawn directly with ReportLab. Targets: a warm receipt
within 1.5x the minimal page and at most 150 ms; RSS flat (under 10 MB growth) over 1,000 renders.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from onestop.documents.forms import (  # noqa: E402
    ApologyData,
    ControlSlipData,
    ReceiptData,
    RegisterData,
    StopNoticeData,
)
from onestop.documents.render import (  # noqa: E402
    format_datetime_long,
    format_place_date,
    render_form,
    render_html,
)
from tests.documents.conftest import (  # noqa: E402
    apology_dict,
    control_slip_dict,
    receipt_dict,
    register_dict,
    stop_notice_dict,
)

FONTS = ROOT / "onestop" / "core" / "fonts"
MINIMAL_PAGE = '<html lang="vi"><body><p>Giấy tiếp nhận hồ sơ và hẹn trả kết quả</p></body></html>'

COLD_CODE = """
import json, time
t0 = time.perf_counter()
from onestop.documents.forms import ReceiptData
from onestop.documents.render import render_form
from tests.documents.conftest import receipt_dict
t1 = time.perf_counter()
render_form(ReceiptData.from_dict(receipt_dict()))
t2 = time.perf_counter()
print(json.dumps({"import_ms": (t1 - t0) * 1000, "first_ms": (t2 - t1) * 1000}))
"""


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def timings(fn: Callable[[], object], n: int, warm: int = 3) -> list[float]:
    for _ in range(warm):
        fn()
    out = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1000)
    return out


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def cold_start(runs: int) -> dict[str, float]:
    results = []
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for _ in range(runs):
        started = time.perf_counter()
        out = subprocess.run(
            [sys.executable, "-c", COLD_CODE],
            check=True,
            capture_output=True,
            text=True,
            cwd=ROOT,
            env=env,
        )
        wall = (time.perf_counter() - started) * 1000
        results.append({**json.loads(out.stdout), "process_ms": wall})
    return {k: statistics.median(r[k] for r in results) for k in results[0]}


def reportlab_receipt() -> Callable[[], bytes]:
    """The same two-copy receipt drawn directly with ReportLab and the same TTF files."""
    import segno
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont
    from reportlab.platypus import (
        Flowable,
        PageBreak,
        Paragraph,
        SimpleDocTemplate,
        Spacer,
        Table,
        TableStyle,
    )

    for face, file in (("LS", "Regular"), ("LS-B", "Bold"), ("LS-I", "Italic")):
        pdfmetrics.registerFont(TTFont(face, str(FONTS / f"LiberationSerif-{file}.ttf")))
    form = ReceiptData.from_dict(receipt_dict())
    body = ParagraphStyle("b", fontName="LS", fontSize=13, leading=15.6)
    center = ParagraphStyle("c", parent=body, alignment=1)
    bold_c = ParagraphStyle("bc", parent=center, fontName="LS-B")
    title = ParagraphStyle("t", parent=bold_c, fontSize=14, spaceBefore=10)
    small = ParagraphStyle("s", parent=body, fontSize=11, leading=12.6)

    class QR(Flowable):
        def __init__(self, content: str, size: float) -> None:
            super().__init__()
            self.matrix = segno.make(content, error="m").matrix
            self.size = size
            self.width = self.height = size

        def draw(self) -> None:
            cell = self.size / len(self.matrix)
            n = len(self.matrix)
            for y, row in enumerate(self.matrix):
                for x, dark in enumerate(row):
                    if dark:
                        self.canv.rect(x * cell, (n - 1 - y) * cell, cell, cell, stroke=0, fill=1)

    def story() -> list[Flowable]:
        items: list[Flowable] = []
        a = form.applicant
        for label in ("Liên 1: Lưu", "Liên 2: Giao người nộp hồ sơ"):
            left = [
                Paragraph(form.header.agency.upper(), center),
                Paragraph(form.header.unit.upper(), bold_c),
            ]
            right = [
                Paragraph("CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", bold_c),
                Paragraph("Độc lập - Tự do - Hạnh phúc", bold_c),
                Paragraph(format_place_date(form.header.place, form.header.issued_at), center),
            ]
            items.append(Table([[left, right]], colWidths=[66 * mm, 99 * mm]))
            items += [
                Paragraph("GIẤY TIẾP NHẬN HỒ SƠ VÀ HẸN TRẢ KẾT QUẢ", title),
                Paragraph(f"Mã hồ sơ: {form.dossier_code}", center),
                Paragraph(f"({label})", center),
            ]
            lines = [
                f"Bộ phận tiếp nhận và trả kết quả: {form.header.unit}",
                f"Tiếp nhận hồ sơ của: {a.name}",
                f"Số định danh cá nhân/CCCD/mã số thuế: {a.id_number}",
                f"Địa chỉ: {a.address}",
                f"Số điện thoại: {a.phone}. Email: {a.email}",
            ]
            fields = [[Paragraph(t, body)] for t in lines]
            items.append(
                Table(
                    [[Table(fields), QR(form.lookup_url, 24 * mm)]],
                    colWidths=[139 * mm, 26 * mm],
                )
            )
            items.append(Paragraph(f"Nội dung yêu cầu giải quyết: {form.procedure_name}", body))
            items.append(Paragraph("1. Thành phần hồ sơ nộp gồm:", body))
            rows = [["TT", "Tên giấy tờ", "Bản chính", "Bản sao", "Bản photo"]]
            for i, d in enumerate(form.documents, 1):
                rows.append(
                    [
                        str(i),
                        Paragraph(d.name, small),
                        d.originals or "",
                        d.certified_copies or "",
                        d.photocopies or "",
                    ]
                )
            table = Table(rows, colWidths=[10 * mm, 95 * mm, 20 * mm, 20 * mm, 20 * mm])
            table.setStyle(
                TableStyle(
                    [("GRID", (0, 0), (-1, -1), 0.6, "black"), ("FONTNAME", (0, 0), (-1, -1), "LS")]
                )
            )
            items.append(table)
            for text in (
                f"2. Số lượng hồ sơ: {form.sets_count:02d} (bộ)",
                f"3. Thời gian giải quyết hồ sơ theo quy định là: {form.processing_time}",
                f"4. Thời gian nhận hồ sơ: {format_datetime_long(form.received_at)}",
                "5. Thời gian trả kết quả giải quyết hồ sơ: "
                f"{format_datetime_long(form.appointment_at)}",
                f"6. Đăng ký nhận kết quả tại: {form.result_delivery}",
                f"Vào Sổ theo dõi hồ sơ, Quyển số: {form.register_volume}, "
                f"Số thứ tự: {form.register_entry}",
                f"Tra cứu tình trạng hồ sơ tại: {form.lookup_url}",
            ):
                items.append(Paragraph(text, body))
            sign = [
                [Paragraph("NGƯỜI NỘP HỒ SƠ", bold_c), Paragraph("NGƯỜI TIẾP NHẬN HỒ SƠ", bold_c)],
                [Spacer(1, 18 * mm), Spacer(1, 18 * mm)],
                ["", Paragraph(form.receiving_officer, bold_c)],
            ]
            items.append(Table(sign, colWidths=[82 * mm, 82 * mm]))
            items.append(PageBreak())
        return items[:-1]

    def render() -> bytes:
        buf = io.BytesIO()
        doc = SimpleDocTemplate(
            buf,
            pagesize=A4,
            leftMargin=30 * mm,
            rightMargin=15 * mm,
            topMargin=20 * mm,
            bottomMargin=20 * mm,
        )
        doc.build(story())
        return buf.getvalue()

    return render


def write_previews(out_dir: Path) -> None:
    """Render the receipt and four other forms with the demo data and convert them to PNG."""
    out_dir.mkdir(parents=True, exist_ok=True)
    forms = {
        "01-giay-tiep-nhan": ReceiptData.from_dict(receipt_dict()),
        "04-phieu-xin-loi": ApologyData.from_dict(apology_dict()),
        "05-thong-bao-dung": StopNoticeData.from_dict(stop_notice_dict()),
        "06-phieu-kiem-soat": ControlSlipData.from_dict(control_slip_dict()),
        "07-so-theo-doi": RegisterData.from_dict(register_dict(entries=8)),
    }
    with tempfile.TemporaryDirectory() as tmp:
        for name, form in forms.items():
            pdf = Path(tmp) / f"{name}.pdf"
            pdf.write_bytes(render_form(form).pdf)
            subprocess.run(
                ["pdftoppm", "-png", "-r", "80", "-singlefile", str(pdf), str(out_dir / name)],
                check=True,
            )
            print(f"wrote {out_dir / name}.png")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--renders", type=int, default=200)
    parser.add_argument("--rss-renders", type=int, default=1000)
    parser.add_argument("--cold-runs", type=int, default=3)
    parser.add_argument("--previews", type=Path, help="write PNG previews into this folder")
    args = parser.parse_args()
    if args.previews:
        write_previews(args.previews)
        return

    cold = cold_start(args.cold_runs)
    receipt = ReceiptData.from_dict(receipt_dict())
    rss_start = rss_mb()
    warm = timings(lambda: render_form(receipt), args.renders)
    minimal = timings(lambda: render_html(MINIMAL_PAGE), args.renders)
    rl_render = reportlab_receipt()
    rl = timings(rl_render, args.renders)

    # Memory: RSS after warm-up, then after every further batch of renders.
    render_form(receipt)
    rss_before = rss_mb()
    trace = []
    step = max(1, args.rss_renders // 5)
    for i in range(1, args.rss_renders + 1):
        render_form(receipt)
        if i % step == 0:
            trace.append(round(rss_mb(), 1))
    rss_after = rss_mb()

    p50, p99 = statistics.median(warm), pct(warm, 0.99)
    min_p50 = statistics.median(minimal)
    rl_p50 = statistics.median(rl)
    growth = rss_after - rss_before
    pdf_size = len(render_form(receipt).pdf)

    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, {args.renders} renders each\n")
    print(f"{'measure':<58} {'value':>14}")
    rows = [
        ("cold: import of the renderer (subprocess, median)", f"{cold['import_ms']:.0f} ms"),
        ("cold: first receipt render incl. font loading", f"{cold['first_ms']:.0f} ms"),
        ("cold: process start to first PDF", f"{cold['process_ms']:.0f} ms"),
        ("warm receipt (2 pages, PDF/A-3u, QR): renders/s", f"{1000 / statistics.mean(warm):.1f}"),
        ("warm receipt p50 / p99", f"{p50:.0f} / {p99:.0f} ms"),
        ("ceiling: minimal 1-page WeasyPrint document p50", f"{min_p50:.0f} ms"),
        ("ceiling: same receipt drawn with ReportLab p50", f"{rl_p50:.0f} ms"),
        ("receipt PDF size", f"{pdf_size / 1024:.0f} KB"),
        ("RSS at start of the warm runs", f"{rss_start:.0f} MB"),
        (
            f"RSS before / after {args.rss_renders} more renders",
            f"{rss_before:.0f} / {rss_after:.0f} MB",
        ),
        ("RSS trace (every 1/5 of the run)", " ".join(map(str, trace))),
    ]
    for label, value in rows:
        print(f"{label:<58} {value:>14}")

    checks = [
        ("warm receipt p50 <= 150 ms", p50 <= 150, f"{p50:.0f} ms"),
        (
            "warm receipt p50 <= 1.5 x minimal WeasyPrint page",
            p50 <= 1.5 * min_p50,
            f"{p50 / min_p50:.2f} x",
        ),
        (
            f"RSS flat over {args.rss_renders} renders (growth < 10 MB)",
            growth < 10,
            f"{growth:+.1f} MB",
        ),
    ]
    print(f"\n{'target':<58} {'measured':>10}  result")
    for label, ok, value in checks:
        print(f"{label:<58} {value:>10}  {'PASS' if ok else 'FAIL'}")


if __name__ == "__main__":
    main()

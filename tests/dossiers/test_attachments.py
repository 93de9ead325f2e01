"""Dossier documents: upload by slot, type by bytes, size limits, scope, downloads, storage."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path
from urllib.parse import quote

import pytest
from PIL import Image
from reportlab.pdfgen import canvas
from sqlalchemy import event, func, select

from onestop.core.audit import AuditEvent
from onestop.dossiers.models import DossierFile
from onestop.storage import BlobCorrupted, BlobMissing, LocalStorage, relative_path
from tests.dossiers.helpers import act, ok, submit

SLOT = "to_khai_xac_nhan"  # first document of procedure 1.004873 (tình trạng hôn nhân)
SLOT_NAME = "Tờ khai cấp Giấy xác nhận tình trạng hôn nhân theo mẫu"


# ---- files made by the test ------------------------------------------------------------------


def make_pdf(text: str = "Tờ khai xác nhận tình trạng hôn nhân", pages: int = 1) -> bytes:
    buf = io.BytesIO()
    c = canvas.Canvas(buf)
    for i in range(pages):
        c.drawString(72, 720, f"{text} {i}")
        c.showPage()
    c.save()
    return buf.getvalue()


def make_image(fmt: str, size: tuple[int, int] = (40, 30)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(buf, format=fmt)
    return buf.getvalue()


def files_url(dossier_id: int, tail: str = "") -> str:
    return f"/api/v1/dossiers/{dossier_id}/files{tail}"


def put(world, who, dossier_id, slot, data, *, content_type="application/pdf", name=None, **kw):
    headers = {**world[who], "Content-Type": content_type}
    if name is not None:
        headers["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(name, safe='')}"
    return world.client.put(files_url(dossier_id, f"/{slot}"), data=data, headers=headers, **kw)


@pytest.fixture
def dossier(world, frozen_clock) -> dict:
    return ok(submit(world.client, world["citizen"]), 201)


@pytest.fixture
def storage_root(app) -> Path:
    return Path(app.config["STORAGE_DIR"])


class CountingStream(io.BytesIO):
    """A request body that records how many bytes the server pulled from it."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.pulled = 0

    def read(self, size: int | None = -1) -> bytes:
        chunk = super().read(size)
        self.pulled += len(chunk)
        return chunk

    def readinto(self, buffer) -> int:
        n = super().readinto(buffer)
        self.pulled += n
        return n


# ---- types -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("maker", "content_type", "name"),
    [
        (make_pdf, "application/pdf", "Tờ khai.pdf"),
        (lambda: make_image("PNG"), "image/png", "ảnh chụp.png"),
        (lambda: make_image("JPEG"), "image/jpeg", "scan CCCD.jpeg"),
    ],
    ids=["pdf", "png", "jpeg"],
)
def test_each_allowed_type_uploads_lists_and_downloads_byte_for_byte(
    world, dossier, maker, content_type, name
):
    data = maker()
    got = ok(
        put(world, "citizen", dossier["id"], SLOT, data, content_type=content_type, name=name), 201
    )
    assert got["media_type"] == content_type
    assert got["size_bytes"] == len(data)
    assert got["sha256"] == hashlib.sha256(data).hexdigest()
    assert got["display_name"] == name
    assert got["slot"] == SLOT and got["slot_name"] == SLOT_NAME
    assert got["uploaded_by_role"] == "citizen" and got["uploaded_by_label"] == "Công dân"

    listed = ok(world.client.get(files_url(dossier["id"]), headers=world["citizen"]))
    assert [f["id"] for f in listed] == [got["id"]]

    for who in ("citizen", "clerk_a", "manager_a"):
        resp = world.client.get(got["download_url"], headers=world[who])
        assert resp.status_code == 200, who
        assert resp.data == data
        assert resp.mimetype == content_type


def test_octet_stream_is_accepted_and_the_type_comes_from_the_bytes(world, dossier):
    png = make_image("PNG")
    got = ok(
        put(world, "citizen", dossier["id"], SLOT, png, content_type="application/octet-stream"),
        201,
    )
    assert got["media_type"] == "image/png"
    assert got["display_name"] == f"{SLOT}.png"  # no name sent: the slot code stands in


@pytest.mark.parametrize(
    ("data", "status", "type_"),
    [
        (b"<!DOCTYPE html><html><script>alert(1)</script></html>", 415, "file.type_not_allowed"),
        (
            b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>',
            415,
            "file.type_not_allowed",
        ),
        (b"GIF89a\x01\x00\x01\x00\x00\x00\x00;", 415, "file.type_not_allowed"),
        (b"", 422, "file.empty"),
        # A polyglot: a PDF header, then an HTML page a browser would sniff.
        (b"%PDF-1.4\n<html><script>alert(1)</script></html>\n%%EOF\n", 415, "file.polyglot"),
        # A truncated PDF (the upload was cut off).
        (b"%PDF-1.4\n1 0 obj << >> endobj\n", 415, "file.truncated"),
    ],
    ids=["html-named-pdf", "svg", "gif", "empty", "pdf-html-polyglot", "truncated-pdf"],
)
def test_files_that_are_not_pdf_jpeg_or_png_by_their_bytes_are_refused(
    world, dossier, session, storage_root, data, status, type_
):
    resp = put(world, "citizen", dossier["id"], SLOT, data, name="hop-dong.pdf")
    assert resp.status_code == status, resp.json
    assert resp.json["type"] == type_ and resp.json["code"] == status
    assert resp.json["message"] and resp.json["request_id"]
    assert session.scalar(select(func.count()).select_from(DossierFile)) == 0
    assert not storage_root.exists() or not any(p.is_file() for p in storage_root.rglob("*"))


def test_a_png_with_html_in_its_first_kilobyte_is_refused(world, dossier):
    png = make_image("PNG")
    polyglot = png[:33] + b"<html><body onload=alert(1)>" + png[33:]
    resp = put(world, "citizen", dossier["id"], SLOT, polyglot, content_type="image/png")
    assert resp.status_code == 415 and resp.json["type"] == "file.polyglot"


def test_a_declared_type_that_contradicts_the_bytes_is_refused(world, dossier):
    resp = put(
        world, "citizen", dossier["id"], SLOT, make_image("PNG"), content_type="application/pdf"
    )
    assert resp.status_code == 415 and resp.json["type"] == "file.type_mismatch"


def test_a_non_file_content_type_is_refused_before_the_body_is_read(world, dossier):
    body = CountingStream(make_pdf())
    resp = world.client.put(
        files_url(dossier["id"], f"/{SLOT}"),
        input_stream=body,
        content_length=len(body.getvalue()),
        headers={**world["citizen"], "Content-Type": "text/html"},
    )
    assert resp.status_code == 415 and resp.json["type"] == "file.content_type"
    assert body.pulled == 0


# ---- sizes -----------------------------------------------------------------------------------


def test_an_oversize_file_is_refused_with_413_before_its_body_is_read(world, dossier, app, session):
    app.config["UPLOAD_MAX_FILE_BYTES"] = 4096
    data = make_pdf() + b"%" * 5000 + b"\n%%EOF\n"
    body = CountingStream(data)
    resp = world.client.put(
        files_url(dossier["id"], f"/{SLOT}"),
        input_stream=body,
        content_length=len(data),
        headers={**world["citizen"], "Content-Type": "application/pdf"},
    )
    assert resp.status_code == 413
    assert resp.json["type"] == "file.too_large" and resp.json["code"] == 413
    assert resp.json["message"] == "Mỗi tệp tối đa 4 KB."
    assert body.pulled == 0
    assert session.scalar(select(func.count()).select_from(DossierFile)) == 0


def test_a_streamed_body_without_length_is_cut_off_just_past_the_limit(world, dossier, app):
    limit = 100_000
    app.config["UPLOAD_MAX_FILE_BYTES"] = limit
    body = CountingStream(b"%PDF-1.4\n" + b"0" * 5_000_000)
    resp = world.client.put(
        files_url(dossier["id"], f"/{SLOT}"),
        input_stream=body,
        headers={
            **world["citizen"],
            "Content-Type": "application/pdf",
            "Transfer-Encoding": "chunked",
        },
        environ_overrides={"wsgi.input_terminated": True},
    )
    assert resp.status_code == 413 and resp.json["type"] == "file.too_large"
    assert limit < body.pulled <= limit + 64 * 1024


def test_the_dossier_total_is_capped_and_a_replacement_frees_the_old_size(world, dossier, app):
    one = make_pdf("một", pages=3)
    app.config["UPLOAD_MAX_FILE_BYTES"] = len(one) + 500
    app.config["UPLOAD_MAX_DOSSIER_BYTES"] = 2 * len(one) + 200
    ok(put(world, "citizen", dossier["id"], SLOT, one), 201)
    ok(put(world, "citizen", dossier["id"], "giay_to_ly_hon", make_pdf("hai", pages=3)), 201)

    resp = put(world, "citizen", dossier["id"], "extra", make_pdf("ba", pages=3))
    assert resp.status_code == 413 and resp.json["type"] == "file.dossier_quota"

    # Replacing a slot's file counts the new file instead of the old one.
    ok(put(world, "citizen", dossier["id"], SLOT, make_pdf("bốn", pages=3)), 201)
    files = ok(world.client.get(files_url(dossier["id"]), headers=world["citizen"]))
    assert sum(f["size_bytes"] for f in files) <= app.config["UPLOAD_MAX_DOSSIER_BYTES"]


# ---- slots, replacement, states --------------------------------------------------------------


def test_an_unknown_slot_is_422(world, dossier):
    resp = put(world, "citizen", dossier["id"], "giay_phep_lai_xe", make_pdf())
    assert resp.status_code == 422 and resp.json["type"] == "file.unknown_slot"
    assert "slot" in resp.json["errors"]["path"]


def test_extra_slots_take_other_papers(world, dossier):
    got = ok(put(world, "citizen", dossier["id"], "extra_2", make_pdf()), 201)
    assert got["slot_name"] == "Giấy tờ khác (2)"
    assert put(world, "citizen", dossier["id"], "extra_11", make_pdf()).status_code == 422


def test_uploading_to_a_full_slot_supersedes_the_old_file_and_keeps_it_in_history(world, dossier):
    first = ok(put(world, "citizen", dossier["id"], SLOT, make_pdf("cũ"), name="cũ.pdf"), 201)
    second = ok(put(world, "citizen", dossier["id"], SLOT, make_pdf("mới"), name="mới.pdf"), 201)
    current = ok(world.client.get(files_url(dossier["id"]), headers=world["citizen"]))
    assert [f["id"] for f in current] == [second["id"]]
    history = ok(
        world.client.get(files_url(dossier["id"], "?history=true"), headers=world["citizen"])
    )
    assert [f["id"] for f in history] == [first["id"], second["id"]]
    assert history[0]["superseded_at"] is not None and history[1]["superseded_at"] is None
    # The superseded file can still be read.
    assert world.client.get(first["download_url"], headers=world["clerk_a"]).status_code == 200


def test_the_same_bytes_and_name_again_change_nothing(world, dossier, session):
    data = make_pdf()
    first = ok(put(world, "citizen", dossier["id"], SLOT, data, name="a.pdf"), 201)
    again = ok(put(world, "citizen", dossier["id"], SLOT, data, name="a.pdf"), 200)
    assert again["id"] == first["id"]
    assert session.scalar(select(func.count()).select_from(DossierFile)) == 1


def test_unknown_query_parameters_are_refused(world, dossier):
    resp = world.client.put(
        files_url(dossier["id"], f"/{SLOT}?name=x.pdf"),
        data=make_pdf(),
        headers={**world["citizen"], "Content-Type": "application/pdf"},
    )
    assert resp.status_code == 422


def test_citizen_uploads_only_while_submitted_or_supplement_requested(world, dossier):
    ok(act(world.client, world["clerk_a"], dossier["id"], "receive"))
    resp = put(world, "citizen", dossier["id"], SLOT, make_pdf())
    assert resp.status_code == 409 and resp.json["type"] == "dossier.files_locked"
    # The desk may still add documents to a dossier it is working on.
    ok(put(world, "clerk_a", dossier["id"], "extra", make_pdf()), 201)

    ok(
        act(
            world.client,
            world["clerk_a"],
            dossier["id"],
            "request_supplement",
            {"missing": ["Tờ khai"]},
        )
    )
    got = ok(put(world, "citizen", dossier["id"], SLOT, make_pdf()), 201)
    assert got["uploaded_by_role"] == "citizen"


def test_no_uploads_to_a_closed_dossier(world, dossier):
    ok(
        act(
            world.client,
            world["clerk_a"],
            dossier["id"],
            "refuse",
            {"reason": "Không thuộc thẩm quyền"},
        )
    )
    for who in ("citizen", "clerk_a"):
        resp = put(world, who, dossier["id"], SLOT, make_pdf())
        assert resp.status_code == 409 and resp.json["type"] == "dossier.closed", who


# ---- scope -----------------------------------------------------------------------------------


def test_other_citizens_and_other_agencies_get_404_everywhere(world, dossier):
    got = ok(put(world, "citizen", dossier["id"], SLOT, make_pdf()), 201)
    for who in ("citizen2", "clerk_b"):
        assert put(world, who, dossier["id"], "extra", make_pdf()).status_code == 404, who
        assert world.client.get(files_url(dossier["id"]), headers=world[who]).status_code == 404
        resp = world.client.get(got["download_url"], headers=world[who])
        assert resp.status_code == 404 and resp.json["type"] == "dossier.not_found", who
    # Administrators run the system; they do not read citizens' documents.
    assert put(world, "admin", dossier["id"], "extra", make_pdf()).status_code == 403
    assert world.client.get(got["download_url"], headers=world["admin"]).status_code == 404
    assert world.client.get(got["download_url"]).status_code == 401


def test_a_file_id_of_another_dossier_is_404(world, dossier):
    other = ok(submit(world.client, world["citizen"]), 201)
    got = ok(put(world, "citizen", other["id"], SLOT, make_pdf()), 201)
    resp = world.client.get(files_url(dossier["id"], f"/{got['id']}"), headers=world["citizen"])
    assert resp.status_code == 404 and resp.json["type"] == "file.not_found"


# ---- download headers ------------------------------------------------------------------------


def test_download_is_an_attachment_never_sniffed_and_sandboxed(world, dossier):
    name = "Giấy xác nhận đã cấp.pdf"
    data = make_pdf()
    got = ok(put(world, "citizen", dossier["id"], SLOT, data, name=name), 201)
    resp = world.client.get(got["download_url"], headers=world["citizen"])
    assert resp.status_code == 200
    assert resp.headers["Content-Type"] == "application/pdf"
    assert resp.headers["Content-Disposition"] == (
        'attachment; filename="Giay xac nhan da cap.pdf"; '
        "filename*=UTF-8''Gi%E1%BA%A5y%20x%C3%A1c%20nh%E1%BA%ADn%20%C4%91%C3%A3%20c%E1%BA%A5p.pdf"
    )
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert resp.headers["Content-Security-Policy"] == "sandbox; default-src 'none'"
    assert resp.headers["Cache-Control"] == "no-store"
    assert resp.headers["Content-Length"] == str(len(data))


# ---- storage and commit order ----------------------------------------------------------------


def test_the_bytes_are_stored_at_their_content_hash_path_and_nowhere_else(
    world, dossier, storage_root
):
    data = make_image("JPEG")
    got = ok(put(world, "citizen", dossier["id"], SLOT, data, content_type="image/jpeg"), 201)
    sha = hashlib.sha256(data).hexdigest()
    path = storage_root / sha[:2] / sha[2:4] / sha
    assert path.read_bytes() == data
    assert [p for p in storage_root.rglob("*") if p.is_file()] == [path]  # no temp files left
    assert got["sha256"] == sha


def test_every_row_committed_points_at_a_blob_already_on_disk(world, dossier, session, app):
    store = LocalStorage(app.config["STORAGE_DIR"])
    seen: list[str] = []

    def check(sess) -> None:
        for sha in sess.scalars(select(DossierFile.sha256)):
            assert store.exists(sha), "a file row was committed before its bytes were stored"
            seen.append(sha)

    event.listen(session, "before_commit", check)
    try:
        ok(put(world, "citizen", dossier["id"], SLOT, make_pdf()), 201)
        ok(
            put(
                world,
                "citizen",
                dossier["id"],
                "extra",
                make_image("PNG"),
                content_type="image/png",
            ),
            201,
        )
    finally:
        event.remove(session, "before_commit", check)
    assert len(set(seen)) == 2


def test_when_the_store_cannot_write_nothing_is_recorded(world, dossier, app, session, tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_bytes(b"")
    app.config["STORAGE_DIR"] = str(blocker / "storage")
    app.extensions.pop("onestop.storage", None)
    resp = put(world, "citizen", dossier["id"], SLOT, make_pdf())
    assert resp.status_code == 503 and resp.json["type"] == "storage.unavailable"
    assert session.scalar(select(func.count()).select_from(DossierFile)) == 0
    uploads = select(func.count()).where(AuditEvent.action == "dossier.file_uploaded")
    assert session.scalar(uploads) == 0


# ---- file names ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("../../etc/passwd", "_.._etc_passwd.pdf"),
        ("/etc/passwd.pdf", "_etc_passwd.pdf"),
        ("..\\..\\windows\\win.ini", "_.._windows_win.ini.pdf"),
        ("tai\x00lieu.pdf", "tailieu.pdf"),
        ("hoa-don\u202efdp.exe", "hoa-donfdp.exe.pdf"),
        ("trang\u200b1.pdf", "trang1.pdf"),
        ("báo cáo.HTML", "báo cáo.HTML.pdf"),
        # Decomposed (macOS) input is stored composed.
        ("Nguye\u0302\u0303n.pdf", "Nguyễn.pdf"),
        ("...", "to_khai_xac_nhan.pdf"),
        ("a" * 300 + ".pdf", "a" * 196 + ".pdf"),
    ],
    ids=[
        "dotdot",
        "absolute",
        "backslashes",
        "nul",
        "rtl-override",
        "zero-width",
        "html-extension",
        "nfd",
        "only-dots",
        "300-chars",
    ],
)
def test_hostile_file_names_are_neutralised(world, dossier, storage_root, raw, expected):
    data = make_pdf(raw)
    headers = {**world["citizen"], "Content-Type": "application/pdf"}
    headers["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(raw, safe='')}"
    got = ok(
        world.client.put(files_url(dossier["id"], f"/{SLOT}"), data=data, headers=headers), 201
    )
    assert got["display_name"] == expected
    sha = hashlib.sha256(data).hexdigest()
    assert [
        p.relative_to(storage_root).as_posix() for p in storage_root.rglob("*") if p.is_file()
    ] == [relative_path(sha)]
    resp = world.client.get(got["download_url"], headers=world["citizen"])
    disposition = resp.headers["Content-Disposition"]
    assert "/" not in disposition.split("filename*=")[0] and "\x00" not in disposition
    assert disposition.startswith("attachment;")


# ---- audit -----------------------------------------------------------------------------------


def test_uploads_and_staff_downloads_are_audited_without_personal_data(world, dossier, session):
    name = "CCCD 038090001234 Nguyễn Thị Ánh Tuyết.pdf"
    got = ok(put(world, "citizen", dossier["id"], SLOT, make_pdf(), name=name), 201)
    world.client.get(got["download_url"], headers=world["citizen"])
    world.client.get(got["download_url"], headers=world["clerk_a"])
    events = session.scalars(
        select(AuditEvent)
        .where(AuditEvent.stream == f"dossier:{dossier['id']}")
        .where(AuditEvent.action.like("dossier.file_%"))
        .order_by(AuditEvent.seq)
    ).all()
    assert [(e.action, e.actor_role) for e in events] == [
        ("dossier.file_uploaded", "citizen"),
        ("dossier.file_downloaded", "clerk"),
    ]
    assert events[0].data["file_id"] == got["id"] and events[0].data["slot"] == SLOT
    for e in events:
        blob = str(e.data) + (e.reason or "")
        assert "038090001234" not in blob and "Tuyết" not in blob


# ---- the store on its own --------------------------------------------------------------------


def test_local_storage_round_trip_idempotence_and_tamper_detection(tmp_path):
    store = LocalStorage(tmp_path / "blobs")
    blob = store.put(b"%PDF-1.7 noi dung")
    again = store.put(b"%PDF-1.7 noi dung")
    assert blob == again and blob.size == 17
    assert store.exists(blob.sha256) and store.get(blob.sha256) == b"%PDF-1.7 noi dung"

    store.path_of(blob.sha256).write_bytes(b"%PDF-1.7 noi dung da bi sua")
    with pytest.raises(BlobCorrupted):
        store.get(blob.sha256)
    store.put(b"%PDF-1.7 noi dung")  # a damaged blob is rewritten by the next identical upload
    assert store.get(blob.sha256) == b"%PDF-1.7 noi dung"

    store.delete(blob.sha256)
    assert not store.exists(blob.sha256)
    with pytest.raises(BlobMissing):
        store.get(blob.sha256)
    store.delete(blob.sha256)  # deleting twice is fine (garbage collection may retry)


@pytest.mark.parametrize("bad", ["../../etc/passwd", "AB" * 32, "a" * 63, ""])
def test_local_storage_refuses_anything_but_a_sha256_as_a_name(tmp_path, bad):
    store = LocalStorage(tmp_path)
    with pytest.raises(ValueError, match="SHA-256"):
        store.get(bad)

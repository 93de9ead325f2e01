"""Issued PDFs of dossiers: issued with their transitions, stored, served as stored, verifiable."""

from __future__ import annotations

import hashlib
import io
import re
import unicodedata
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID
from pypdf import PdfReader
from sqlalchemy import func, select, update

from onestop.accounts.models import User
from onestop.core.audit import AuditEvent
from onestop.core.tx import unit_of_work
from onestop.documents import services
from onestop.documents.jobs import issue_missing_documents
from onestop.documents.models import IssuedDocument
from onestop.dossiers.models import Dossier
from tests.dossiers.helpers import World, act, make_world, ok, submit, supply
from tests.factories import AGENCY_A


def vn(y: int, m: int, d: int, hh: int, mm: int = 0) -> datetime:
    """An instant given in Vietnam time (UTC+7)."""
    return datetime(y, m, d, hh, mm, tzinfo=UTC) - timedelta(hours=7)


def text(pdf: bytes) -> str:
    """The PDF's text as a reader sees it: NFC, each run of white space one space."""
    raw = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    return re.sub(r"\s+", " ", unicodedata.normalize("NFC", raw))


OFFICERS = {"clerk_a": "Đặng Hữu Phước", "manager_a": "Trịnh Văn Quyết"}


@pytest.fixture
def world(client, session) -> World:
    w = make_world(client, session)
    # Officers whose names differ from the applicant's, so the forms show who did what.
    for who, name in OFFICERS.items():
        session.execute(update(User).where(User.id == w.users[who].id).values(full_name=name))
    session.commit()
    return w


@pytest.fixture
def received(world: World, frozen_clock) -> dict:
    """A dossier submitted online Thursday 05/03/2026 09:00 and received at once (3 working
    days: due Tuesday 10/03 17:00)."""
    frozen_clock.set(vn(2026, 3, 5, 9))
    d = ok(submit(world.client, world["citizen"]), 201)
    return ok(act(world.client, world["clerk_a"], d["id"], "receive"))


def documents(world: World, who: str, dossier_id: int) -> list[dict]:
    return ok(world.client.get(f"/api/v1/dossiers/{dossier_id}/documents", headers=world[who]))


def download(world: World, who: str, doc: dict):
    return world.client.get(doc["download_url"], headers=world[who])


def test_receiving_a_dossier_issues_a_printable_receipt(world, received):
    docs = documents(world, "clerk_a", received["id"])
    assert [(d["form_code"], d["title"]) for d in docs] == [
        ("01", "Giấy tiếp nhận hồ sơ và hẹn trả kết quả")
    ]
    resp = download(world, "clerk_a", docs[0])
    assert resp.status_code == 200
    assert resp.mimetype == "application/pdf"
    assert resp.headers["Content-Disposition"] == (
        f'attachment; filename="01-{received["code"]}.pdf"'
    )
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert resp.headers["Cache-Control"] == "private, no-store"
    assert resp.headers["ETag"] == f'"{docs[0]["sha256"]}"'
    content = text(resp.data)
    assert received["code"] in content
    assert "Nguyễn Thị Ánh Tuyết" in content
    assert "3 ngày làm việc" in content
    # The appointment printed is the promised date in the long form of form 01.
    assert "17 giờ 00 phút, ngày 10 tháng 3 năm 2026" in content
    assert "09 giờ 00 phút, ngày 05 tháng 3 năm 2026" in content
    assert "Đặng Hữu Phước" in content  # the clerk who received it
    assert f"{world.client.application.config['PUBLIC_BASE_URL']}/tra-cuu/" in content
    # The citizen who owns the dossier gets the same receipt.
    mine = documents(world, "citizen", received["id"])
    assert [d["sha256"] for d in mine] == [docs[0]["sha256"]]


def test_downloads_serve_the_stored_bytes_and_never_render_again(
    world, frozen_clock, session, monkeypatch
):
    renders = []
    real = services.render_form
    monkeypatch.setattr(services, "render_form", lambda form: renders.append(1) or real(form))
    frozen_clock.set(vn(2026, 3, 5, 9))
    d = ok(submit(world.client, world["citizen"]), 201)
    ok(act(world.client, world["clerk_a"], d["id"], "receive"))
    assert len(renders) == 1
    (doc,) = documents(world, "citizen", d["id"])

    # Data changed after issue must not change what was issued.
    session.execute(
        update(Dossier).where(Dossier.id == d["id"]).values(applicant_name="Trần Văn Bình")
    )
    session.commit()
    first = download(world, "citizen", doc)
    second = download(world, "clerk_a", doc)
    assert first.status_code == second.status_code == 200
    assert hashlib.sha256(first.data).hexdigest() == doc["sha256"]
    assert first.data == second.data and len(first.data) == doc["size"]
    assert "Nguyễn Thị Ánh Tuyết" in text(first.data)
    assert len(renders) == 1

    # Bytes gone from the store: a 503, not a silent re-render.
    world.client.application.extensions["onestop.storage"].delete(doc["sha256"])
    gone = download(world, "citizen", doc)
    assert gone.status_code == 503 and len(renders) == 1


def test_verification_accepts_the_issued_file_and_rejects_a_changed_one(world, received):
    (doc,) = documents(world, "clerk_a", received["id"])
    pdf = download(world, "clerk_a", doc).data
    c = world.client

    by_hash = ok(c.get(f"/api/v1/documents/verify?sha256={doc['sha256'].upper()}"))
    assert by_hash["issued"] is True
    assert by_hash["form_code"] == "01" and by_hash["dossier_code"] == received["code"]
    assert by_hash["agency_code"] == AGENCY_A and by_hash["superseded"] is False
    assert by_hash["issued_at"] == doc["issued_at"]
    # No personal data in the public answer.
    for personal in ("Nguyễn Thị Ánh Tuyết", "038090001234", "0912345678", "Lê Lợi"):
        assert personal not in c.get(f"/api/v1/documents/verify?sha256={doc['sha256']}").text

    by_file = ok(c.post("/api/v1/documents/verify", data=pdf, content_type="application/pdf"))
    assert by_file == by_hash
    flipped = bytearray(pdf)
    flipped[len(flipped) // 2] ^= 0x01
    changed = ok(c.post("/api/v1/documents/verify", data=bytes(flipped)))
    assert changed == {"issued": False}
    unknown = hashlib.sha256(bytes(flipped)).hexdigest()
    assert ok(c.get(f"/api/v1/documents/verify?sha256={unknown}")) == {"issued": False}

    assert c.get("/api/v1/documents/verify?sha256=xyz").status_code == 422
    c.application.config["DOCUMENT_VERIFY_MAX_BYTES"] = 1000
    too_big = c.post("/api/v1/documents/verify", data=pdf, content_type="application/pdf")
    assert too_big.status_code == 413 and too_big.json["type"] == "document.too_large"


def test_verification_is_rate_limited_per_client(world):
    world.client.application.config["DOCUMENT_VERIFY_RATE_LIMIT_PER_MINUTE"] = 3
    url = "/api/v1/documents/verify?sha256=" + "ab" * 32
    statuses = [world.client.get(url).status_code for _ in range(5)]
    assert statuses == [200, 200, 200, 429, 429]


def test_other_citizens_and_other_agencies_get_404(world, received):
    (doc,) = documents(world, "clerk_a", received["id"])
    for who in ("citizen2", "clerk_b", "admin"):
        listed = world.client.get(
            f"/api/v1/dossiers/{received['id']}/documents", headers=world[who]
        )
        assert listed.status_code == 404, who
        got = download(world, who, doc)
        assert got.status_code == 404 and got.mimetype == "application/json", who
    # A document id of another dossier is not reachable through a dossier one may see.
    other = ok(submit(world.client, world["citizen"]), 201)
    wrong = world.client.get(
        f"/api/v1/dossiers/{other['id']}/documents/{doc['id']}", headers=world["citizen"]
    )
    assert wrong.status_code == 404


def test_each_form_is_issued_with_its_transition(world, frozen_clock):
    c = world.client
    clerk, manager, citizen = world["clerk_a"], world["manager_a"], world["citizen"]
    frozen_clock.set(vn(2026, 3, 5, 9))

    def new() -> int:
        return ok(submit(c, citizen), 201)["id"]

    def forms(dossier_id: int, who: str = "clerk_a") -> list[str]:
        return [d["form_code"] for d in documents(world, who, dossier_id)]

    incomplete = new()
    ok(act(c, clerk, incomplete, "intake_incomplete", {"missing": ["Tờ khai chưa ký tên"]}))
    assert forms(incomplete) == ["02"]
    (slip,) = documents(world, "citizen", incomplete)
    assert "Tờ khai chưa ký tên" in text(download(world, "citizen", slip).data)

    refused = new()
    ok(act(c, clerk, refused, "refuse", {"reason": "Không thuộc thẩm quyền giải quyết"}))
    assert forms(refused) == ["03"]

    late = new()
    ok(act(c, clerk, late, "receive"))
    ok(act(c, clerk, late, "request_supplement", {"missing": ["Bản sao giấy ly hôn"]}))
    ok(supply(c, citizen, late))
    frozen_clock.set(vn(2026, 3, 6, 9))
    apology = {"reason": "Cần xác minh tại nơi cư trú", "new_due_at": "2026-03-16T17:00:00+07:00"}
    ok(act(c, manager, late, "apologize", apology))
    assert forms(late) == ["01", "02", "04"]
    (letter,) = [d for d in documents(world, "citizen", late) if d["form_code"] == "04"]
    assert "17 giờ 00 phút, ngày 16 tháng 3 năm 2026" in text(
        download(world, "citizen", letter).data
    )

    ok(act(c, clerk, late, "resolve", {"result": "Đã cấp giấy xác nhận"}))
    assert forms(late) == ["01", "02", "04", "06"]
    # The control slip is the desk's internal record: not listed for the citizen.
    assert forms(late, "citizen") == ["01", "02", "04"]

    denied = new()
    ok(act(c, clerk, denied, "receive"))
    ok(act(c, clerk, denied, "deny", {"reason": "Người yêu cầu không đủ điều kiện"}))
    assert forms(denied) == ["01", "05"]

    withdrawn = new()
    ok(act(c, clerk, withdrawn, "receive"))
    ok(act(c, citizen, withdrawn, "request_withdrawal", {"reason": "Không còn nhu cầu"}))
    ok(act(c, clerk, withdrawn, "accept_withdrawal"))
    assert forms(withdrawn) == ["01", "05"]
    (notice,) = [d for d in documents(world, "citizen", withdrawn) if d["form_code"] == "05"]
    assert "Ông/Bà có yêu cầu dừng giải quyết hồ sơ" in text(
        download(world, "citizen", notice).data
    )


def test_the_job_issues_the_receipt_a_failed_render_left_missing(world, frozen_clock, session, app):
    """A received dossier always ends up with a receipt, even when issuing after the commit
    failed (here: a misconfigured public URL that the receipt cannot print)."""
    app.config["PUBLIC_BASE_URL"] = "not a url"
    frozen_clock.set(vn(2026, 3, 5, 9))
    d = ok(submit(world.client, world["citizen"]), 201)
    received = ok(act(world.client, world["clerk_a"], d["id"], "receive"))
    assert received["state"] == "received"  # the reception itself succeeded
    assert documents(world, "clerk_a", d["id"]) == []

    app.config["PUBLIC_BASE_URL"] = "https://dichvucong.thanhhoa.gov.vn"
    frozen_clock.advance(minutes=2)
    with unit_of_work():
        summary = issue_missing_documents(session, now=frozen_clock())
    assert summary.startswith("issued 1 ")
    (doc,) = documents(world, "clerk_a", d["id"])
    assert doc["form_code"] == "01"
    content = text(download(world, "clerk_a", doc).data)
    # Dated at the reception, not at the late render; the officer is the one who received it.
    assert "09 giờ 00 phút, ngày 05 tháng 3 năm 2026" in content
    assert "https://dichvucong.thanhhoa.gov.vn/tra-cuu/" in content
    assert OFFICERS["clerk_a"] in content

    with unit_of_work():
        again = issue_missing_documents(session, now=frozen_clock())
    assert again.startswith("issued 0 ")
    count = session.scalar(
        select(func.count()).select_from(IssuedDocument).where(IssuedDocument.dossier_id == d["id"])
    )
    assert count == 1
    audited = session.scalar(
        select(func.count())
        .select_from(AuditEvent)
        .where(AuditEvent.stream == f"document:{doc['id']}", AuditEvent.action == "document.issued")
    )
    assert audited == 1


def test_control_slip_on_demand_is_reissued_only_after_a_change(world, received):
    c, clerk = world.client, world["clerk_a"]
    url = f"/api/v1/dossiers/{received['id']}/documents/control-slip"
    first = ok(c.post(url, headers=clerk), 201)
    again = ok(c.post(url, headers=clerk), 201)
    assert again["id"] == first["id"] and first["form_code"] == "06"
    ok(act(c, clerk, received["id"], "forward", {"to_unit": "000.31.01.H56"}))
    after = ok(c.post(url, headers=clerk), 201)
    assert after["id"] != first["id"] and after["supersedes_id"] == first["id"]
    assert "Trung tâm Phục vụ hành chính công phường Hạc Thành" in text(
        download(world, "clerk_a", after).data
    )
    assert c.post(url, headers=world["clerk_b"]).status_code == 404
    assert c.post(url, headers=world["citizen"]).status_code == 403
    old = ok(c.get(f"/api/v1/documents/verify?sha256={first['sha256']}"))
    assert old["issued"] is True and old["superseded"] is True


def test_register_of_a_period_is_generated_stored_and_kept_to_the_agency(world, received):
    c = world.client
    body = {"agency_code": AGENCY_A, "from": "2026-03-01", "to": "2026-03-31"}
    doc = ok(c.post("/api/v1/documents/register", json=body, headers=world["manager_a"]), 201)
    assert doc["form_code"] == "07" and doc["download_url"] == f"/api/v1/documents/{doc['id']}"
    pdf = download(world, "clerk_a", doc)
    assert pdf.status_code == 200
    assert received["code"].replace("-", "") in text(pdf.data).replace("-", "").replace(" ", "")
    # Nothing changed: the same register comes back instead of a new volume.
    same = ok(c.post("/api/v1/documents/register", json=body, headers=world["clerk_a"]), 201)
    assert same["id"] == doc["id"]

    refused = c.post("/api/v1/documents/register", json=body, headers=world["clerk_b"])
    assert refused.status_code == 403
    assert download(world, "clerk_b", doc).status_code == 404
    backwards = {**body, "from": "2026-04-01"}
    bad = c.post("/api/v1/documents/register", json=backwards, headers=world["clerk_a"])
    assert bad.status_code == 422


def _throwaway_certificate(tmp_path) -> tuple[x509.Certificate, str]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "UBND phường Hạc Thành (thử)")])
    start = datetime.now(UTC) - timedelta(days=1)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=True,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(key, hashes.SHA256())
    )
    path = tmp_path / "agency.p12"
    path.write_bytes(
        pkcs12.serialize_key_and_certificates(
            b"agency", key, cert, None, serialization.BestAvailableEncryption(b"mat-khau")
        )
    )
    return cert, str(path)


def test_with_a_certificate_issued_pdfs_carry_an_intact_signature(
    world, frozen_clock, app, tmp_path
):
    from asn1crypto import x509 as asn1_x509
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko.sign.validation.status import SignatureCoverageLevel
    from pyhanko_certvalidator import ValidationContext

    cert, path = _throwaway_certificate(tmp_path)
    app.config.update(SIGNING_PKCS12_PATH=path, SIGNING_PKCS12_PASSWORD="mat-khau")
    frozen_clock.set(vn(2026, 3, 5, 9))
    d = ok(submit(world.client, world["citizen"]), 201)
    ok(act(world.client, world["clerk_a"], d["id"], "receive"))
    (doc,) = documents(world, "citizen", d["id"])
    assert doc["signed"] is True
    pdf = download(world, "citizen", doc).data
    # What is stored, hashed and verifiable is the signed file.
    assert hashlib.sha256(pdf).hexdigest() == doc["sha256"]
    assert ok(world.client.get(f"/api/v1/documents/verify?sha256={doc['sha256']}"))["signed"]

    (signature,) = PdfFileReader(io.BytesIO(pdf)).embedded_signatures
    root = asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))
    status = validate_pdf_signature(signature, ValidationContext(trust_roots=[root]))
    assert status.intact and status.valid and status.trusted
    assert status.coverage == SignatureCoverageLevel.ENTIRE_FILE
    assert OFFICERS["clerk_a"] in text(pdf)


def test_the_receipt_prints_the_check_code_that_the_lookup_by_code_needs(world, received):
    """docs/lookup.md: a citizen holding only the paper types the dossier code and the check
    code printed on the receipt; both must be on it, and together they find the dossier."""
    (doc,) = documents(world, "citizen", received["id"])
    content = text(download(world, "citizen", doc).data)
    code, check = received["code"], received["check_code"]
    assert re.search(rf"Mã hồ sơ: {re.escape(code)}; mã kiểm tra: {check}", content)
    found = world.client.get("/api/v1/lookup", query_string={"code": code, "check": check})
    assert found.status_code == 200 and found.json["code"] == code

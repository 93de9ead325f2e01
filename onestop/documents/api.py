"""``/api/v1/.../documents``: issued PDFs of a dossier, the register, and public verification.

Forms are issued after the transition that calls for them has committed (``issuing.py``,
subscribed to the dossier events by ``init_app``).
"""

from __future__ import annotations

import base64
import hashlib
import logging
import re
from typing import Any

from flask import Flask, Response, current_app, request

from onestop.agencies.services import get_by_code
from onestop.core import audit, ratelimit
from onestop.core.access import Principal, Role, access, client_address, require_principal
from onestop.core.clock import now
from onestop.core.errors import BadRequest, DomainError, request_id
from onestop.core.guards import body_limit
from onestop.core.ratelimit import client_bucket
from onestop.core.tx import unit_of_work
from onestop.documents import issuing, services
from onestop.documents.issuing import (
    produce_and_record,
)
from onestop.documents.models import IssuedDocument
from onestop.documents.schemas import (
    IssuedDocumentSchema,
    NoArgsSchema,
    RegisterArgsSchema,
    VerificationSchema,
    VerifyArgsSchema,
)
from onestop.dossiers.attachments import StorageUnavailable
from onestop.dossiers.models import Dossier
from onestop.dossiers.services import get_dossier
from onestop.extensions import Blueprint, db
from onestop.storage import BlobMissing, StorageError, storage_for

log = logging.getLogger(__name__)

blp = Blueprint(
    "documents",
    __name__,
    url_prefix="/api/v1",
    description="Văn bản đã phát hành: giấy tiếp nhận, phiếu, sổ theo dõi (issued documents)",
)

READ_CHUNK = 64 * 1024
# Issued PDFs hold personal data: downloaded, never cached, never sniffed or rendered in our
# origin (OWASP File Upload Cheat Sheet; ASVS 5.0 V14.3.2).
PDF_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "private, no-store",
    "Content-Security-Policy": "sandbox; default-src 'none'",
}
_UNSAFE_FILENAME = re.compile(r"[^A-Za-z0-9._-]")


class VerifyBodyTooLarge(DomainError):
    status = 413
    type = "document.too_large"
    default_message = "Tệp gửi lên vượt quá dung lượng cho phép để kiểm tra."


# ---- presenting and serving --------------------------------------------------------------------


def present(doc: IssuedDocument) -> dict[str, Any]:
    url = (
        f"/api/v1/dossiers/{doc.dossier_id}/documents/{doc.id}"
        if doc.dossier_id is not None
        else f"/api/v1/documents/{doc.id}"
    )
    return {
        "id": doc.id,
        "form_code": doc.form_code,
        "title": services.TITLES[doc.form_code],
        "issued_at": doc.issued_at,
        "sha256": doc.sha256,
        "size": doc.size,
        "signed": doc.signed,
        "supersedes_id": doc.supersedes_id,
        "download_url": url,
    }


def file_name(doc: IssuedDocument, d: Dossier | None) -> str:
    """``<form>-<dossier code>.pdf`` in plain ASCII (codes are ASCII; anything else becomes _)."""
    label = (d.code or d.submission_no) if d is not None else f"{doc.issued_at:%Y%m%d}-{doc.id}"
    return _UNSAFE_FILENAME.sub("_", f"{doc.form_code}-{label}") + ".pdf"


def pdf_response(doc: IssuedDocument, d: Dossier | None) -> Response:
    """The stored bytes, verified against their hash by the store; never a new render."""
    try:
        data = storage_for().get(doc.sha256)
    except BlobMissing as exc:
        raise StorageUnavailable("Không đọc được văn bản từ kho lưu trữ.") from exc
    except StorageError as exc:  # includes bytes that no longer match their hash
        raise StorageUnavailable() from exc
    digest = base64.b64encode(bytes.fromhex(doc.sha256)).decode()
    resp = Response(data, status=200, mimetype="application/pdf")
    resp.headers["Content-Disposition"] = f'attachment; filename="{file_name(doc, d)}"'
    resp.headers["ETag"] = f'"{doc.sha256}"'
    # RFC 9530 and its predecessor RFC 3230: clients can check what they received.
    resp.headers["Repr-Digest"] = f"sha-256=:{digest}:"
    resp.headers["Digest"] = f"SHA-256={digest}"
    resp.headers.update(PDF_HEADERS)
    return resp


def record_read(doc: IssuedDocument, actor: Principal) -> None:
    """Staff reads of a citizen's document are audited (docs/security.md decision 4)."""
    if actor.role == Role.CITIZEN:
        return
    with unit_of_work():
        audit.record(
            db.session,
            actor=actor,
            action="document.downloaded",
            stream=f"document:{doc.id}",
            agency_id=doc.agency_id,
            now=now(),
            request_id=request_id(),
            data={"dossier_id": doc.dossier_id, "form_code": doc.form_code},
        )


_PDF_DOC = {
    "responses": {
        "200": {
            "description": "The PDF exactly as issued, as an attachment",
            "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}},
        }
    }
}


@blp.route("/dossiers/<int:dossier_id>/documents")
@access.authenticated
@blp.arguments(NoArgsSchema, location="query")
@blp.response(200, IssuedDocumentSchema(many=True))
@blp.alt_response(404, description="No such dossier, or not yours")
def list_documents(_args: dict[str, Any], dossier_id: int) -> list[dict[str, Any]]:
    """The documents issued for a dossier, oldest first: the receipt (01) when it is received,
    then the forms its transitions called for. Citizens see forms 01–05 of their own dossiers;
    staff of the dossier's agencies also see the control slips (06)."""
    actor = require_principal()
    _, docs = services.list_for_dossier(db.session, dossier_id, actor=actor)
    return [present(doc) for doc in docs]


@blp.route("/dossiers/<int:dossier_id>/documents/<int:document_id>")
@access.authenticated
@blp.arguments(NoArgsSchema, location="query")
@blp.doc(**_PDF_DOC)
@blp.alt_response(404, description="No such dossier or document, or not yours")
@blp.alt_response(503, description="The document store is unavailable")
def download_document(_args: dict[str, Any], dossier_id: int, document_id: int) -> Response:
    """Download an issued document: the stored bytes, byte for byte as issued.

    `ETag` and `Repr-Digest` carry the SHA-256 the public verification accepts. Served as an
    attachment, `Cache-Control: private, no-store`; staff downloads are audited.
    """
    actor = require_principal()
    d, doc = services.get_for_dossier(db.session, dossier_id, document_id, actor=actor)
    resp = pdf_response(doc, d)
    record_read(doc, actor)
    return resp


@blp.route("/dossiers/<int:dossier_id>/documents/control-slip", methods=["POST"])
@access.roles(Role.CLERK, Role.MANAGER)
@blp.arguments(NoArgsSchema, location="query")
@blp.response(201, IssuedDocumentSchema)
@blp.alt_response(404, description="No such dossier, or not yours")
@blp.alt_response(422, description="The dossier has not been received")
def issue_control_slip(_args: dict[str, Any], dossier_id: int) -> dict[str, Any]:
    """Print the control slip (form 06) as the dossier stands now.

    Safe to repeat: while the dossier does not change (same version) the same document is
    returned; after a change a new one is issued and `supersedes_id` names the previous one.
    """
    actor = require_principal()
    session = db.session
    d = get_dossier(session, dossier_id, actor=actor)
    plan = services.control_slip_plan(session, d, now=now())
    return present(produce_and_record(session, plan, actor=actor, rid=request_id()))


@blp.route("/documents/register", methods=["POST"])
@access.roles(Role.CLERK, Role.MANAGER)
@blp.arguments(RegisterArgsSchema)
@blp.response(201, IssuedDocumentSchema)
@blp.alt_response(403, description="Not a member of that agency")
@blp.alt_response(404, description="No such agency")
@blp.alt_response(422, description="Bad period, or more dossiers than one volume holds")
def issue_register(data: dict[str, Any]) -> dict[str, Any]:
    """Generate and store the register (form 07) of one agency for a period (Vietnam dates).

    Lists the dossiers the agency received in the period, with their dates. Printing the same
    period again without any change returns the same document; after changes a new one is
    issued that supersedes it.
    """
    actor = require_principal()
    session = db.session
    agency = get_by_code(session, data["agency_code"])
    plan = services.register_plan(
        session, agency, data["from_date"], data["to_date"], actor=actor, now=now()
    )
    return present(produce_and_record(session, plan, actor=actor, rid=request_id()))


@blp.route("/documents/<int:document_id>")
@access.roles(Role.CLERK, Role.MANAGER)
@blp.arguments(NoArgsSchema, location="query")
@blp.doc(**_PDF_DOC)
@blp.alt_response(404, description="No such register, or not of your agencies")
@blp.alt_response(503, description="The document store is unavailable")
def download_register(_args: dict[str, Any], document_id: int) -> Response:
    """Download a register (form 07) of one of the caller's agencies."""
    actor = require_principal()
    doc = services.get_register(db.session, document_id, actor=actor)
    resp = pdf_response(doc, None)
    record_read(doc, actor)
    return resp


# ---- public verification -----------------------------------------------------------------------


def _limit_verification() -> None:
    """Per-client limit in the shared store: hashes are unguessable, but a public endpoint that
    reads the database must not be free to hammer (OWASP API4:2023)."""
    ratelimit.enforce(
        [
            ratelimit.Limit(
                f"documents:verify:client:{client_bucket(client_address())}",
                int(current_app.config["DOCUMENT_VERIFY_RATE_LIMIT_PER_MINUTE"]),
            )
        ],
        now=now(),
        message="Quá nhiều lượt kiểm tra văn bản trong thời gian ngắn; vui lòng thử lại sau.",
        type="document.rate_limited",
    )


def _verification(sha256: str) -> dict[str, Any]:
    found = services.verify(db.session, sha256.lower())
    if found is None:
        return {"issued": False}
    return {
        "issued": True,
        "sha256": found.sha256,
        "form_code": found.form_code,
        "form_title": found.form_title,
        "dossier_code": found.dossier_code,
        "agency_code": found.agency_code,
        "agency_name": found.agency_name,
        "issued_at": found.issued_at,
        "signed": found.signed,
        "superseded": found.superseded,
    }


@blp.route("/documents/verify")
@access.public
@blp.arguments(VerifyArgsSchema, location="query")
@blp.response(200, VerificationSchema)
def verify_by_hash(args: dict[str, Any]) -> dict[str, Any]:
    """Did onestop issue the PDF with this SHA-256? For anyone holding a printed or forwarded
    document (a bank, a notary, another agency).

    The answer is always 200: `{"issued": false}` for an unknown hash (not an error: the
    question was answered), otherwise the form, the dossier code, the issuing agency and the
    date, never the applicant. Any change to the file, even one byte, changes its hash.
    Limited per client (`DOCUMENT_VERIFY_RATE_LIMIT_PER_MINUTE`); over the limit, 429.
    """
    _limit_verification()
    return _verification(args["sha256"])


@blp.route("/documents/verify", methods=["POST"])
@access.public
@body_limit("DOCUMENT_VERIFY_MAX_BYTES", VerifyBodyTooLarge)
@blp.arguments(NoArgsSchema, location="query")
@blp.response(200, VerificationSchema)
@blp.doc(
    requestBody={
        "required": True,
        "description": "the PDF file's bytes (at most `DOCUMENT_VERIFY_MAX_BYTES`)",
        "content": {
            t: {"schema": {"type": "string", "format": "binary", "minLength": 1}}
            for t in ("application/pdf", "application/octet-stream")
        },
    }
)
@blp.alt_response(400, description="No file in the request body")
@blp.alt_response(413, description="The file is larger than any issued document")
def verify_by_file(_args: dict[str, Any]) -> dict[str, Any]:
    """Same as `GET /documents/verify`, with the PDF itself as the request body: the server
    computes the hash. The file is not stored."""
    _limit_verification()
    limit = int(current_app.config["DOCUMENT_VERIFY_MAX_BYTES"])
    if (request.content_length or 0) > limit:
        raise VerifyBodyTooLarge()
    h, size = hashlib.sha256(), 0
    while chunk := request.stream.read(READ_CHUNK):
        size += len(chunk)
        if size > limit:
            raise VerifyBodyTooLarge()
        h.update(chunk)
    if size == 0:
        # An empty body is no document: answering {"issued": false} would look like a check.
        raise BadRequest(
            "Gửi tệp PDF cần kiểm tra làm nội dung yêu cầu.", type="document.file_required"
        )
    return _verification(h.hexdigest())


def init_app(app: Flask) -> None:
    """Issue forms on the dossier transitions that call for them."""
    issuing.init_app(app)

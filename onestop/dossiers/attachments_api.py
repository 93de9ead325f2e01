"""``/api/v1/dossiers/<id>/files``: upload a document to a slot, list the files, download one."""

from __future__ import annotations

import re
import unicodedata
from typing import Any
from urllib.parse import quote

from flask import Response, current_app, request
from marshmallow import Schema, fields

from onestop.core.access import Role, access, require_principal
from onestop.core.clock import now
from onestop.core.errors import request_id
from onestop.core.guards import body_limit
from onestop.core.tx import unit_of_work
from onestop.dossiers import attachments as svc
from onestop.dossiers.attachments import Limits
from onestop.dossiers.models import EXTENSIONS, JPEG, PDF, PNG, DossierFile
from onestop.dossiers.services import get_dossier
from onestop.extensions import Blueprint, db
from onestop.storage import BlobMissing, StorageError, storage_for

blp = Blueprint(
    "dossier_files",
    __name__,
    url_prefix="/api/v1/dossiers",
    description="Giấy tờ trong hồ sơ (dossier documents)",
)

READ_CHUNK = 64 * 1024
# Declared request types accepted before the body is read; the bytes decide in the end.
_DECLARED = {
    "": None,
    "application/octet-stream": None,
    "application/pdf": PDF,
    "image/jpeg": JPEG,
    "image/jpg": JPEG,
    "image/png": PNG,
}
ROLE_LABELS = {"citizen": "Công dân", "clerk": "Cán bộ", "manager": "Lãnh đạo"}
# Served documents are never rendered by the browser in our origin: downloaded, not sniffed,
# and sandboxed should a browser display them anyway (OWASP File Upload Cheat Sheet).
DOWNLOAD_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "sandbox; default-src 'none'",
    "Cache-Control": "no-store",
}


class NoArgsSchema(Schema):
    """No query parameters (unknown ones are refused with 422)."""


class FileListArgsSchema(Schema):
    history = fields.Boolean(
        load_default=False, metadata={"description": "include superseded files"}
    )


class FileSchema(Schema):
    id = fields.Integer(required=True)
    slot = fields.String(required=True, metadata={"description": "document slot code"})
    slot_name = fields.String(required=True, metadata={"description": "Vietnamese slot name"})
    display_name = fields.String(
        required=True, metadata={"description": "the uploader's file name, cleaned"}
    )
    media_type = fields.String(required=True, metadata={"description": "detected from the bytes"})
    size_bytes = fields.Integer(required=True)
    sha256 = fields.String(required=True)
    uploaded_at = fields.DateTime(required=True)
    uploaded_by_role = fields.String(required=True)
    uploaded_by_label = fields.String(required=True)
    superseded_at = fields.DateTime(allow_none=True)
    download_url = fields.String(required=True)


def limits() -> Limits:
    cfg = current_app.config
    return Limits(
        int(cfg["UPLOAD_MAX_FILE_BYTES"]),
        int(cfg["UPLOAD_MAX_DOSSIER_BYTES"]),
        int(cfg["UPLOAD_MAX_CITIZEN_BYTES_PER_DAY"]),
    )


def present(f: DossierFile, slots: dict[str, str]) -> dict[str, Any]:
    return {
        "id": f.id,
        "slot": f.slot,
        "slot_name": slots.get(f.slot, f.slot),
        "display_name": f.display_name,
        "media_type": f.media_type,
        "size_bytes": f.size_bytes,
        "sha256": f.sha256,
        "uploaded_at": f.uploaded_at,
        "uploaded_by_role": f.uploaded_by_role,
        "uploaded_by_label": ROLE_LABELS.get(f.uploaded_by_role, f.uploaded_by_role),
        "superseded_at": f.superseded_at,
        "download_url": f"/api/v1/dossiers/{f.dossier_id}/files/{f.id}",
    }


def _file_name_from_headers() -> str | None:
    """The uploader's file name from ``Content-Disposition: attachment; filename*=UTF-8''…``
    (RFC 6266; ``filename=`` also accepted). Sent in a header, not the URL, because file names
    often contain personal data and URLs end up in access logs (ASVS 5.0 V14.2.1)."""
    header = request.headers.get("Content-Disposition")
    if not header:
        return None
    from werkzeug.http import parse_options_header

    _, options = parse_options_header(header)
    return options.get("filename")


def _file_over_limit() -> svc.FileTooLarge:
    lim = limits()
    return svc.too_large(lim.max_file_bytes + 1, lim.max_file_bytes, lim)


def _read_body(limit: int, room_error: svc.FileTooLarge) -> bytes:
    """Read at most ``limit`` bytes in chunks; one byte more and the upload is refused."""
    buf = bytearray()
    stream = request.stream
    while chunk := stream.read(READ_CHUNK):
        buf += chunk
        if len(buf) > limit:
            raise room_error
    return bytes(buf)


@blp.route("/<int:dossier_id>/files/<slot:slot>", methods=["PUT"])
@access.roles(Role.CITIZEN, Role.CLERK, Role.MANAGER)
@body_limit("UPLOAD_MAX_FILE_BYTES", _file_over_limit)
@blp.arguments(NoArgsSchema, location="query")
@blp.response(201, FileSchema)
@blp.doc(
    requestBody={
        "required": True,
        "description": "the document's bytes (PDF, JPEG or PNG)",
        "content": {
            t: {"schema": {"type": "string", "format": "binary"}}
            for t in ("application/pdf", "image/jpeg", "image/png", "application/octet-stream")
        },
    }
)
@blp.alt_response(200, schema=FileSchema, description="The same bytes and name were already there")
@blp.alt_response(404, description="No such dossier, or not yours")
@blp.alt_response(409, description="The dossier is closed, or not open to the citizen's uploads")
@blp.alt_response(413, description="The file, or the dossier's total, is over the limit")
@blp.alt_response(415, description="Not a PDF, JPEG or PNG by its bytes, or an HTML polyglot")
@blp.alt_response(422, description="Unknown slot, or an empty file")
@blp.alt_response(429, description="The citizen's 24-hour upload allowance is used up")
@blp.alt_response(503, description="The document store is unavailable; nothing was recorded")
def upload_file(
    _args: dict[str, Any], dossier_id: int, slot: str
) -> tuple[dict[str, Any], int, dict[str, str]]:
    """Upload one document to a slot of the dossier, as the raw request body.

    `slot` is a document code of the dossier's procedure version (see the catalogue's
    `document_groups[].documents[].slot`) or `extra`, `extra_2` … `extra_10` for other papers.
    Send the bytes with `Content-Type: application/pdf`, `image/jpeg`, `image/png` or
    `application/octet-stream`; the type is recognised from the bytes, never from the name.
    Put the file name in `Content-Disposition: attachment; filename*=UTF-8''<percent-encoded>`:
    it is cleaned and kept for display only.

    Uploading to a slot that holds a file replaces it (the old one stays in the history, see
    `?history=true` on the list). The same bytes under the same name again answer 200 and change
    nothing, so retrying is safe. Citizens upload while the dossier is submitted or a supplement
    is requested; clerks and managers of the agency in any state until it is closed.
    Limits: `UPLOAD_MAX_FILE_BYTES` per file, `UPLOAD_MAX_DOSSIER_BYTES` per dossier (current
    files); a larger `Content-Length` is refused before the body is read. A citizen uploads at
    most `UPLOAD_MAX_CITIZEN_BYTES_PER_DAY` in 24 hours, replaced files included (429 with
    `Retry-After` beyond it).
    """
    actor = require_principal()
    session = db.session
    lim = limits()
    d = get_dossier(session, dossier_id, actor=actor)
    svc.check_can_upload(session, d, slot, actor=actor)
    declared = request.mimetype or ""
    if declared not in _DECLARED:
        raise svc.UnsupportedFile(
            "Gửi tệp PDF, JPEG hoặc PNG làm nội dung yêu cầu, với Content-Type tương ứng.",
            type="file.content_type",
        )
    room = svc.room_for(session, d, slot, lim)
    size = request.content_length
    if size is not None and size > room:
        raise svc.too_large(size, room, lim)  # refused before a byte of the body is read
    current = svc.current_file(session, d.id, slot)
    if size is not None and (current is None or current.size_bytes != size):
        # Before the body is read; a file of the current one's size may be that file sent
        # again (a retry), which costs nothing: attach() decides once the bytes are known.
        svc.check_citizen_budget(session, actor, size, now=now(), limits=lim)
    # End the read transaction: a slow client must not hold a database snapshot (or, on
    # SQLite, delay a checkpoint) while its body trickles in.
    session.rollback()
    data = _read_body(room, svc.too_large(room + 1, room, lim))
    media_type = svc.detect_media_type(data)
    if _DECLARED[declared] not in (None, media_type):
        raise svc.UnsupportedFile(
            f"Content-Type khai báo là {declared} nhưng nội dung tệp là {media_type}.",
            type="file.type_mismatch",
        )
    name = svc.clean_display_name(_file_name_from_headers(), media_type=media_type, fallback=slot)
    storage = storage_for()
    # Written and fsynced before the unit of work even begins, so the row commits only after
    # its bytes are durable; a rollback leaves an unreferenced, harmless blob.
    blob = svc.store(storage, data)
    with unit_of_work():
        f, created = svc.attach(
            session,
            dossier_id,
            slot,
            blob,
            media_type=media_type,
            display_name=name,
            actor=actor,
            now=now(),
            limits=lim,
            storage=storage,
            request_id=request_id(),
        )
    slots = svc.slots_of(session, get_dossier(session, dossier_id, actor=actor))
    headers = {"Location": f"/api/v1/dossiers/{dossier_id}/files/{f.id}"}
    return present(f, slots), (201 if created else 200), headers


@blp.route("/<int:dossier_id>/files")
@access.authenticated
@blp.arguments(FileListArgsSchema, location="query")
@blp.response(200, FileSchema(many=True))
@blp.alt_response(404, description="No such dossier, or not yours")
def list_files(args: dict[str, Any], dossier_id: int) -> list[dict[str, Any]]:
    """The dossier's documents, oldest first: the current file of each slot, and with
    `history=true` the superseded ones too."""
    actor = require_principal()
    d, files = svc.list_files(db.session, dossier_id, actor=actor, history=args["history"])
    slots = svc.slots_of(db.session, d)
    return [present(f, slots) for f in files]


@blp.route("/<int:dossier_id>/files/<int:file_id>")
@access.authenticated
@blp.arguments(NoArgsSchema, location="query")
@blp.doc(
    responses={
        "200": {
            "description": "The document, as an attachment",
            "content": {t: {"schema": {"type": "string", "format": "binary"}} for t in EXTENSIONS},
        }
    }
)
@blp.alt_response(404, description="No such dossier or file, or not yours")
@blp.alt_response(503, description="The document store is unavailable")
def download_file(_args: dict[str, Any], dossier_id: int, file_id: int) -> Response:
    """Download one document (the owner, and staff of the dossier's agency).

    Always served as an attachment with `X-Content-Type-Options: nosniff` and a sandbox
    Content-Security-Policy; staff downloads are recorded in the audit trail.
    """
    actor = require_principal()
    session = db.session
    _, f = svc.get_file(session, dossier_id, file_id, actor=actor)
    media_type, name, sha = f.media_type, f.display_name, f.sha256
    try:
        data = storage_for().get(sha)
    except BlobMissing as exc:
        raise svc.StorageUnavailable("Không đọc được tệp từ kho lưu trữ.") from exc
    except StorageError as exc:  # includes a blob whose bytes no longer match its hash
        raise svc.StorageUnavailable() from exc
    if actor.is_staff:
        with unit_of_work():
            svc.record_download(
                session, dossier_id, file_id, actor=actor, now=now(), request_id=request_id()
            )
    resp = Response(data, status=200, mimetype=media_type)
    resp.headers["Content-Disposition"] = content_disposition(name)
    resp.headers["ETag"] = f'"{sha}"'
    resp.headers.update(DOWNLOAD_HEADERS)
    return resp


def content_disposition(name: str) -> str:
    """``attachment`` with an ASCII ``filename`` for old clients and the exact UTF-8 name in
    ``filename*`` (RFC 6266 §4.3, RFC 8187)."""
    plain = unicodedata.normalize("NFKD", name.replace("đ", "d").replace("Đ", "D"))
    plain = plain.encode("ascii", "ignore").decode("ascii")
    plain = re.sub(r"[^A-Za-z0-9._ -]", "_", plain).strip() or "tai-lieu"
    return f"attachment; filename=\"{plain}\"; filename*=UTF-8''{quote(name, safe='')}"

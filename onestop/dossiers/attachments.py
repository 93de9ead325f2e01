"""Documents attached to a dossier: the ``DossierFile`` rows, type and size rules, upload use cases.

One current file per document slot of the procedure (``document_groups[].documents[].slot``)
plus up to ten extra slots (``extra``, ``extra_2`` … ``extra_10``). Uploading to a slot that
already holds a file supersedes it: the old row stays, with ``superseded_at`` set, so the
dossier keeps the history of what the citizen and the desk exchanged (Decree 61/2018 art. 19:
a supplement request and the documents supplied in answer are part of the record). A unique
partial index allows one current file per slot.

Bytes go to a content-addressed :mod:`onestop.storage` before the row that references them is
committed (docs/security.md decision 6). Services here flush, never commit, and take the actor, the
time, the limits and the store as keyword arguments.
"""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from onestop.core import audit
from onestop.core.access import Principal, Role
from onestop.core.errors import Conflict, DomainError, NotFound, RuleViolation, TooManyRequests
from onestop.dossiers import procedures
from onestop.dossiers.models import (
    DISPLAY_NAME_MAX,
    EXTENSIONS,
    JPEG,
    PDF,
    PNG,
    Dossier,
    DossierFile,
)
from onestop.dossiers.services import get_dossier, scope
from onestop.dossiers.states import TERMINAL, State
from onestop.storage import Storage, StorageError, StoredBlob

EXTRA_SLOT_NAME = "Giấy tờ khác"
EXTRA_SLOTS: dict[str, str] = {
    "extra": EXTRA_SLOT_NAME,
    **{f"extra_{n}": f"{EXTRA_SLOT_NAME} ({n})" for n in range(2, 11)},
}

# A citizen changes the documents of a dossier only while it is theirs to complete: before
# intake and while a supplement is requested (Decree 61/2018 art. 19(2)); afterwards the
# documents are the record the desk received.
CITIZEN_UPLOAD_STATES = frozenset({State.SUBMITTED, State.SUPPLEMENT_REQUESTED})
CITIZEN_BUDGET_WINDOW = timedelta(hours=24)

# Markers of HTML a browser would sniff in the first bytes of a response (the WHATWG MIME
# sniffing algorithm looks at the first 512 bytes; 1 KB leaves a margin). A PDF or an image
# that starts with them is a polyglot and is refused even though it is served as an attachment.
SNIFF_WINDOW = 1024
_HTML_MARKERS = (b"<html", b"<script", b"<svg", b"<!doctype", b"<body", b"<iframe", b"<head")
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# Characters Windows, macOS or a shell treat specially in a file name; replaced by "_".
_DROPPED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
_UNSAFE_NAME_CHARS = re.compile(r'[/\\:*?"<>|]')


class FileTooLarge(DomainError):
    status = 413
    type = "file.too_large"
    default_message = "Tệp tải lên vượt quá dung lượng cho phép."


class UnsupportedFile(DomainError):
    status = 415
    type = "file.type_not_allowed"
    default_message = "Chỉ nhận tệp PDF, JPEG hoặc PNG."


class StorageUnavailable(DomainError):
    status = 503
    type = "storage.unavailable"
    default_message = "Kho lưu trữ tài liệu tạm thời không sẵn sàng; vui lòng thử lại sau."


@dataclass(frozen=True)
class Limits:
    """Upload size limits in bytes (settings ``UPLOAD_MAX_FILE_BYTES``, ``..._DOSSIER_BYTES``)."""

    max_file_bytes: int
    max_dossier_bytes: int
    # What one citizen may upload in 24 hours, replaced files included (they stay stored).
    max_citizen_bytes_per_day: int | None = None


# ---- rules on content --------------------------------------------------------------------------


def detect_media_type(data: bytes) -> str:
    """The media type of ``data`` judged by its bytes alone (OWASP ASVS 5.0 V5.2.2).

    The name and the declared ``Content-Type`` are never trusted: an HTML page renamed
    ``.pdf`` does not start with ``%PDF-`` and is refused.
    """
    if not data:
        raise RuleViolation("Tệp tải lên rỗng.", type="file.empty")
    if data.startswith(b"%PDF-"):
        # A PDF ends with %%EOF (ISO 32000-1 §7.5.5); its absence means a truncated upload.
        if b"%%EOF" not in data[-SNIFF_WINDOW:]:
            raise UnsupportedFile(
                "Tệp PDF không hoàn chỉnh (bị cắt cụt); hãy tải lên lại.", type="file.truncated"
            )
        media_type = PDF
    elif data.startswith(_PNG_SIGNATURE) and data[12:16] == b"IHDR":
        media_type = PNG
    elif data.startswith(b"\xff\xd8\xff"):
        media_type = JPEG
    else:
        raise UnsupportedFile(
            "Chỉ nhận tệp PDF, JPEG hoặc PNG; nội dung tệp không thuộc các định dạng này."
        )
    head = data[:SNIFF_WINDOW].lower()
    if any(marker in head for marker in _HTML_MARKERS):
        raise UnsupportedFile(
            "Tệp chứa mã HTML hoặc SVG bên trong; không nhận tệp loại này.", type="file.polyglot"
        )
    return media_type


def clean_display_name(raw: str | None, *, media_type: str, fallback: str) -> str:
    """A name safe to show and to offer in a download: NFC, no control, bidi or zero-width
    characters, no path separators, at most 200 characters, ending in the extension of the
    detected type (``hoa-don.html`` holding a PDF becomes ``hoa-don.html.pdf``)."""
    name = unicodedata.normalize("NFC", raw or "")
    # Category C: controls (NUL, newlines), format characters (bidi overrides such as U+202E,
    # zero-width joiners), surrogates, private use, unassigned; Z[lp]: line/paragraph separators.
    name = "".join(ch for ch in name if unicodedata.category(ch) not in _DROPPED_CATEGORIES)
    name = _UNSAFE_NAME_CHARS.sub("_", name)
    name = " ".join(name.split()).lstrip(". ").rstrip(" ")
    allowed = EXTENSIONS[media_type]
    stem, dot, ext = name.rpartition(".")
    if dot and stem and "." + ext.lower() in allowed:
        suffix = "." + ext.lower()
    else:
        stem, suffix = name, allowed[0]
    stem = stem.rstrip(". ") or fallback
    return stem[: DISPLAY_NAME_MAX - len(suffix)].rstrip(". ") + suffix


# ---- slots and permissions ---------------------------------------------------------------------


def slots_of(session: Session, d: Dossier) -> dict[str, str]:
    """Slot code → Vietnamese name: the procedure version's documents, then the extra slots."""
    definition = procedures.definition_of(session, d.procedure_version_id)
    slots: dict[str, str] = {}
    for group in definition.document_groups:
        for doc in group.documents:
            slots.setdefault(doc.slot, doc.name)
    for code, name in EXTRA_SLOTS.items():
        slots.setdefault(code, name)
    return slots


def check_can_upload(session: Session, d: Dossier, slot: str, *, actor: Principal) -> str:
    """Raise unless ``actor`` may upload to ``slot`` of ``d`` now; return the slot's name.

    ``d`` must have been loaded through :func:`~onestop.dossiers.services.get_dossier` (scope).
    """
    state = State(d.state)
    if state in TERMINAL:
        raise Conflict(
            f"Hồ sơ đã kết thúc («{state.label}»); không thể tải thêm giấy tờ.",
            type="dossier.closed",
        )
    if actor.role == Role.CITIZEN and state not in CITIZEN_UPLOAD_STATES:
        raise Conflict(
            "Công dân chỉ tải giấy tờ lên khi hồ sơ mới nộp hoặc đang được yêu cầu bổ sung.",
            type="dossier.files_locked",
        )
    name = slots_of(session, d).get(slot)
    if name is None:
        raise RuleViolation(
            f"Thủ tục không có thành phần hồ sơ «{slot}».",
            type="file.unknown_slot",
            errors={"path": {"slot": ["Không có thành phần hồ sơ này trong thủ tục."]}},
        )
    return name


def current_file(session: Session, dossier_id: int, slot: str) -> DossierFile | None:
    return session.scalar(
        select(DossierFile).where(
            DossierFile.dossier_id == dossier_id,
            DossierFile.slot == slot,
            DossierFile.superseded_at.is_(None),
        )
    )


def room_for(session: Session, d: Dossier, slot: str, limits: Limits) -> int:
    """The largest file ``slot`` of ``d`` may receive now: the per-file limit, or what is left
    of the per-dossier limit once the slot's current file (which would be replaced) is freed."""
    others = session.scalar(
        select(func.coalesce(func.sum(DossierFile.size_bytes), 0)).where(
            DossierFile.dossier_id == d.id,
            DossierFile.slot != slot,
            DossierFile.superseded_at.is_(None),
        )
    )
    return max(0, min(limits.max_file_bytes, limits.max_dossier_bytes - int(others or 0)))


def check_citizen_budget(
    session: Session, actor: Principal, size: int, *, now: datetime, limits: Limits
) -> None:
    """Refuse (429 with ``Retry-After``) a citizen's upload of ``size`` bytes that would take
    their uploads of the last 24 hours over ``limits.max_citizen_bytes_per_day``.

    The per-dossier limit counts current files only; this one counts every byte stored for the
    citizen, so neither many dossiers nor replacing a file again and again can fill the store.
    """
    cap = limits.max_citizen_bytes_per_day
    if actor.role != Role.CITIZEN or cap is None:
        return
    since = now - CITIZEN_BUDGET_WINDOW
    recent = session.execute(
        select(DossierFile.uploaded_at, DossierFile.size_bytes)
        .where(DossierFile.uploaded_by_id == actor.user_id, DossierFile.uploaded_at > since)
        .order_by(DossierFile.uploaded_at)
    ).all()
    used = sum(row.size_bytes for row in recent)
    if used + size <= cap:
        return
    # Wait until enough of the oldest uploads leave the window (a day if one file is over).
    free_at = now + CITIZEN_BUDGET_WINDOW
    for row in recent:
        used -= row.size_bytes
        if used + size <= cap:
            free_at = row.uploaded_at + CITIZEN_BUDGET_WINDOW
            break
    retry = max(1, math.ceil((free_at - now).total_seconds()))
    raise TooManyRequests(
        f"Mỗi tài khoản công dân tải lên tối đa {_size_text(cap)} trong 24 giờ; "
        "vui lòng thử lại sau.",
        type="file.citizen_quota",
        headers={"Retry-After": str(retry)},
    )


def too_large(size: int, room: int, limits: Limits) -> FileTooLarge:
    """The 413 for a file of ``size`` bytes where only ``room`` is left."""
    if size > limits.max_file_bytes:
        return FileTooLarge(
            f"Mỗi tệp tối đa {_size_text(limits.max_file_bytes)}.", type="file.too_large"
        )
    return FileTooLarge(
        f"Tổng dung lượng giấy tờ của một hồ sơ tối đa {_size_text(limits.max_dossier_bytes)}; "
        f"hồ sơ này chỉ còn nhận thêm được {_size_text(room)}.",
        type="file.dossier_quota",
    )


def _size_text(n: int) -> str:
    """``10 MB``, ``1,5 MB``, ``4 KB``: Vietnamese decimal comma."""
    value, unit = (n / (1024 * 1024), "MB") if n >= 1024 * 1024 else (n / 1024, "KB")
    return f"{value:.1f}".rstrip("0").rstrip(".").replace(".", ",") + f" {unit}"


# ---- use cases ---------------------------------------------------------------------------------


def attach(
    session: Session,
    dossier_id: int,
    slot: str,
    blob: StoredBlob,
    *,
    media_type: str,
    display_name: str,
    actor: Principal,
    now: datetime,
    limits: Limits,
    storage: Storage,
    request_id: str | None = None,
) -> tuple[DossierFile, bool]:
    """Record an already stored ``blob`` as the current file of ``slot``.

    Re-checks scope, state, slot and limits with the dossier row locked (a concurrent upload to
    the same dossier waits), supersedes the slot's previous file and appends the audit event.
    Returns the row and whether it is new: uploading the same bytes under the same name again
    changes nothing, so a retried PUT is harmless.
    """
    d = session.scalar(
        scope(select(Dossier).where(Dossier.id == dossier_id), actor).with_for_update()
    )
    if d is None:
        raise NotFound("Không tìm thấy hồ sơ.", type="dossier.not_found")
    check_can_upload(session, d, slot, actor=actor)
    if media_type not in EXTENSIONS:
        raise UnsupportedFile()
    if not storage.exists(blob.sha256):
        # The row must never point at bytes that are not durably stored.
        raise StorageUnavailable()
    room = room_for(session, d, slot, limits)
    if blob.size > room:
        raise too_large(blob.size, room, limits)
    previous = current_file(session, d.id, slot)
    if previous is not None and _unchanged(previous, blob, display_name):
        return previous, False
    check_citizen_budget(session, actor, blob.size, now=now, limits=limits)
    if previous is not None:
        previous.superseded_at = now
        session.flush()  # free the slot before the new row takes it (unique partial index)
    f = DossierFile(
        dossier_id=d.id,
        slot=slot,
        display_name=display_name,
        media_type=media_type,
        size_bytes=blob.size,
        sha256=blob.sha256,
        uploaded_at=now,
        uploaded_by_id=actor.user_id,
        uploaded_by_role=str(actor.role),
    )
    session.add(f)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="dossier.file_uploaded",
        stream=f"dossier:{d.id}",
        agency_id=d.agency_id,
        now=now,
        request_id=request_id,
        # No display name: file names often carry the applicant's name or ID number.
        data={
            "file_id": f.id,
            "slot": slot,
            "media_type": media_type,
            "size_bytes": blob.size,
            "sha256": blob.sha256,
            "replaces_file_id": previous.id if previous is not None else None,
        },
    )
    return f, True


def _unchanged(previous: DossierFile, blob: StoredBlob, display_name: str) -> bool:
    return previous.sha256 == blob.sha256 and previous.display_name == display_name


def store(storage: Storage, data: bytes) -> StoredBlob:
    """Write ``data`` durably; a failing store is a 503, not a 500 with a half-written row."""
    try:
        return storage.put(data)
    except StorageError as exc:
        raise StorageUnavailable() from exc


def list_files(
    session: Session, dossier_id: int, *, actor: Principal, history: bool = False
) -> tuple[Dossier, list[DossierFile]]:
    """The dossier's current files (and superseded ones with ``history``), oldest first."""
    d = get_dossier(session, dossier_id, actor=actor)
    stmt = select(DossierFile).where(DossierFile.dossier_id == d.id)
    if not history:
        stmt = stmt.where(DossierFile.superseded_at.is_(None))
    return d, list(session.scalars(stmt.order_by(DossierFile.id)))


def get_file(
    session: Session, dossier_id: int, file_id: int, *, actor: Principal
) -> tuple[Dossier, DossierFile]:
    """One file of a dossier the actor may see; 404 otherwise (same answer either way)."""
    d = get_dossier(session, dossier_id, actor=actor)
    f = session.scalar(
        select(DossierFile).where(DossierFile.id == file_id, DossierFile.dossier_id == d.id)
    )
    if f is None:
        raise NotFound("Không tìm thấy tệp.", type="file.not_found")
    return d, f


def record_download(
    session: Session,
    dossier_id: int,
    file_id: int,
    *,
    actor: Principal,
    now: datetime,
    request_id: str | None = None,
) -> None:
    """Audit a staff member reading a citizen's document (reads of personal data are logged,
    docs/security.md decision 4)."""
    d, f = get_file(session, dossier_id, file_id, actor=actor)
    audit.record(
        session,
        actor=actor,
        action="dossier.file_downloaded",
        stream=f"dossier:{d.id}",
        agency_id=d.agency_id,
        now=now,
        request_id=request_id,
        data={"file_id": f.id, "slot": f.slot, "sha256": f.sha256},
    )

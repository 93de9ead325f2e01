"""Plain-data inputs of the seven one-stop forms: NFC normalisation, length caps, validation.

Long on purpose: the seven form declarations and the field specs they use read as one table.

Every form is a frozen dataclass built from plain values (``from_dict``) or directly; both paths
run the same checks in ``__post_init__``. ``to_dict`` gives back the JSON-serialisable snapshot
that ``from_dict`` accepts, so a stored snapshot re-creates the exact input of a rendered PDF.

Why caps everywhere: WeasyPrint's layout time grows with the amount of text (about 20 µs per
character), so every text field and every list has a ceiling that keeps one render bounded
(docs/documents.md). Why the glyph check: a receipt is a legal document, so a character the
bundled font cannot draw is refused by name, never drawn by a fallback font or as a blank box.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import date, datetime
from typing import Any, ClassVar, Self

from onestop.core.text import UnprintableText, clean_text

# Dossier code: <agency code>-<yyMMdd of receipt>-<sequence>, e.g. 000.00.10.H56-261123-0001
# (Circular 03/2025/TT-VPCP; the agency code follows Decision 20/2020/QĐ-TTg and is opaque here).
DOSSIER_CODE_RE = re.compile(r"[0-9A-Z][0-9A-Z.]{0,39}-[0-9]{6}-[0-9]{4,6}")
ID_NUMBER_RE = re.compile(r"[0-9A-Z-]{1,20}")
PHONE_RE = re.compile(r"\+?[0-9][0-9 .()-]{2,19}")
EMAIL_RE = re.compile(r"[^@\s]{1,64}@[^@\s]{1,189}")
# The lookup URL is printed into the QR code, so it is held to the shape the service produces.
LOOKUP_BASE_URL_RE = re.compile(r"https?://[A-Za-z0-9.-]{1,100}(:[0-9]{1,5})?(/[A-Za-z0-9._~-]+)*")
LOOKUP_TOKEN_RE = re.compile(r"[A-Za-z0-9_-]{16,128}")
# The check code typed by hand from the receipt: capitals and digits (no 0/O/1/I are issued).
CHECK_CODE_RE = re.compile(r"[A-Z0-9]{4,12}")


class FormValidationError(ValueError):
    """A form field holds a value the renderer refuses; ``field`` is its dotted path."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def _clean_text(path: str, value: Any, *, max_len: int, multiline: bool) -> str:
    if not isinstance(value, str):
        raise FormValidationError(path, "phải là chuỗi ký tự")
    # Length is checked before anything else so that a huge input costs nothing more; NFD input
    # is at most about three times longer than its NFC form in Vietnamese.
    if len(value) > 4 * max_len:
        raise FormValidationError(path, f"dài quá {max_len} ký tự")
    # NFC, no control, bidi or zero-width characters (docs/security.md decision 9), exotic spaces
    # made plain, and only what the bundled fonts draw: the same rule as at the API boundary.
    try:
        text = clean_text(value.replace("\r\n", "\n"), multiline=multiline, printable=True)
    except UnprintableText as exc:
        raise FormValidationError(
            path, f"chứa ký tự phông chữ không hiển thị được: U+{ord(exc.char):04X}"
        ) from None
    except ValueError as exc:
        raise FormValidationError(path, str(exc)) from None
    if len(text) > max_len:
        raise FormValidationError(path, f"dài quá {max_len} ký tự")
    return text


class _Spec:
    """How one dataclass field is checked (``clean``) and written back to plain data (``dump``)."""

    def clean(self, path: str, value: Any) -> Any:
        raise NotImplementedError

    def dump(self, value: Any) -> Any:
        return value


class _Text(_Spec):
    def __init__(
        self, max_len: int, *, multiline: bool = False, pattern: re.Pattern[str] | None = None
    ):
        self.max_len = max_len
        self.multiline = multiline
        self.pattern = pattern

    def clean(self, path: str, value: Any) -> str:
        text = _clean_text(path, value, max_len=self.max_len, multiline=self.multiline)
        if not text:
            raise FormValidationError(path, "không được để trống")
        if self.pattern is not None and not self.pattern.fullmatch(text):
            raise FormValidationError(path, "không đúng định dạng")
        return text


class _Int(_Spec):
    def __init__(self, low: int, high: int):
        self.low, self.high = low, high

    def clean(self, path: str, value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise FormValidationError(path, "phải là số nguyên")
        if not self.low <= value <= self.high:
            raise FormValidationError(path, f"phải từ {self.low} đến {self.high}")
        return value


class _DateTime(_Spec):
    def clean(self, path: str, value: Any) -> datetime:
        if isinstance(value, str) and len(value) <= 40:
            try:
                value = datetime.fromisoformat(value)
            except ValueError:
                raise FormValidationError(path, "không phải thời điểm ISO 8601") from None
        if not isinstance(value, datetime):
            raise FormValidationError(path, "phải là thời điểm (ISO 8601)")
        # Every timestamp is timezone-aware; the printed date is computed in Asia/Ho_Chi_Minh.
        if value.utcoffset() is None:
            raise FormValidationError(path, "thiếu múi giờ")
        return value

    def dump(self, value: datetime) -> str:
        return value.isoformat()


class _Date(_Spec):
    def clean(self, path: str, value: Any) -> date:
        if isinstance(value, str) and len(value) <= 10:
            try:
                value = date.fromisoformat(value)
            except ValueError:
                raise FormValidationError(path, "không phải ngày ISO 8601") from None
        if isinstance(value, datetime) or not isinstance(value, date):
            raise FormValidationError(path, "phải là ngày (YYYY-MM-DD)")
        return value

    def dump(self, value: date) -> str:
        return value.isoformat()


class _Nested(_Spec):
    def __init__(self, cls: type[_Record]):
        self.cls = cls

    def clean(self, path: str, value: Any) -> _Record:
        if isinstance(value, self.cls):
            return value
        if not isinstance(value, Mapping):
            raise FormValidationError(path, "phải là một đối tượng")
        try:
            return self.cls.from_dict(value)
        except FormValidationError as exc:
            raise FormValidationError(f"{path}.{exc.field}", exc.message) from None

    def dump(self, value: _Record) -> dict[str, Any]:
        return value.to_dict()


class _List(_Spec):
    def __init__(self, item: _Spec, *, max_items: int, min_items: int = 0):
        self.item, self.max_items, self.min_items = item, max_items, min_items

    def clean(self, path: str, value: Any) -> tuple[Any, ...]:
        if isinstance(value, str | bytes | Mapping) or not hasattr(value, "__len__"):
            raise FormValidationError(path, "phải là một danh sách")
        if len(value) > self.max_items:
            raise FormValidationError(path, f"nhiều quá {self.max_items} mục")
        if len(value) < self.min_items:
            raise FormValidationError(path, f"cần ít nhất {self.min_items} mục")
        return tuple(self.item.clean(f"{path}[{i}]", v) for i, v in enumerate(value))

    def dump(self, value: tuple[Any, ...]) -> list[Any]:
        return [self.item.dump(v) for v in value]


def _spec(spec: _Spec) -> dict[str, _Spec]:
    """Field metadata naming the check of a dataclass field: ``field(metadata=_spec(...))``."""
    return {"spec": spec}


def _text(max_len: int, **kw: Any) -> dict[str, _Spec]:
    return _spec(_Text(max_len, **kw))


_DATETIME = _spec(_DateTime())


@dataclass(frozen=True, kw_only=True)
class _Record:
    """Base of every input record: validates on construction, converts to and from plain data."""

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if value is None and f.default is None:
                continue
            object.__setattr__(self, f.name, f.metadata["spec"].clean(f.name, value))
        self._check()

    def _check(self) -> None:
        """Rules across fields; subclasses override."""

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        """Build from plain JSON-like data; unknown keys are refused, strings are NFC-normalised."""
        if not isinstance(data, Mapping):
            raise FormValidationError(cls.__name__, "phải là một đối tượng")
        known = {f.name: f for f in fields(cls)}
        for key in data:
            if key not in known:
                raise FormValidationError(str(key)[:100], "trường không được hỗ trợ")
        for name, f in known.items():
            if f.default is not None and name not in data:
                raise FormValidationError(name, "thiếu trường bắt buộc")
        return cls(**data)

    def to_dict(self) -> dict[str, Any]:
        """The plain, JSON-serialisable data this record was built from (after normalisation)."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            out[f.name] = None if value is None else f.metadata["spec"].dump(value)
        return out


def _after(later: datetime, earlier: datetime, path: str, message: str) -> None:
    if later < earlier:
        raise FormValidationError(path, message)


# --- Parts shared by several forms ----------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Header(_Record):
    """The two-column heading of an administrative document (Decree 30/2020/NĐ-CP, Appendix I)."""

    agency: str = field(metadata=_text(200))  # parent agency, e.g. "UBND TỈNH THANH HÓA"
    unit: str = field(
        metadata=_text(200)
    )  # issuing unit, e.g. "TRUNG TÂM PHỤC VỤ HÀNH CHÍNH CÔNG TỈNH"
    place: str = field(metadata=_text(100))  # place name before the date, e.g. "Thanh Hóa"
    issued_at: datetime = field(metadata=_DATETIME)
    number: str | None = field(default=None, metadata=_text(50))  # document number, e.g. "125/PXL"


@dataclass(frozen=True, kw_only=True)
class Applicant(_Record):
    """The person or organisation the dossier belongs to."""

    name: str = field(metadata=_text(200))
    # CCCD, passport or tax code.
    id_number: str | None = field(default=None, metadata=_text(20, pattern=ID_NUMBER_RE))
    address: str = field(metadata=_text(500))
    phone: str | None = field(default=None, metadata=_text(20, pattern=PHONE_RE))
    email: str | None = field(default=None, metadata=_text(254, pattern=EMAIL_RE))


@dataclass(frozen=True, kw_only=True)
class SubmittedDocument(_Record):
    """One line of "Thành phần hồ sơ": the document and how many originals and copies."""

    name: str = field(metadata=_text(500))
    originals: int = field(metadata=_spec(_Int(0, 99)))
    certified_copies: int = field(metadata=_spec(_Int(0, 99)))
    photocopies: int = field(metadata=_spec(_Int(0, 99)))


# --- The forms --------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class FormData(_Record):
    """Base of the seven forms: which template renders it and the template's version."""

    form_code: ClassVar[str]
    title: ClassVar[str]
    template_name: ClassVar[str]
    # Bumped whenever the template's wording or layout changes, and stored with each issued PDF.
    template_version: ClassVar[str]


@dataclass(frozen=True, kw_only=True)
class ReceiptData(FormData):
    """Form 01: receipt and appointment slip, issued when a complete dossier is received."""

    form_code: ClassVar[str] = "01"
    title: ClassVar[str] = "Giấy tiếp nhận hồ sơ và hẹn trả kết quả"
    template_name: ClassVar[str] = "01_receipt.html"
    template_version: ClassVar[str] = "01.2"

    header: Header = field(metadata=_spec(_Nested(Header)))
    dossier_code: str = field(metadata=_text(60, pattern=DOSSIER_CODE_RE))
    applicant: Applicant = field(metadata=_spec(_Nested(Applicant)))
    procedure_name: str = field(metadata=_text(500))
    documents: tuple[SubmittedDocument, ...] = field(
        metadata=_spec(_List(_Nested(SubmittedDocument), max_items=30))
    )
    sets_count: int = field(metadata=_spec(_Int(1, 99)))
    processing_time: str = field(metadata=_text(100))  # statutory time, e.g. "15 ngày làm việc"
    received_at: datetime = field(metadata=_DATETIME)
    appointment_at: datetime = field(metadata=_DATETIME)
    result_delivery: str = field(
        metadata=_text(500)
    )  # the desk, or the postal address chosen by the applicant
    register_volume: str | None = field(default=None, metadata=_text(20))
    register_entry: str | None = field(default=None, metadata=_text(20))
    receiving_officer: str = field(metadata=_text(200))
    lookup_base_url: str = field(metadata=_text(200, pattern=LOOKUP_BASE_URL_RE))
    lookup_token: str = field(metadata=_text(128, pattern=LOOKUP_TOKEN_RE))
    # Printed beside the dossier code: with both, a citizen holding only the paper looks the
    # dossier up without the QR code (docs/lookup.md). Optional so that the snapshots of receipts
    # issued before it was printed still rebuild.
    check_code: str | None = field(default=None, metadata=_text(12, pattern=CHECK_CODE_RE))

    def _check(self) -> None:
        _after(
            self.appointment_at, self.received_at, "appointment_at", "trước thời gian nhận hồ sơ"
        )

    @property
    def lookup_url(self) -> str:
        """The public lookup address printed as a QR code (docs/security.md decision 7)."""
        return f"{self.lookup_base_url.rstrip('/')}/tra-cuu/{self.lookup_token}"


@dataclass(frozen=True, kw_only=True)
class SupplementRequestData(FormData):
    """Form 02: one complete written list of what the applicant must add or correct."""

    form_code: ClassVar[str] = "02"
    title: ClassVar[str] = "Phiếu yêu cầu bổ sung, hoàn thiện hồ sơ"
    template_name: ClassVar[str] = "02_supplement.html"
    template_version: ClassVar[str] = "02.2"

    header: Header = field(metadata=_spec(_Nested(Header)))
    # No code yet when the dossier is incomplete at intake: it has not been received.
    dossier_code: str | None = field(default=None, metadata=_text(60, pattern=DOSSIER_CODE_RE))
    applicant: Applicant = field(metadata=_spec(_Nested(Applicant)))
    procedure_name: str = field(metadata=_text(500))
    items: tuple[str, ...] = field(metadata=_spec(_List(_Text(500), min_items=1, max_items=30)))
    reason: str = field(metadata=_text(2000, multiline=True))
    guidance: str | None = field(
        default=None, metadata=_text(500)
    )  # where to get help: website, officer, phone
    guiding_officer: str = field(metadata=_text(200))


@dataclass(frozen=True, kw_only=True)
class RefusalData(FormData):
    """Form 03: refusal to receive or process a dossier, with the specific reasons."""

    form_code: ClassVar[str] = "03"
    title: ClassVar[str] = "Phiếu từ chối tiếp nhận giải quyết hồ sơ"
    template_name: ClassVar[str] = "03_refusal.html"
    template_version: ClassVar[str] = "03.2"

    header: Header = field(metadata=_spec(_Nested(Header)))
    dossier_code: str | None = field(default=None, metadata=_text(60, pattern=DOSSIER_CODE_RE))
    applicant: Applicant = field(metadata=_spec(_Nested(Applicant)))
    procedure_name: str = field(metadata=_text(500))
    reasons: tuple[str, ...] = field(
        metadata=_spec(_List(_Text(1000, multiline=True), min_items=1, max_items=20))
    )
    receiving_officer: str = field(metadata=_text(200))


@dataclass(frozen=True, kw_only=True)
class ApologyData(FormData):
    """Form 04: apology for a late result and the new return date (which may be set only once)."""

    form_code: ClassVar[str] = "04"
    title: ClassVar[str] = "Phiếu xin lỗi và hẹn lại ngày trả kết quả"
    template_name: ClassVar[str] = "04_apology.html"
    template_version: ClassVar[str] = "04.2"

    header: Header = field(metadata=_spec(_Nested(Header)))
    dossier_code: str = field(metadata=_text(60, pattern=DOSSIER_CODE_RE))
    applicant: Applicant = field(metadata=_spec(_Nested(Applicant)))
    procedure_name: str = field(metadata=_text(500))
    received_at: datetime = field(metadata=_DATETIME)
    appointment_at: datetime = field(metadata=_DATETIME)
    reason: str = field(metadata=_text(2000, multiline=True))
    new_appointment_at: datetime = field(metadata=_DATETIME)
    signer_title: str = field(
        metadata=_text(100)
    )  # e.g. "GIÁM ĐỐC", or "KT. GIÁM ĐỐC" with signer_role
    signer_role: str | None = field(
        default=None, metadata=_text(100)
    )  # e.g. "PHÓ GIÁM ĐỐC" under "KT."
    signer_name: str = field(metadata=_text(200))
    recipients: tuple[str, ...] = field(metadata=_spec(_List(_Text(200), max_items=10)))

    def _check(self) -> None:
        _after(
            self.appointment_at, self.received_at, "appointment_at", "trước thời gian nhận hồ sơ"
        )
        _after(
            self.new_appointment_at,
            self.appointment_at,
            "new_appointment_at",
            "phải sau thời gian hẹn trả kết quả ban đầu",
        )


@dataclass(frozen=True, kw_only=True)
class StopNoticeData(FormData):
    """Form 05: notice that processing of the dossier has stopped (Decree 118/2025/NĐ-CP)."""

    form_code: ClassVar[str] = "05"
    title: ClassVar[str] = "Thông báo dừng giải quyết hồ sơ"
    template_name: ClassVar[str] = "05_stop_notice.html"
    template_version: ClassVar[str] = "05.2"

    header: Header = field(metadata=_spec(_Nested(Header)))
    dossier_code: str = field(metadata=_text(60, pattern=DOSSIER_CODE_RE))
    applicant: Applicant = field(metadata=_spec(_Nested(Applicant)))
    procedure_name: str = field(metadata=_text(500))
    received_at: datetime = field(metadata=_DATETIME)
    requested_at: datetime | None = field(
        default=None, metadata=_DATETIME
    )  # when the applicant asked to stop
    reason: str = field(metadata=_text(2000, multiline=True))
    signer_title: str = field(metadata=_text(100))
    signer_role: str | None = field(default=None, metadata=_text(100))
    signer_name: str = field(metadata=_text(200))
    recipients: tuple[str, ...] = field(metadata=_spec(_List(_Text(200), max_items=10)))


@dataclass(frozen=True, kw_only=True)
class HandoverStep(_Record):
    """One row of the control slip: a handover of the paper dossier between two units."""

    from_unit: str = field(metadata=_text(200))
    to_unit: str = field(metadata=_text(200))
    handed_at: datetime = field(metadata=_DATETIME)
    giver: str | None = field(default=None, metadata=_text(200))
    receiver: str | None = field(default=None, metadata=_text(200))
    result: str | None = field(
        default=None, metadata=_text(100)
    )  # "Trước hạn", "Đúng hạn", "Quá hạn"
    note: str | None = field(default=None, metadata=_text(500))


@dataclass(frozen=True, kw_only=True)
class ControlSlipData(FormData):
    """Form 06: control slip that travels with the paper dossier and records each handover."""

    form_code: ClassVar[str] = "06"
    title: ClassVar[str] = "Phiếu kiểm soát quá trình giải quyết hồ sơ"
    template_name: ClassVar[str] = "06_control_slip.html"
    template_version: ClassVar[str] = "06.2"

    header: Header = field(metadata=_spec(_Nested(Header)))
    dossier_code: str = field(metadata=_text(60, pattern=DOSSIER_CODE_RE))
    applicant_name: str = field(metadata=_text(200))
    procedure_name: str = field(metadata=_text(500))
    received_at: datetime = field(metadata=_DATETIME)
    appointment_at: datetime = field(metadata=_DATETIME)
    steps: tuple[HandoverStep, ...] = field(
        metadata=_spec(_List(_Nested(HandoverStep), max_items=30))
    )

    def _check(self) -> None:
        _after(
            self.appointment_at, self.received_at, "appointment_at", "trước thời gian nhận hồ sơ"
        )


@dataclass(frozen=True, kw_only=True)
class RegisterEntry(_Record):
    """One line of the register: a dossier and the dates of its journey."""

    dossier_code: str = field(metadata=_text(60, pattern=DOSSIER_CODE_RE))
    procedure_name: str = field(metadata=_text(300))
    sets_count: int = field(metadata=_spec(_Int(1, 99)))
    applicant_name: str = field(metadata=_text(200))
    applicant_contact: str = field(metadata=_text(300))  # address and phone number
    handling_agency: str = field(metadata=_text(200))
    received_at: datetime = field(metadata=_DATETIME)
    appointment_at: datetime = field(metadata=_DATETIME)
    transferred_at: datetime | None = field(default=None, metadata=_DATETIME)
    result_received_at: datetime | None = field(default=None, metadata=_DATETIME)
    returned_at: datetime | None = field(default=None, metadata=_DATETIME)
    note: str | None = field(default=None, metadata=_text(200))


@dataclass(frozen=True, kw_only=True)
class RegisterData(FormData):
    """Form 07: the register of dossiers of one unit for a period (one volume per document)."""

    form_code: ClassVar[str] = "07"
    title: ClassVar[str] = "Sổ theo dõi hồ sơ"
    template_name: ClassVar[str] = "07_register.html"
    template_version: ClassVar[str] = "07.2"
    # A month of a busy commune desk fits; larger periods are printed as several volumes so that
    # one render stays bounded (about 35 ms per entry, docs/documents.md).
    max_entries: ClassVar[int] = 200

    header: Header = field(metadata=_spec(_Nested(Header)))
    volume: str | None = field(default=None, metadata=_text(20))
    period_start: date = field(metadata=_spec(_Date()))
    period_end: date = field(metadata=_spec(_Date()))
    entries: tuple[RegisterEntry, ...] = field(
        metadata=_spec(_List(_Nested(RegisterEntry), max_items=max_entries))
    )

    def _check(self) -> None:
        if self.period_end < self.period_start:
            raise FormValidationError("period_end", "trước ngày bắt đầu kỳ")


FORM_TYPES: dict[str, type[FormData]] = {
    cls.form_code: cls
    for cls in (
        ReceiptData,
        SupplementRequestData,
        RefusalData,
        ApologyData,
        StopNoticeData,
        ControlSlipData,
        RegisterData,
    )
}

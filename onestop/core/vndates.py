"""Dates and times written the Vietnamese way, in Vietnam time: one implementation for the PDF
forms, the lookup page and the dossier timeline."""

from __future__ import annotations

from datetime import date, datetime

from onestop.core.clock import VN_TZ


def _local(value: datetime) -> datetime:
    if value.utcoffset() is None:
        raise ValueError("naive datetime: every timestamp must carry its time zone")
    return value.astimezone(VN_TZ)


def format_date_long(value: date | datetime) -> str:
    """``ngày 05 tháng 3 năm 2026``.

    Decree 30/2020/NĐ-CP, Appendix I (place and date of issue): days below 10 and the months 1 and 2
    take a leading zero; other months are written without one.
    """
    if isinstance(value, datetime):
        value = _local(value).date()
    month = f"{value.month:02d}" if value.month <= 2 else str(value.month)
    return f"ngày {value.day:02d} tháng {month} năm {value.year}"


def format_datetime_long(value: datetime) -> str:
    """``14 giờ 30 phút, ngày 05 tháng 3 năm 2026``, in Vietnam time (the layout of form 01)."""
    local = _local(value)
    return f"{local.hour:02d} giờ {local.minute:02d} phút, {format_date_long(local.date())}"


def format_place_date(place: str, value: date | datetime) -> str:
    """``Thanh Hóa, ngày 05 tháng 3 năm 2026``: the place and date line under the national motto."""
    return f"{place}, {format_date_long(value)}"


def format_datetime_short(value: datetime) -> str:
    """``05/03/2026 14:30``: the compact form used in the register's narrow columns."""
    return _local(value).strftime("%d/%m/%Y %H:%M")


def format_date_short(value: date | datetime) -> str:
    """``05/03/2026``."""
    if isinstance(value, datetime):
        value = _local(value).date()
    return value.strftime("%d/%m/%Y")

"""Applicant identity numbers: CCCD (citizen identity card) and tax codes, validated and masked."""

from __future__ import annotations

from datetime import date

# Province codes of the first three CCCD digits (Circular 07/2016/TT-BCA, amended by Circular
# 59/2021/TT-BCA): where the birth was registered, under the 63 pre-2025 provinces.
CCCD_PROVINCES = frozenset(
    [
        "001",
        "002",
        "004",
        "006",
        "008",
        "010",
        "011",
        "012",
        "014",
        "015",
        "017",
        "019",
        "020",
        "022",
        "024",
        "025",
        "026",
        "027",
        "030",
        "031",
        "033",
        "034",
        "035",
        "036",
        "037",
        "038",
        "040",
        "042",
        "044",
        "045",
        "046",
        "048",
        "049",
        "051",
        "052",
        "054",
        "056",
        "058",
        "060",
        "062",
        "064",
        "066",
        "067",
        "068",
        "070",
        "072",
        "074",
        "075",
        "077",
        "079",
        "080",
        "082",
        "083",
        "084",
        "086",
        "087",
        "089",
        "091",
        "092",
        "093",
        "094",
        "095",
        "096",
    ]
)
# Fourth digit: century of birth and sex (0/1: 1900s, 2/3: 2000s, 4/5: 2100s ...).
_CENTURY = {0: 1900, 1: 1900, 2: 2000, 3: 2000, 4: 2100, 5: 2100, 6: 2200, 7: 2200}


def cccd_problem(value: str, birth_date: date | None = None) -> str | None:
    """Why ``value`` is not a valid 12-digit CCCD number, or None when it is."""
    if len(value) != 12 or not value.isascii() or not value.isdigit():
        return "Số định danh cá nhân (CCCD) gồm đúng 12 chữ số."
    if value[:3] not in CCCD_PROVINCES:
        return "Ba chữ số đầu của CCCD không phải mã tỉnh hợp lệ."
    century = _CENTURY.get(int(value[3]))
    if century is None:
        return "Chữ số thứ tư của CCCD (thế kỷ và giới tính) không hợp lệ."
    if birth_date is not None and century + int(value[4:6]) != birth_date.year:
        return "Năm sinh trong CCCD không khớp với ngày sinh."
    return None


def mask_cccd(value: str | None) -> str | None:
    """Only the last three digits are shown: the first six encode province, sex and birth year
    (docs/security.md decision 9)."""
    if not value:
        return value
    return "*" * (len(value) - 3) + value[-3:]


def tax_code_problem(value: str) -> str | None:
    """Enterprise tax codes have 10 digits, branch codes 10 digits, a hyphen and 3 digits
    (Circular 105/2020/TT-BTC art. 5)."""
    head, _, branch = value.partition("-")
    if (
        len(head) == 10
        and head.isdigit()
        and (not branch or (len(branch) == 3 and branch.isdigit()))
    ):
        return None
    return "Mã số thuế gồm 10 chữ số, hoặc 10 chữ số, dấu gạch và 3 chữ số."

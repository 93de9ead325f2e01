"""Vectorised due dates (numpy) for re-projecting many open dossiers after a calendar change.

Inputs are the arrays a single database query gives: receipt instants as epoch seconds (or
``datetime64``), unit codes (``TimeUnit.code``, or the unit strings), amounts and the working
seconds each dossier has been paused. The result is epoch seconds (int64, UTC); use
``as_datetime64`` for ``datetime64[s]``. Same rules and same results as ``Calendar.due_at``
followed by ``Calendar.shift_working`` for the pause.
"""

from __future__ import annotations

from datetime import datetime, time
from typing import cast

import numpy as np

from onestop.worktime.calendar import Calendar
from onestop.worktime.errors import (
    INVALID_AMOUNT,
    NAIVE_DATETIME,
    OUT_OF_RANGE,
    UNKNOWN_UNIT,
    WorktimeError,
)
from onestop.worktime.policy import DEFAULT_SAME_DAY_CUTOFF, UNIT_CODES, TimeUnit

WD = UNIT_CODES[TimeUnit.WORKING_DAYS]
WH = UNIT_CODES[TimeUnit.WORKING_HOURS]
SD = UNIT_CODES[TimeUnit.SAME_DAY]
CD = UNIT_CODES[TimeUnit.CALENDAR_DAYS]


def encode_units(units: np.ndarray | list[str]) -> np.ndarray:
    """Unit strings (``"working_days"`` …) → int8 codes; unknown strings raise."""
    values = np.asarray(units)
    if values.dtype.kind in "iu":
        codes = values.astype(np.int8)
    else:
        codes = np.zeros(values.shape, dtype=np.int8)
        for unit, code in UNIT_CODES.items():
            codes[values == unit.value] = code
    bad = ~np.isin(codes, list(UNIT_CODES.values()))
    if bad.any():
        rows = np.flatnonzero(bad)[:10].tolist()
        raise WorktimeError(UNKNOWN_UNIT, "Đơn vị thời hạn không hợp lệ.", rows=rows)
    return codes


def _epoch_seconds(values: np.ndarray) -> np.ndarray:
    values = np.asarray(values)
    if values.dtype.kind == "M":
        return values.astype("datetime64[s]").astype(np.int64)
    if values.dtype.kind in "iu":
        return values.astype(np.int64, copy=False)
    if values.dtype.kind == "f":
        return cast(np.ndarray, np.floor(values).astype(np.int64))
    raise WorktimeError(
        INVALID_AMOUNT, "Thời điểm tiếp nhận phải là số giây epoch hoặc datetime64."
    )


def _fail(slug: str, message: str, mask: np.ndarray) -> WorktimeError:
    return WorktimeError(slug, message, rows=np.flatnonzero(mask)[:10].tolist())


def project_due_batch(
    calendar: Calendar,
    received_at: np.ndarray,
    unit: np.ndarray,
    amount: np.ndarray,
    paused_working_seconds: np.ndarray | None = None,
    *,
    cutoff: time = DEFAULT_SAME_DAY_CUTOFF,
) -> np.ndarray:
    """Legal due instants (epoch seconds, int64) for many dossiers at once.

    ``received_at``: epoch seconds (int64) or ``datetime64`` (UTC); ``unit``: codes from
    ``TimeUnit.code`` or unit strings; ``amount``: whole numbers >= 0 (1 for same_day);
    ``paused_working_seconds``: working time each clock stood still, added after the due date is
    found (``Calendar.shift_working``). ``cutoff`` is the same-day cut-off for every row: group
    rows by policy if procedures use different cut-offs. Any invalid row raises
    ``WorktimeError`` naming up to ten row numbers; nothing is computed for the others.
    """
    a = calendar.arrays()
    p_start, p_end = a["p_start"], a["p_end"]
    cum_before, cum_end = a["p_cum_before"], a["p_cum_end"]
    n_periods, n_wd, n_days = len(p_start), len(a["wd_end"]), len(a["next_wd"]) - 1
    lo, hi, _ = calendar.bounds

    ts = _epoch_seconds(received_at)
    codes = encode_units(unit)
    n = np.asarray(amount, dtype=np.int64)
    if not ts.shape == codes.shape == n.shape:
        raise WorktimeError(INVALID_AMOUNT, "Các mảng đầu vào phải cùng độ dài.")
    if (n < 0).any():
        raise _fail(INVALID_AMOUNT, "Thời hạn không được là số âm.", n < 0)
    if ((codes == SD) & (n != 1)).any():
        raise _fail(
            INVALID_AMOUNT, "Thời hạn 'trong ngày' phải có số lượng là 1.", (codes == SD) & (n != 1)
        )
    outside = (ts < lo) | (ts >= hi)
    if outside.any():
        raise _fail(OUT_OF_RANGE, "Thời điểm tiếp nhận nằm ngoài khoảng năm của lịch.", outside)

    # Effective start: the period containing the instant, else the next one.
    i = np.searchsorted(p_start, ts, side="right") - 1
    inside = (i >= 0) & (ts < p_end[np.maximum(i, 0)])
    eff_i = np.where(inside, i, i + 1)
    if (eff_i >= n_periods).any():
        raise _fail(OUT_OF_RANGE, "Không còn ngày làm việc trong lịch.", eff_i >= n_periods)
    eff_ts = np.where(inside, ts, p_start[eff_i])
    k = a["p_wday"][eff_i]

    # Day-based units end at the end of a working day: find its ordinal.
    cut = np.asarray(calendar.cutoff_instants(cutoff), dtype=np.int64)
    day_j = np.minimum(a["wd_day"][k] + n, n_days)  # n_days → sentinel "no working day"
    k_out = np.select(
        [codes == WD, codes == SD, codes == CD],
        [k + n, k + (eff_ts > cut[k]), a["next_wd"][day_j]],
        default=0,
    )
    day_based = codes != WH
    too_far = day_based & (k_out >= n_wd)
    # Working hours: position in cumulative working time, then back to an instant.
    hours = codes == WH
    target = cum_before[eff_i] + (eff_ts - p_start[eff_i]) + n * 3600
    too_far |= hours & (target > cum_end[-1])
    if too_far.any():
        raise _fail(OUT_OF_RANGE, "Hạn giải quyết vượt quá khoảng năm của lịch.", too_far)
    j = np.minimum(np.searchsorted(cum_end, target, side="left"), n_periods - 1)
    by_hours = np.where(n == 0, eff_ts, p_start[j] + target - cum_before[j])
    due = np.where(hours, by_hours, a["wd_end"][np.minimum(k_out, n_wd - 1)])

    if paused_working_seconds is not None:
        paused = np.asarray(paused_working_seconds, dtype=np.int64)
        if paused.shape != due.shape:
            raise WorktimeError(INVALID_AMOUNT, "Các mảng đầu vào phải cùng độ dài.")
        moved = paused != 0
        if moved.any():
            pi = np.searchsorted(p_start, due, side="right") - 1
            w = cum_before[pi] + np.minimum(due, p_end[pi]) - p_start[pi]
            target = w + paused
            bad = moved & ((target < 0) | (target > cum_end[-1]))
            if bad.any():
                raise _fail(OUT_OF_RANGE, "Hạn sau tạm dừng vượt quá khoảng năm của lịch.", bad)
            j = np.minimum(np.searchsorted(cum_end, target, side="left"), n_periods - 1)
            due = np.where(moved, p_start[j] + target - cum_before[j], due)
    return due


def as_datetime64(epoch_seconds: np.ndarray) -> np.ndarray:
    """Epoch seconds → ``datetime64[s]`` (UTC), e.g. for a bulk UPDATE."""
    return np.asarray(epoch_seconds, dtype=np.int64).astype("datetime64[s]")


def to_epoch_seconds(values: list[datetime]) -> np.ndarray:
    """Aware datetimes → epoch seconds (int64); a convenience for tests and small batches."""
    out = np.empty(len(values), dtype=np.int64)
    for idx, value in enumerate(values):
        if value.utcoffset() is None:
            raise WorktimeError(NAIVE_DATETIME, "Thời điểm phải có múi giờ.", row=idx)
        out[idx] = int(value.timestamp())
    return out

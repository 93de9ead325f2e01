"""Benchmark of the deadline engine: due dates, working time, baselines, batch re-projection.

Run from the repository root::

    python tests/bench/worktime.py [--n 100000] [--batch 1000000] [--repeat 5]

Prints µs per call and calls per second (median of the repeats) and PASS/FAIL against the
targets: at least 300,000 full due-date computations per second in one process (aware datetime in,
aware datetime out, mixed units) and the batch re-projection of 1,000,000 dossiers under 2 s.
The naive day loop and numpy.busday_offset baselines use the same days off (make-up Saturdays
included) and their results are asserted equal to the engine's.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, timezone
from datetime import time as clock_time
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from onestop.worktime import (
    Duration,
    TimeUnit,
    explain_due,
    national_calendar,
    project_due_batch,
)

VN = ZoneInfo("Asia/Ho_Chi_Minh")
ZONES = [VN, UTC, timezone(timedelta(hours=7)), timezone(timedelta(hours=-4))]
START = datetime(2024, 1, 1, tzinfo=VN)
SPAN = int((datetime(2026, 12, 1, tzinfo=VN) - START).total_seconds())  # about three years
DAY_END = clock_time(17, 0)

TARGET_PER_SECOND = 300_000
TARGET_BATCH_SECONDS = 2.0


def timed(fn: Callable[[], object], repeat: int) -> tuple[float, object]:
    """Median wall time of ``repeat`` runs and the result of the last one."""
    times, result = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), result


def random_receipts(rng: random.Random, n: int) -> list[datetime]:
    out = []
    for _ in range(n):
        instant = START + timedelta(seconds=rng.randrange(SPAN))
        out.append(instant.astimezone(rng.choice(ZONES)))
    return out


def random_duration(rng: random.Random) -> Duration:
    unit = rng.choices(list(TimeUnit), weights=[70, 10, 10, 10])[0]
    if unit is TimeUnit.SAME_DAY:
        return Duration.same_day()
    if unit is TimeUnit.WORKING_HOURS:
        return Duration(rng.randint(1, 48), unit)
    if unit is TimeUnit.CALENDAR_DAYS:
        return Duration(rng.randint(1, 60), unit)
    return Duration(rng.choice([1, 3, 5, 7, 10, 12, 15, 20, 30]), unit)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    n, repeat = args.n, args.repeat
    rng = random.Random(20240504)

    t0 = time.perf_counter()
    cal = national_calendar()
    build_s = time.perf_counter() - t0

    receipts = random_receipts(rng, n)
    durations = [random_duration(rng) for _ in range(n)]
    pairs = list(zip(receipts, durations, strict=True))
    ends = [r + timedelta(seconds=rng.randrange(0, 40 * 86400)) for r in receipts]
    rows: list[tuple[str, float, int, str]] = []  # label, seconds, calls, verdict

    # 1. Full due-date computations (fast path), mixed units.
    due_at = cal.due_at
    secs, dues = timed(lambda: [due_at(r, d) for r, d in pairs], repeat)
    rate = n / secs
    verdict = "PASS" if rate >= TARGET_PER_SECOND else "FAIL"
    rows.append(("due_at, mixed units (aware in/out)", secs, n, f"{verdict} (>= 300,000/s)"))

    # 2. Working time between two instants.
    between = cal.working_seconds_between
    secs, _ = timed(lambda: [between(a, b) for a, b in zip(receipts, ends, strict=True)], repeat)
    rows.append(("working_seconds_between", secs, n, ""))

    # 3. Explained due dates (the display path), on a tenth of the sample.
    few = pairs[: n // 10]
    secs, explained = timed(lambda: [explain_due(cal, r, d).due_at for r, d in few], 1)
    assert explained == dues[: len(few)], "explain_due disagrees with due_at"
    rows.append(("explain_due (full explanation)", secs, len(few), ""))

    # Baselines on the working-days subset, over the same days off.
    wd = [(r, d.amount) for r, d in pairs if d.unit is TimeUnit.WORKING_DAYS]
    wd_expected = [
        due for (r, d), due in zip(pairs, dues, strict=True) if d.unit is TimeUnit.WORKING_DAYS
    ]
    wd_pairs = [(r, d) for r, d in pairs if d.unit is TimeUnit.WORKING_DAYS]
    secs, got = timed(lambda: [due_at(r, d) for r, d in wd_pairs], repeat)
    assert got == wd_expected
    rows.append(("due_at, working days only", secs, len(wd), ""))

    listing = cal.day_range(cal.first_date, cal.last_date)
    working = frozenset(i.date for i in listing if i.working)
    off = [i.date for i in listing if not i.working]

    def naive(received: datetime, k: int) -> datetime:
        local = received.astimezone(VN)
        day = local.date()
        if day not in working or local.time() >= DAY_END:
            day += timedelta(1)
            while day not in working:
                day += timedelta(1)
        for _ in range(k):
            day += timedelta(1)
            while day not in working:
                day += timedelta(1)
        return datetime.combine(day, DAY_END, VN)

    secs, got = timed(lambda: [naive(r, k) for r, k in wd], repeat)
    assert got == wd_expected, "naive day loop disagrees"
    rows.append(("naive day-by-day loop, working days", secs, len(wd), ""))

    # Every day is a "business day" to numpy; days off are its holidays, so make-up Saturdays
    # count as working days exactly as in the calendar.
    busdaycal = np.busdaycalendar(weekmask="1111111", holidays=np.array(off, dtype="datetime64[D]"))

    def busday(received: datetime, k: int) -> datetime:
        local = received.astimezone(VN)
        day = local.date()
        if local.time() >= DAY_END:
            day += timedelta(1)
        due = np.busday_offset(np.datetime64(day, "D"), k, roll="forward", busdaycal=busdaycal)
        return datetime.combine(due.astype(date), DAY_END, VN)

    secs, got = timed(lambda: [busday(r, k) for r, k in wd], max(1, repeat // 2))
    assert got == wd_expected, "numpy.busday_offset disagrees"
    rows.append(("numpy.busday_offset per call, working days", secs, len(wd), ""))

    def busday_vectorised() -> list[datetime]:
        local = [r.astimezone(VN) for r, _ in wd]
        days = np.array(
            [lt.date() + timedelta(1 if lt.time() >= DAY_END else 0) for lt in local],
            dtype="datetime64[D]",
        )
        ks = np.array([k for _, k in wd])
        due = np.busday_offset(days, ks, roll="forward", busdaycal=busdaycal)
        return [datetime.combine(x, DAY_END, VN) for x in due.astype(date)]

    secs, got = timed(busday_vectorised, repeat)
    assert got == wd_expected, "vectorised numpy.busday_offset disagrees"
    rows.append(("numpy.busday_offset vectorised (with conversions)", secs, len(wd), ""))

    # 4. Batch re-projection of open dossiers: arrays as a database query would return them.
    m = args.batch
    nprng = np.random.default_rng(7)
    received = int(START.timestamp()) + nprng.integers(0, SPAN, m)
    units = nprng.choice(np.array([1, 2, 3, 4], dtype=np.int8), m, p=[0.7, 0.1, 0.1, 0.1])
    amounts = np.select(
        [units == 1, units == 2, units == 3],
        [
            nprng.choice([1, 3, 5, 7, 10, 12, 15, 20, 30], m),
            nprng.integers(1, 49, m),
            np.ones(m, dtype=np.int64),
        ],
        default=nprng.integers(1, 61, m),
    )
    paused = np.where(nprng.random(m) < 0.3, nprng.integers(0, 40 * 3600, m), 0)
    secs, due_batch = timed(
        lambda: project_due_batch(cal, received, units, amounts, paused), repeat
    )
    verdict = "PASS" if secs < TARGET_BATCH_SECONDS else "FAIL"
    rows.append((f"batch re-projection, {m:,} dossiers", secs, m, f"{verdict} (< 2 s total)"))
    code_to_unit = {u.code: u for u in TimeUnit}
    for idx in nprng.integers(0, m, 2000):
        r = datetime.fromtimestamp(int(received[idx]), VN)
        d = Duration(int(amounts[idx]), code_to_unit[int(units[idx])])
        expect = cal.shift_working(cal.due_at(r, d), timedelta(seconds=int(paused[idx])))
        assert int(due_batch[idx]) == int(expect.timestamp()), f"batch row {idx} disagrees"

    print(f"onestop.worktime benchmark — Python {sys.version.split()[0]}, numpy {np.__version__}")
    print(f"calendar {cal.version}, built in {build_s * 1000:.0f} ms; median of {repeat} runs")
    print(f"{'operation':52} {'calls':>9} {'total s':>9} {'µs/call':>9} {'calls/s':>11}  target")
    for label, seconds, calls, note in rows:
        print(
            f"{label:52} {calls:>9,} {seconds:>9.3f} {seconds / calls * 1e6:>9.2f} "
            f"{calls / seconds:>11,.0f}  {note}"
        )
    failed = any(note.startswith("FAIL") for *_, note in rows)
    print("RESULT:", "FAIL" if failed else "PASS")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())

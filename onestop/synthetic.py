"""A synthetic province: years of dossiers with their clock ledger, loaded in bulk.

Used by ``flask onestop demo generate`` (and ``demo prepare``, which loads a small history),
by the queue and statistics benchmarks, and by tests. It builds on the demo province (one
province, its departments, about a hundred communes, each with a one-stop desk unit, clerks
and a manager) and on whatever catalogue is synced; every dossier is simulated through the
transitions of the state machine with the working-time engine, exactly as the services would
have recorded it: the same ledger events, the same materialised columns (``flask onestop demo
check`` replays the ledger and compares). Rows are written with ``COPY`` on PostgreSQL and
``executemany`` in large transactions on SQLite.

Shares follow the province's published figures where there are some: about 45 % of dossiers
submitted online (Thanh Hóa, 2025), growing over the years; about 1.5 % resolved late; a
supplement requested for about 8 %. Procedures and communes get skewed (Zipf-like) weights, and
months a seasonal weight (Tết in late January or February is quiet), so statistics over
agencies, procedures and months look like a real province's. The synthetic history has no audit
trail and no uploaded files: nobody performed it.

The module is long because one dossier's simulation is one function that follows the
transition handlers step by step; split, it would no longer read side by side with them.
"""

from __future__ import annotations

import bisect
import io
import json
import random
import string
import time as timer
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from onestop.accounts.models import Membership, User
from onestop.accounts.services import hash_password
from onestop.agencies.demo import TWO_LEVEL_SINCE, seed_demo_agencies
from onestop.agencies.models import Agency, AgencyKind
from onestop.agencies.services import AgencyInput, create_agency
from onestop.calendars.services import calendar_for_agency
from onestop.catalogue.models import Procedure, ProcedureAgency, ProcedureVersion
from onestop.core.text import fold
from onestop.dossiers.models import CodeSequence, Dossier, DossierEvent, Handover
from onestop.worktime import Calendar, Duration

VN = timedelta(hours=7)  # Vietnam keeps UTC+7 all year
PROVINCE = "000.00.00.H56"
# Illustrative commune names of Thanh Hóa after the 2025 reorganisation (for a demonstration;
# codes and names are not the official register).
COMMUNE_NAMES = [
    "Quảng Phú",
    "Đông Quang",
    "Đông Sơn",
    "Đông Tiến",
    "Hàm Rồng",
    "Nguyệt Viên",
    "Nam Sầm Sơn",
    "Bỉm Sơn",
    "Quang Trung",
    "Ngọc Sơn",
    "Tân Dân",
    "Hải Lĩnh",
    "Tĩnh Gia",
    "Đào Duy Từ",
    "Hải Bình",
    "Trúc Lâm",
    "Nghi Sơn",
    "Các Sơn",
    "Trường Lâm",
    "Hà Trung",
    "Tống Sơn",
    "Hà Long",
    "Hoạt Giang",
    "Lĩnh Toại",
    "Triệu Lộc",
    "Đông Thành",
    "Hậu Lộc",
    "Hoa Lộc",
    "Vạn Lộc",
    "Nga Sơn",
    "Nga Thắng",
    "Hồ Vương",
    "Tân Tiến",
    "Nga An",
    "Ba Đình",
    "Hoằng Tiến",
    "Hoằng Thanh",
    "Hoằng Lộc",
    "Hoằng Châu",
    "Hoằng Sơn",
    "Hoằng Phú",
    "Hoằng Giang",
    "Lưu Vệ",
    "Quảng Yên",
    "Quảng Ngọc",
    "Quảng Ninh",
    "Quảng Bình",
    "Tiên Trang",
    "Quảng Chính",
    "Nông Cống",
    "Thắng Lợi",
    "Trung Chính",
    "Trường Văn",
    "Thăng Bình",
    "Tượng Lĩnh",
    "Công Chính",
    "Thiệu Hóa",
    "Thiệu Quang",
    "Thiệu Tiến",
    "Thiệu Toán",
    "Thiệu Trung",
    "Yên Định",
    "Yên Trường",
    "Yên Phú",
    "Quý Lộc",
    "Yên Ninh",
    "Định Tân",
    "Định Hòa",
    "Thọ Long",
    "Xuân Hòa",
    "Sao Vàng",
    "Lam Sơn",
    "Thọ Lập",
    "Xuân Tín",
    "Xuân Lập",
    "Vĩnh Lộc",
    "Tây Đô",
    "Biện Thượng",
    "Triệu Sơn",
    "Thọ Bình",
    "Thọ Ngọc",
    "Thọ Phú",
    "Hợp Tiến",
    "An Nông",
    "Tân Ninh",
    "Đồng Tiến",
    "Hồi Xuân",
    "Nam Xuân",
    "Thiên Phủ",
    "Hiền Kiệt",
    "Phú Lệ",
    "Trung Thành",
    "Tam Lư",
    "Quan Sơn",
    "Trung Hạ",
    "Mường Lát",
    "Ngọc Lặc",
    "Cẩm Thủy",
    "Thạch Thành",
    "Như Thanh",
    "Như Xuân",
    "Thường Xuân",
    "Lang Chánh",
    "Bá Thước",
]
FAMILY = [
    ("Nguyễn", 38),
    ("Trần", 11),
    ("Lê", 10),
    ("Phạm", 7),
    ("Hoàng", 5),
    ("Vũ", 4),
    ("Đỗ", 3),
    ("Bùi", 3),
    ("Đặng", 2),
    ("Ngô", 2),
    ("Dương", 2),
    ("Lý", 1),
    ("Trịnh", 2),
    ("Mai", 1),
    ("Lương", 1),
]
MIDDLE_M = ["Văn", "Hữu", "Đức", "Minh", "Quang", "Xuân", "Công", "Đình", "Ngọc", "Thanh"]
MIDDLE_F = ["Thị", "Thị", "Thị", "Ngọc", "Thu", "Thanh", "Hồng", "Minh", "Phương", "Mai"]
GIVEN_M = "An Bình Cường Dũng Hải Hùng Hưng Khánh Long Minh Nam Phong Quân Sơn Thắng Tuấn Tùng Việt"
GIVEN_F = "Anh Chi Dung Hà Hạnh Hoa Hương Lan Linh Mai Nga Ngọc Phương Tâm Thảo Trang Tuyết Yến"
MONTH_WEIGHT = [1.15, 0.7, 1.0, 1.0, 1.0, 1.05, 1.05, 1.05, 1.0, 1.1, 1.1, 1.15]
_CODE_ALPHABET = "".join(c for c in string.ascii_uppercase + string.digits if c not in "0O1I")


@dataclass(frozen=True)
class Plan:
    """What to generate. Shares are of all dossiers unless said otherwise."""

    dossiers: int
    years: float = 3.0
    seed: int = 1
    communes: int = 100
    online_share: float = 0.45  # average over the period; grows from ~35 % to ~55 %
    postal_share: float = 0.05
    refuse_share: float = 0.01  # of online dossiers, refused at intake
    incomplete_share: float = 0.03  # of online dossiers, returned for completion before receipt
    supplement_share: float = 0.08
    payment_share: float = 0.5  # of dossiers of procedures where payment pauses the clock
    late_share: float = 0.015
    apology_share: float = 0.4  # of late dossiers
    deny_share: float = 0.004
    forward_share: float = 0.7  # handed from the commune to its processing unit
    batch: int = 20_000


@dataclass
class Summary:
    dossiers: int = 0
    events: int = 0
    handovers: int = 0
    seconds: float = 0.0
    states: Counter[str] = field(default_factory=Counter)
    channels: Counter[str] = field(default_factory=Counter)
    late: int = 0

    @property
    def rate(self) -> float:
        return self.dossiers / self.seconds if self.seconds else 0.0


# ---- the province --------------------------------------------------------------------------


@dataclass
class Office:
    """An agency that receives dossiers, the unit it forwards them to, and their staff."""

    agency_id: int
    code: str
    unit_id: int | None
    unit_code: str | None
    desk_clerks: list[tuple[int, str]]
    unit_clerks: list[tuple[int, str]]
    weight: float
    calendar_key: str = ""
    calendar: Calendar | None = None


def ensure_province(session: Session, *, communes: int, now: datetime) -> None:
    """The demo province with ``communes`` communes, each with a desk unit, two clerks and a
    manager, and two clerks and a manager in each department; idempotent."""
    seed_demo_agencies(session, now=now)
    existing = set(session.scalars(select(Agency.code)))
    n_demo = session.scalar(
        select(func.count()).select_from(Agency).where(Agency.kind == AgencyKind.COMMUNE.value)
    )
    for i in range((n_demo or 0) + 1, communes + 1):
        block, number = 21 + (i - 1) // 99, (i - 1) % 99 + 1
        code = f"000.{block}.{number:02d}.H56"
        name = COMMUNE_NAMES[(i - 1) % len(COMMUNE_NAMES)]
        if (i - 1) >= len(COMMUNE_NAMES):
            name = f"{name} {(i - 1) // len(COMMUNE_NAMES) + 1}"
        desk = f"000.{block + 10}.{number:02d}.H56"
        for c, label, kind, parent in (
            (code, f"Ủy ban nhân dân xã {name}", AgencyKind.COMMUNE, PROVINCE),
            (desk, f"Trung tâm Phục vụ hành chính công xã {name}", AgencyKind.UNIT, code),
        ):
            if c not in existing:
                create_agency(
                    session,
                    AgencyInput(
                        code=c,
                        name=label,
                        kind=kind,
                        parent_code=parent,
                        valid_from=TWO_LEVEL_SINCE,
                        place="Thanh Hóa",
                    ),
                    actor=None,
                    now=now,
                )
                existing.add(c)
    session.flush()
    _ensure_staff(session, now=now)


def _ensure_staff(session: Session, *, now: datetime) -> None:
    agencies = session.execute(
        select(Agency.id, Agency.code, Agency.kind).where(
            Agency.kind.in_([AgencyKind.COMMUNE.value, AgencyKind.DEPARTMENT.value])
        )
    ).all()
    staffed = Counter(
        session.scalars(
            select(Membership.agency_id)
            .join(User, User.id == Membership.user_id)
            .where(User.role == "clerk")
        )
    )
    names = set(session.scalars(select(User.username)))
    hashed: str | None = None
    for agency_id, code, _kind in agencies:
        tag = code.replace(".", "")[:-3]
        wanted = [(f"canbo.{tag}.{k}", "clerk") for k in range(1, 3)]
        wanted.append((f"lanhdao.{tag}", "manager"))
        for username, role in wanted:
            if username in names or (role == "clerk" and staffed[agency_id] >= 2):
                continue
            # One password hash for every generated account: hashing hundreds would take
            # a minute, and these accounts exist for demonstrations and benchmarks only.
            hashed = hashed or hash_password("onestop-demo-2026")
            user = User(
                username=username,
                full_name=_person(random.Random(username))[0],  # noqa: S311
                role=role,
                password_hash=hashed,
                is_active=True,
                created_at=now,
            )
            session.add(user)
            session.flush()
            session.add(Membership(user_id=user.id, agency_id=agency_id))
            names.add(username)
            staffed[agency_id] += role == "clerk"
    session.flush()


def _offices(session: Session, *, now: datetime, rng: random.Random) -> dict[str, Office]:
    rows = session.execute(select(Agency.id, Agency.code, Agency.kind, Agency.parent_id)).all()
    children: dict[int, list[tuple[int, str]]] = {}
    for i, code, kind, parent in rows:
        if kind == AgencyKind.UNIT.value and parent is not None:
            children.setdefault(parent, []).append((i, code))
    clerks: dict[int, list[tuple[int, str]]] = {}
    for user_id, username, agency_id in session.execute(
        select(User.id, User.username, Membership.agency_id)
        .join(Membership, Membership.user_id == User.id)
        .where(User.role == "clerk", User.is_active.is_(True))
        .order_by(User.id)
    ):
        clerks.setdefault(agency_id, []).append((user_id, username))
    out = {}
    for i, code, kind, _parent in rows:
        if kind not in (AgencyKind.COMMUNE.value, AgencyKind.DEPARTMENT.value):
            continue
        staff = clerks.get(i) or []
        if not staff:
            continue
        unit = sorted(children.get(i, []), key=lambda u: u[1])
        office = Office(
            agency_id=i,
            code=code,
            unit_id=unit[0][0] if unit else None,
            unit_code=unit[0][1] if unit else None,
            desk_clerks=staff[:1] or staff,
            unit_clerks=staff[1:] or staff,
            # Population is skewed: a few wards carry much of the load.
            weight=rng.lognormvariate(0, 0.8),
        )
        office.calendar_key, office.calendar = calendar_for_agency(session, i, now=now)
        out[code] = office
    return out


@dataclass
class Offer:
    version_id: int
    code: str
    channels: dict[str, Duration]
    cutoff: time
    payment_pauses: bool
    max_supplements: int
    steps: list[tuple[str, str, Duration]]
    offices: list[Office]
    office_cum: list[float]


def _offers(session: Session, offices: dict[str, Office], rng: random.Random) -> list[Offer]:
    """Every procedure in force, with the offices that take it (whatever catalogue is synced)."""
    versions = session.scalars(
        select(ProcedureVersion)
        .join(Procedure, Procedure.id == ProcedureVersion.procedure_id)
        .where(
            Procedure.retired_at.is_(None),
            ProcedureVersion.version == Procedure.current_version,
        )
        .order_by(Procedure.code)
    ).all()
    listed: dict[int, list[str]] = {}
    for vid, code in session.execute(
        select(ProcedureAgency.version_id, ProcedureAgency.agency_code)
    ):
        listed.setdefault(vid, []).append(code)
    communes = [o for o in offices.values() if o.code.split(".")[1] not in ("00",)]
    out = []
    for v in versions:
        defn = v.as_definition()
        if defn.offered_by.all_communes:
            where = communes
        else:
            where = [offices[c] for c in listed.get(v.id, []) if c in offices]
            if not where:
                # Province-level procedures listed at a desk we do not model: the department
                # whose sector it is stands in, so that the province has provincial dossiers.
                where = [o for o in offices.values() if o.code.split(".")[1] == "00"][:1]
        if not where:
            continue
        chans = {
            c.channel.value: Duration(c.processing_time.amount, c.processing_time.unit.value)
            for c in defn.channels
        }
        cum, total = [], 0.0
        for o in where:
            total += o.weight
            cum.append(total)
        out.append(
            Offer(
                version_id=v.id,
                code=defn.code,
                channels=chans,
                cutoff=defn.clock.same_day_cutoff,
                payment_pauses=defn.clock.payment_pauses_clock,
                max_supplements=defn.clock.max_supplement_requests,
                steps=[
                    (s.code, s.name, Duration(s.budget.amount, s.budget.unit.value))
                    for s in defn.processing_steps
                ],
                offices=where,
                office_cum=cum,
            )
        )
    rng.shuffle(out)
    return out


# ---- people ------------------------------------------------------------------------------


def _person(rng: random.Random) -> tuple[str, bool]:
    female = rng.random() < 0.5
    family = rng.choices([f for f, _ in FAMILY], weights=[w for _, w in FAMILY])[0]
    middle = rng.choice(MIDDLE_F if female else MIDDLE_M)
    given = rng.choice((GIVEN_F if female else GIVEN_M).split())
    if rng.random() < 0.3:
        given = rng.choice((GIVEN_F if female else GIVEN_M).split()) + " " + given
    return f"{family} {middle} {given}", female


# ---- one dossier, through the state machine ---------------------------------------------------


class _Sim:
    """The columns and ledger of one dossier as the transition handlers would write them."""

    __slots__ = ("at", "c", "cal", "events", "handovers")

    def __init__(self, c: dict[str, Any], cal: Calendar) -> None:
        self.c = c
        self.events: list[tuple] = []
        self.handovers: list[tuple] = []
        self.cal = cal

    def ev(self, kind, action, at, actor, frm, to, data) -> None:
        self.events.append((kind, action, at, actor, frm, to, data))

    def tr(self, action: str, at: datetime, actor: int | None, to: str | None, data: dict) -> None:
        frm = self.c["state"]
        target = to or frm
        self.ev("transition", action, at, actor, frm, target, data)
        self.c["state"] = target
        self.c["version"] += 1
        self.c["updated_at"] = at

    def pause(self, action: str, at: datetime, reason: str) -> None:
        self.c["paused_since"] = at
        self.ev("paused", action, at, self.events[-1][3], None, None, {"reason": reason})

    def resume(self, action: str, at: datetime) -> None:
        c = self.c
        if c["paused_since"] is None:
            return
        paused = max(0, self.cal.working_seconds_between(c["paused_since"], at))
        legal = self.cal.shift_working(c["legal_due_at"], timedelta(seconds=paused))
        c["paused_since"] = None
        c["paused_seconds"] += paused
        c["legal_due_at"] = legal
        if c["step_due_at"] is not None:
            c["step_due_at"] = self.cal.shift_working(c["step_due_at"], timedelta(seconds=paused))
        self.ev(
            "resumed",
            action,
            at,
            self.events[-1][3],
            None,
            None,
            {"paused_working_seconds": paused, "legal_due_at": legal.isoformat()},
        )


def _iso(d: datetime) -> str:
    return d.isoformat()


class Generator:
    """Simulates dossiers one by one; ``rows()`` yields them in batches for the loader."""

    def __init__(self, session: Session, plan: Plan, *, now: datetime) -> None:
        self.plan = plan
        self.now = now.astimezone(UTC)
        # Synthetic data, reproducible from the seed; not a secret.
        self.rng = random.Random(plan.seed)  # noqa: S311
        self.offices = _offices(session, now=now, rng=self.rng)
        self.offers = _offers(session, self.offices, self.rng)
        if not self.offers:
            raise RuntimeError("no procedure in the catalogue: run `onestop procedures sync`")
        # Zipf-like popularity: a few procedures (civil status, certification) dominate.
        self.offer_cum = list(_cumulative(1 / (k + 1) ** 1.1 for k in range(len(self.offers))))
        self.citizens = list(
            session.scalars(select(User.id).where(User.role == "citizen").order_by(User.id))
        )
        self.sequences: dict[tuple[int, date], int] = {
            (a, d): v
            for a, d, v in session.execute(
                select(CodeSequence.agency_id, CodeSequence.day, CodeSequence.last_value)
            )
        }
        self.start = self.now - timedelta(days=365.25 * plan.years)
        any_cal = next(iter(self.offices.values())).calendar
        if any_cal is None:
            raise RuntimeError("no calendar for the province")
        self._days(any_cal)
        self.folded: dict[str, str] = {}
        self.used_versions: set[int] = set()

    def _days(self, cal: Calendar) -> None:
        """Working days of the period with their weights (season, growth, weekday)."""
        self.days: list[date] = []
        weights = []
        first = self.start.date()
        span = (self.now.date() - first).days + 1
        for k in range(span):
            d = first + timedelta(days=k)
            if not cal.is_working_day(d):
                continue
            growth = 1 + 0.15 * k / 365
            weights.append(MONTH_WEIGHT[d.month - 1] * growth * (1.15 if d.weekday() == 0 else 1))
            self.days.append(d)
        self.day_cum = list(_cumulative(weights))

    def _pick(self, cum: list[float]) -> int:
        return bisect.bisect_left(cum, self.rng.random() * cum[-1])

    def _working_instant(self, d: date) -> datetime:
        minute = self.rng.randrange(480)  # 07:30–11:30 and 13:00–17:00
        minute += 450 if minute < 240 else 540
        return (
            datetime(d.year, d.month, d.day, tzinfo=UTC)
            - VN
            + timedelta(minutes=minute, seconds=self.rng.randrange(60))
        )

    def _code(self, office: Office, at: datetime) -> str:
        day = (at + VN).date()
        key = (office.agency_id, day)
        n = self.sequences.get(key, 0) + 1
        self.sequences[key] = n
        return f"{office.code}-{day:%y%m%d}-{n:04d}"

    def dossier(self, ident: int) -> _Sim:
        rng, plan, now = self.rng, self.plan, self.now
        offer = self.offers[self._pick(self.offer_cum)]
        office = offer.offices[self._pick(offer.office_cum)]
        cal = office.calendar
        if cal is None:
            raise RuntimeError(f"no calendar for {office.code}")
        day_index = self._pick(self.day_cum)
        day = self.days[day_index]
        progress = day_index / max(1, len(self.days) - 1)
        online_p = plan.online_share + (progress - 0.5) * 0.2
        r = rng.random()
        if "online" in offer.channels and r < online_p:
            channel = "online"
        elif "postal" in offer.channels and r < online_p + plan.postal_share:
            channel = "postal"
        else:
            channel = "in_person" if "in_person" in offer.channels else next(iter(offer.channels))
        submitted = self._working_instant(day)
        if channel == "online" and rng.random() < 0.3:
            # Online dossiers also arrive in the evening and at weekends.
            submitted += timedelta(hours=rng.uniform(4, 40))
        if submitted >= now:
            submitted = now - timedelta(minutes=rng.randrange(1, 600))
        name, female = _person(rng)
        folded = self.folded.get(name)
        if folded is None:
            folded = self.folded[name] = fold(name)
        organisation = rng.random() < 0.05
        born = rng.randrange(1950, 2006)
        desk_id, desk_name = office.desk_clerks[rng.randrange(len(office.desk_clerks))]
        owner = None
        if channel == "online" and self.citizens:
            owner = self.citizens[rng.randrange(len(self.citizens))]
        no = ident
        tail = ""
        for _ in range(7):
            no, k = divmod(no, 32)
            tail = _CODE_ALPHABET[k] + tail
        c: dict[str, Any] = {
            "id": ident,
            "submission_no": f"{(submitted + VN):%y%m%d}-S{tail}",
            "code": None,
            "version": 0,
            "state": None,
            "channel": channel,
            "procedure_code": offer.code,
            "procedure_version_id": offer.version_id,
            "agency_id": office.agency_id,
            "current_unit_id": office.agency_id,
            "owner_id": owner,
            "created_by_id": owner or desk_id,
            "assigned_to_id": None,
            "applicant_kind": "organisation" if organisation else "person",
            "applicant_name": (
                f"Công ty TNHH {name.split()[-1]} Thanh Hóa" if organisation else name
            ),
            "applicant_name_search": (
                fold(f"Công ty TNHH {name.split()[-1]} Thanh Hóa") if organisation else folded
            ),
            "applicant_id_number": None
            if organisation
            else f"038{(born >= 2000) * 2 + female}{born % 100:02d}{rng.randrange(10**6):06d}",
            "applicant_tax_code": f"28{rng.randrange(10**8):08d}" if organisation else None,
            "applicant_birth_date": None
            if organisation
            else date(born, rng.randrange(1, 13), rng.randrange(1, 29)),
            "applicant_address": f"Thôn {rng.randrange(1, 15)}, {office.code}",
            "applicant_phone": f"09{rng.randrange(10**8):08d}",
            "applicant_email": None,
            "sets_count": 1,
            "result_delivery": "post" if channel == "postal" else "desk",
            "delivery_address": "",
            "note": "",
            "lookup_token": f"{rng.getrandbits(192):048x}",
            "check_code": "".join(rng.choice(_CODE_ALPHABET) for _ in range(6)),
            "submitted_at": submitted,
            "received_at": None,
            "clock_start_at": None,
            "duration_amount": None,
            "duration_unit": None,
            "calendar_key": None,
            "payment_pauses_clock": offer.payment_pauses,
            "max_supplement_requests": offer.max_supplements,
            "promised_due_at": None,
            "legal_due_at": None,
            "extended_due_at": None,
            "paused_since": None,
            "paused_seconds": 0,
            "supplement_count": 0,
            "apology_count": 0,
            "current_step": None,
            "step_due_at": None,
            "resolved_at": None,
            "returned_at": None,
            "stopped_at": None,
            "finished_at": None,
            "result_summary": "",
            "return_method": None,
            "created_at": submitted,
            "updated_at": submitted,
        }
        s = _Sim(c, cal)
        s.tr("submit", submitted, c["created_by_id"], "submitted", {})
        self.used_versions.add(offer.version_id)
        t = submitted

        def later(working_seconds: float, minimum: int = 60) -> datetime | None:
            nonlocal t
            nxt = cal.shift_working(t, timedelta(seconds=int(working_seconds)))
            if nxt <= t:
                nxt = t + timedelta(seconds=minimum)
            if nxt > now:
                return None
            t = nxt
            return t

        if channel == "in_person":
            t = t + timedelta(minutes=rng.randrange(3, 20))
            if t > now:
                return s
        else:
            if rng.random() < plan.refuse_share:
                if later(rng.uniform(1800, 4 * 3600)) is None:
                    return s
                s.tr(
                    "refuse", t, desk_id, "refused", {"reason": "Không thuộc thẩm quyền giải quyết"}
                )
                return s
            if rng.random() < plan.incomplete_share:
                if later(rng.uniform(1800, 4 * 3600)) is None:
                    return s
                s.tr(
                    "intake_incomplete",
                    t,
                    desk_id,
                    "supplement_requested",
                    {"missing": ["Bản sao giấy tờ tùy thân còn hiệu lực"]},
                )
                if later(rng.uniform(1, 5) * 8 * 3600) is None:
                    return s
                s.tr("resubmit", t, owner or desk_id, "submitted", {})
            if later(rng.uniform(600, 6 * 3600)) is None:
                return s
        # Reception: the code, the clock and the first step (handlers._receive).
        duration = offer.channels[channel]
        due = cal.due_at(t, duration, cutoff=offer.cutoff)
        start = cal.effective_start(t)
        code = self._code(office, t)
        c.update(
            code=code,
            received_at=t,
            clock_start_at=start,
            duration_amount=duration.amount,
            duration_unit=duration.unit.value,
            calendar_key=office.calendar_key,
            promised_due_at=due,
            legal_due_at=due,
        )
        s.tr("receive", t, desk_id, "received", {})
        s.ev(
            "started",
            "receive",
            t,
            desk_id,
            None,
            None,
            {
                "duration": {"amount": duration.amount, "unit": duration.unit.value},
                "cutoff": offer.cutoff.strftime("%H:%M"),
                "calendar": office.calendar_key,
                "effective_start": _iso(start),
                "due_at": _iso(due),
                "code": code,
            },
        )
        if offer.steps:
            step_code, _, budget = offer.steps[0]
            step_due = cal.due_at(t, budget, cutoff=offer.cutoff)
            c.update(current_step=step_code, step_due_at=step_due)
            s.ev(
                "step_entered",
                "receive",
                t,
                desk_id,
                None,
                None,
                {"step": step_code, "due_at": _iso(step_due)},
            )
        budget_ws = max(3600, cal.working_seconds_between(t, due))
        late = rng.random() < plan.late_share
        share = rng.uniform(1.03, 1.6) if late else min(0.97, rng.betavariate(2.2, 2.6))
        work = budget_ws * share  # working seconds of agency time until the result
        spent = 0.0

        def step(fraction: float) -> datetime | None:
            nonlocal spent
            amount = work * fraction
            spent += amount
            return later(amount)

        if step(0.03) is None:
            return s
        s.tr("assign", t, desk_id, None, {"assignee": desk_name})
        c["assigned_to_id"] = desk_id
        worker_id, worker = desk_id, desk_name
        if office.unit_id is not None and rng.random() < plan.forward_share:
            if step(0.07) is None:
                return s
            nxt = offer.steps[1] if len(offer.steps) > 1 else None
            step_due = None
            data: dict[str, Any] = {"to_unit": office.unit_code}
            if nxt is not None:
                data["step_code"] = nxt[0]
                step_due = cal.due_at(t, nxt[2])
                if step_due > c["legal_due_at"]:
                    step_due = c["legal_due_at"]
            data["result"] = "Hồ sơ đầy đủ, chuyển xử lý"
            s.handovers.append(
                (
                    len(s.handovers) + 1,
                    c["current_unit_id"],
                    office.unit_id,
                    desk_id,
                    t,
                    nxt[0] if nxt else None,
                    nxt[1] if nxt else "",
                    step_due,
                    data["result"],
                )
            )
            previous_step = c["current_step"]
            s.tr("forward", t, desk_id, "processing", data)
            if previous_step:
                s.ev("step_left", "forward", t, desk_id, None, None, {"step": previous_step})
            if nxt is not None:
                s.ev(
                    "step_entered",
                    "forward",
                    t,
                    desk_id,
                    None,
                    None,
                    {"step": nxt[0], "due_at": _iso(step_due) if step_due else None},
                )
            c.update(
                current_unit_id=office.unit_id,
                assigned_to_id=None,
                current_step=nxt[0] if nxt else previous_step,
                step_due_at=step_due,
            )
            worker_id, worker = office.unit_clerks[rng.randrange(len(office.unit_clerks))]
            if step(0.02) is None:
                return s
            h = s.handovers[-1]
            s.handovers[-1] = (*h[:4], h[4], h[5], h[6], h[7], h[8], worker_id, t)
            s.tr("accept_handover", t, worker_id, None, {})
            if step(0.03) is None:
                return s
            s.tr("assign", t, worker_id, None, {"assignee": worker})
            c["assigned_to_id"] = worker_id
        # Waiting for the citizen: a supplement, a payment (the clock stops, Decree 61/2018).
        if offer.max_supplements >= 1 and rng.random() < plan.supplement_share:
            if step(0.2) is None:
                return s
            missing = ["Bản sao giấy tờ chứng minh nơi cư trú"]
            s.tr("request_supplement", t, worker_id, "supplement_requested", {"missing": missing})
            c["supplement_count"] += 1
            s.pause("request_supplement", t, missing[0])
            if later(rng.uniform(0.5, 8) * 8 * 3600) is None:
                return s
            s.tr("supply", t, owner or worker_id, "processing", {})
            s.resume("supply", t)
        if offer.payment_pauses and rng.random() < plan.payment_share:
            if step(0.15) is None:
                return s
            reason = "Yêu cầu thực hiện nghĩa vụ tài chính"
            s.tr("request_payment", t, worker_id, "awaiting_payment", {"reason": reason})
            s.pause("request_payment", t, reason)
            if later(rng.uniform(0.3, 4) * 8 * 3600) is None:
                return s
            s.tr("confirm_payment", t, owner or worker_id, "processing", {})
            s.resume("confirm_payment", t)
        rest = max(0.0, work - spent)
        if late and rng.random() < plan.apology_share:
            # The apology goes out at least one working day before the due date (Decree
            # 61/2018 art. 19(4)); the new date is a few working days after it.
            when = cal.shift_working(c["legal_due_at"], timedelta(hours=-12))
            if when > t:
                if when > now:
                    return s
                t = when
                new_due = cal.shift_working(
                    c["legal_due_at"], timedelta(days=0, hours=8 * rng.randrange(2, 6))
                )
                reason = "Cần xác minh thêm thông tin với cơ quan liên quan"
                s.tr(
                    "apologize", t, worker_id, None, {"reason": reason, "new_due_at": _iso(new_due)}
                )
                s.ev(
                    "extended",
                    "apologize",
                    t,
                    worker_id,
                    None,
                    None,
                    {"new_due_at": _iso(new_due), "reason": reason},
                )
                c.update(extended_due_at=new_due, apology_count=1)
                rest = max(0.0, cal.working_seconds_between(t, c["legal_due_at"])) + work * (
                    share - 1
                )
        if later(max(rest, 600.0)) is None:
            return s
        if rng.random() < plan.deny_share:
            reason = "Hồ sơ không đủ điều kiện giải quyết theo quy định"
            s.tr("deny", t, worker_id, "stopped", {"reason": reason})
            s.ev("stopped", "deny", t, worker_id, None, None, {"reason": reason})
            c.update(stopped_at=t, finished_at=t, current_step=None, step_due_at=None)
            return s
        result = "Đã giải quyết, có kết quả"
        s.tr("resolve", t, worker_id, "resolved", {"result": result})
        if c["current_step"]:
            s.ev("step_left", "resolve", t, worker_id, None, None, {"step": c["current_step"]})
        s.ev("finished", "resolve", t, worker_id, None, None, {})
        c.update(
            resolved_at=t, finished_at=t, result_summary=result, current_step=None, step_due_at=None
        )
        if later(rng.uniform(0.2, 4) * 8 * 3600) is None:
            return s
        method = c["result_delivery"]
        s.tr("return_result", t, desk_id, "returned", {"method": method})
        c.update(returned_at=t, return_method=method)
        return s


def _cumulative(weights) -> Iterator[float]:
    total = 0.0
    for w in weights:
        total += w
        yield total


# ---- bulk loading -------------------------------------------------------------------------------

D_COLS = [c.name for c in Dossier.__table__.columns]
E_COLS = [
    "id",
    "dossier_id",
    "seq",
    "kind",
    "action",
    "at",
    "actor_id",
    "from_state",
    "to_state",
    "data",
]
H_COLS = [
    "id",
    "dossier_id",
    "seq",
    "from_unit_id",
    "to_unit_id",
    "handed_by_id",
    "handed_at",
    "step_code",
    "step_name",
    "step_due_at",
    "step_result",
    "accepted_by_id",
    "accepted_at",
]


def _next_id(session: Session, table) -> int:
    return (session.scalar(select(func.coalesce(func.max(table.c.id), 0))) or 0) + 1


def _pg_value(v: Any) -> str:
    if v is None:
        return "\\N"
    if isinstance(v, bool):
        return "t" if v else "f"
    if isinstance(v, datetime):
        return v.isoformat()
    if isinstance(v, dict | list):
        v = json.dumps(v, ensure_ascii=False, separators=(",", ":"))
    s = str(v)
    if "\\" in s or "\t" in s or "\n" in s:
        s = s.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")
    return s


def _sqlite_value(v: Any) -> Any:
    if isinstance(v, datetime):
        return v.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(v, date):
        return v.isoformat()
    if isinstance(v, dict | list):
        return json.dumps(v, ensure_ascii=False, separators=(",", ":"))
    if isinstance(v, bool):
        return int(v)
    return v


class _Loader:
    def __init__(self, session: Session) -> None:
        self.session = session
        self.pg = session.get_bind().dialect.name == "postgresql"

    @property
    def raw(self) -> Any:
        # Asked for at each load: after the caller commits a batch, the session's next
        # transaction may run on another pooled connection.
        return self.session.connection().connection.dbapi_connection

    def load(self, table: str, cols: list[str], rows: list[tuple]) -> None:
        if not rows:
            return
        if self.pg:
            buf = io.StringIO()
            for row in rows:
                buf.write("\t".join(map(_pg_value, row)))
                buf.write("\n")
            with (
                self.raw.cursor() as cur,
                cur.copy(f"COPY {table} ({', '.join(cols)}) FROM STDIN") as copy,
            ):
                copy.write(buf.getvalue())
        else:
            cur = self.raw.cursor()
            marks = ", ".join("?" * len(cols))
            cur.executemany(
                f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({marks})",  # noqa: S608 - constants
                ([_sqlite_value(v) for v in row] for row in rows),
            )


def generate(
    session: Session,
    plan: Plan,
    *,
    now: datetime,
    on_batch: Callable[[Summary], None] | None = None,
) -> Summary:
    """Generate ``plan.dossiers`` dossiers ending at ``now``, with their ledger and handovers.

    The province must exist (:func:`ensure_province`) and the catalogue be synced. Rows are
    added in batches of ``plan.batch`` inside the caller's transaction; ``on_batch`` (the CLI
    passes a commit) runs after each batch.
    """
    began = timer.perf_counter()
    session.flush()
    gen = Generator(session, plan, now=now)
    loader = _Loader(session)
    summary = Summary()
    next_dossier = _next_id(session, Dossier.__table__)
    next_event = _next_id(session, DossierEvent.__table__)
    next_handover = _next_id(session, Handover.__table__)
    done = 0
    while done < plan.dossiers:
        n = min(plan.batch, plan.dossiers - done)
        d_rows, e_rows, h_rows = [], [], []
        for k in range(n):
            s = gen.dossier(next_dossier + k)
            c = s.c
            d_rows.append(tuple(c[col] for col in D_COLS))
            for seq, (kind, action, at, actor, frm, to, data) in enumerate(s.events, start=1):
                e_rows.append((next_event, c["id"], seq, kind, action, at, actor, frm, to, data))
                next_event += 1
            for seq, fr, to_unit, by, at, sc, sn, sd, res, *acc in s.handovers:
                acc_by, acc_at = acc if acc else (None, None)
                h_rows.append(
                    (
                        next_handover,
                        c["id"],
                        seq,
                        fr,
                        to_unit,
                        by,
                        at,
                        sc,
                        sn,
                        sd,
                        res,
                        acc_by,
                        acc_at,
                    )
                )
                next_handover += 1
            summary.states[c["state"]] += 1
            summary.channels[c["channel"]] += 1
            if c["finished_at"] is not None and c["finished_at"] > (
                c["legal_due_at"] or c["finished_at"]
            ):
                summary.late += 1
        loader.load("dossiers", D_COLS, d_rows)
        loader.load("dossier_events", E_COLS, e_rows)
        loader.load("dossier_handovers", H_COLS, h_rows)
        next_dossier += n
        done += n
        summary.dossiers = done
        summary.events += len(e_rows)
        summary.handovers += len(h_rows)
        summary.seconds = timer.perf_counter() - began
        if on_batch is not None:
            on_batch(summary)
    _finish(session, gen, loader)
    summary.seconds = timer.perf_counter() - began
    return summary


def _finish(session: Session, gen: Generator, loader: _Loader) -> None:
    """Code counters continue after the generated codes; the versions used become frozen."""
    rows = [{"agency_id": a, "day": d, "last_value": v} for (a, d), v in gen.sequences.items()]
    if rows:
        if loader.pg:
            stmt = text(
                "INSERT INTO dossier_code_sequences (agency_id, day, last_value) "
                "VALUES (:agency_id, :day, :last_value) ON CONFLICT (agency_id, day) DO UPDATE "
                "SET last_value = GREATEST(dossier_code_sequences.last_value, excluded.last_value)"
            )
        else:
            stmt = text(
                "INSERT INTO dossier_code_sequences (agency_id, day, last_value) "
                "VALUES (:agency_id, :day, :last_value) ON CONFLICT (agency_id, day) DO UPDATE "
                "SET last_value = MAX(dossier_code_sequences.last_value, excluded.last_value)"
            )
        session.execute(stmt, rows)
    if gen.used_versions:
        session.execute(
            ProcedureVersion.__table__.update()
            .where(ProcedureVersion.id.in_(sorted(gen.used_versions)))
            .values(used_by_dossier=True)
        )
    if loader.pg:
        for table in ("dossiers", "dossier_events", "dossier_handovers"):
            session.execute(
                text(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "  # noqa: S608
                    f"(SELECT COALESCE(MAX(id), 1) FROM {table}))"
                )
            )
    session.flush()

"""``/api/v1/queues``: the clerk's tabs with their counts, one page of a tab, taking work and
moving an absent clerk's dossiers. Assigning, reassigning and releasing one dossier are the
dossier transitions ``/api/v1/dossiers/{id}/assign``, ``/reassign`` and ``/release``."""

from __future__ import annotations

from typing import Any

from flask import current_app
from sqlalchemy import select

from onestop.accounts.models import User
from onestop.agencies.models import Agency
from onestop.core.access import Principal, Role, access, require_principal
from onestop.core.clock import now
from onestop.core.errors import NotFound, RuleViolation, request_id
from onestop.core.tx import transactional
from onestop.dossiers.services import etag
from onestop.extensions import Blueprint, db
from onestop.queues import queries, services
from onestop.queues.queries import COUNT_CAP, Filters, QueueContext, Sort, View
from onestop.queues.schemas import (
    QueueFilterArgsSchema,
    QueuePageArgsSchema,
    QueuePageSchema,
    QueueRowSchema,
    QueueTabsSchema,
    ReassignAllSchema,
    ReassignResultSchema,
    TakeNextSchema,
)

blp = Blueprint(
    "queues",
    __name__,
    url_prefix="/api/v1/queues",
    description="Hàng chờ công việc của cán bộ (clerk work queues)",
)

ROW_EXAMPLE = {
    "id": 81234,
    "version": 4,
    "code": "000.21.01.H56-261130-0042",
    "submission_no": "261130-K7PQ2XRM",
    "procedure_code": "1.004873",
    "procedure_name": "Cấp Giấy xác nhận tình trạng hôn nhân",
    "applicant_name": "Nguyễn Thị Ánh Tuyết",
    "channel": "online",
    "channel_label": "Trực tuyến",
    "state": "processing",
    "state_code": 4,
    "state_label": "Đang xử lý",
    "agency_code": "000.21.01.H56",
    "current_unit_code": "000.21.01.H56",
    "current_unit_name": "Ủy ban nhân dân phường Hạc Thành",
    "assigned_to": "canbo.hacthanh",
    "submitted_at": "2026-11-30T01:12:00+00:00",
    "received_at": "2026-11-30T01:40:00+00:00",
    "legal_due_at": "2026-12-03T10:00:00+00:00",
    "promised_due_at": "2026-12-03T10:00:00+00:00",
    "extended_due_at": None,
    "processing_time": "3 ngày làm việc",
    "paused": False,
    "time_left_working_seconds": 21600,
    "time_left_text": "còn 6 giờ làm việc",
    "overdue": False,
    "due_soon": True,
    "step": None,
}
PAGE_EXAMPLE = {
    "view": "mine",
    "label": "Của tôi",
    "sort": "due",
    "items": [ROW_EXAMPLE],
    "next": "WyJtaW5lIiwgImR1ZSIsICIyMDI2LTEyLTAzVDEwOjAwOjAwKzAwOjAwIiwgODEyMzRd",
}
TABS_EXAMPLE = {
    "due_soon_share": 0.2,
    "tabs": [
        {
            "view": "reception",
            "label": "Chờ tiếp nhận",
            "count": 7,
            "count_text": "7",
            "capped": False,
        },
        {"view": "mine", "label": "Của tôi", "count": 23, "count_text": "23", "capped": False},
        {
            "view": "overdue",
            "label": "Quá hạn",
            "count": 1000,
            "count_text": "> 999",
            "capped": True,
        },
    ],
}


def _context(actor: Principal) -> QueueContext:
    return QueueContext(
        actor=actor, now=now(), due_soon_share=float(current_app.config["QUEUE_DUE_SOON_SHARE"])
    )


def _unit_id(code: str) -> int:
    unit = db.session.scalar(select(Agency.id).where(Agency.code == code))
    if unit is None:
        raise RuleViolation(
            "Không có đơn vị mang mã này.",
            type="queue.unknown_unit",
            errors={"query": {"unit": ["Không có đơn vị mang mã này."]}},
        )
    return unit


def _filters(args: dict[str, Any]) -> Filters:
    assignee_id, unknown = None, False
    if args.get("assignee"):
        assignee_id = db.session.scalar(
            select(User.id).where(User.username == args["assignee"].lower())
        )
        unknown = assignee_id is None
    return Filters(
        unit_ids=frozenset({_unit_id(args["unit"])}) if args.get("unit") else None,
        procedure=args.get("procedure"),
        sector=args.get("sector"),
        channel=args.get("channel"),
        online_level=args.get("online_level"),
        state=args.get("state"),
        assignee_id=assignee_id,
        assignee_unknown=unknown,
        received_from=args.get("received_from"),
        received_to=args.get("received_to"),
        due_before=args.get("due_before"),
        text=args.get("q"),
    )


def _view(name: str) -> View:
    try:
        return View(name)
    except ValueError:
        raise NotFound(
            f"Không có hàng chờ «{name}»; có: {', '.join(v.value for v in View)}.",
            type="queue.unknown_view",
        ) from None


@blp.route("")
@access.roles(Role.CLERK, Role.MANAGER)
@blp.arguments(QueueFilterArgsSchema, location="query")
@blp.response(200, QueueTabsSchema, example=TABS_EXAMPLE)
@blp.alt_response(422, description="Unknown filter or unit")
def tabs(args: dict[str, Any]) -> dict[str, Any]:
    """The caller's tabs and how many dossiers each holds, with the same filters as the pages.

    Counts are exact up to 999 and capped beyond (`"> 999"`): each is an index range scan
    that stops at 1,000 entries, so the answer stays fast whatever the size of the history.
    Tabs: `reception` (submitted, waiting for reception), `unassigned` (at my unit, nobody's),
    `mine`, `incoming` (handed to my unit, not yet accepted), `waiting_citizen` (paused for
    a supplement or a payment), `due_soon` (less working time left than the due-soon share of
    the processing time), `overdue`, `to_return` (resolved, result not yet returned).
    """
    actor = require_principal()
    ctx = _context(actor)
    found = queries.counts(db.session, ctx, _filters(args))
    return {
        "due_soon_share": ctx.due_soon_share,
        "tabs": [
            {
                "view": v.value,
                "label": v.label,
                "count": n,
                "count_text": f"> {COUNT_CAP - 1}" if n >= COUNT_CAP else str(n),
                "capped": n >= COUNT_CAP,
            }
            for v, n in found.items()
        ],
    }


@blp.route("/<string:view>")
@access.roles(Role.CLERK, Role.MANAGER)
@blp.arguments(QueuePageArgsSchema, location="query")
@blp.response(200, QueuePageSchema, example=PAGE_EXAMPLE)
@blp.alt_response(404, description="No such queue view")
@blp.alt_response(422, description="Unknown filter, unit, or a cursor of another view or sort")
def page(args: dict[str, Any], view: str) -> dict[str, Any]:
    """One page of a tab, in the caller's units only, sorted ascending by `due` (legal due
    date, the default), `received` or `code`; the reception tab sorts by submission time.

    Pages continue with `after=<next>` (keyset pagination: stable while dossiers arrive, the
    same cost at any depth). Each row carries the time left or overdue **in working time**
    (`"còn 6 giờ làm việc"`, `"quá hạn 2 ngày làm việc"`), counted with the dossier's own
    calendar, and the current step with its own budget where the procedure defines steps.
    """
    v = _view(view)
    actor = require_principal()
    ctx = _context(actor)
    sort: Sort = args["sort"]
    after = queries.decode_cursor(args["after"], v, sort) if args.get("after") else None
    rows, cursor = queries.fetch_page(
        db.session, v, ctx, _filters(args), sort=sort, after=after, size=args["limit"]
    )
    return {
        "view": v.value,
        "label": v.label,
        "sort": sort.value,
        "items": queries.present_rows(db.session, rows, ctx),
        "next": cursor,
    }


@blp.route("/take-next", methods=["POST"])
@access.roles(Role.CLERK, Role.MANAGER)
@blp.arguments(TakeNextSchema)
@blp.response(200, QueueRowSchema, example=ROW_EXAMPLE)
@blp.alt_response(404, description="Nothing waiting to be assigned (type `queue.empty`)")
@blp.alt_response(422, description="Unknown unit")
@transactional
def take_next(data: dict[str, Any]):
    """Take the next dossier: the unassigned one of my units that is due first becomes mine.

    Two clerks pressing at the same moment never get the same dossier. The assignment is the
    `assign` transition, with its ledger entry and audit event; the `ETag` header is the
    dossier's new version for the next transition.
    """
    actor = require_principal()
    ctx = _context(actor)
    filters = Filters(
        unit_ids=frozenset({_unit_id(data["unit"])}) if data.get("unit") else None,
        procedure=data.get("procedure"),
    )
    d = services.take_next(db.session, ctx, filters, request_id=request_id())
    row = queries.present_rows(db.session, [d], ctx)[0]
    return row, 200, {"ETag": etag(d)}


@blp.route("/reassign", methods=["POST"])
@access.roles(Role.MANAGER)
@blp.arguments(ReassignAllSchema)
@blp.response(
    200,
    ReassignResultSchema,
    example={"moved": 2, "dossier_ids": [812, 9031], "to_user": "canbo.b"},
)
@blp.alt_response(422, description="Unknown clerk, or the new clerk does not work at the unit")
@transactional
def reassign_all(data: dict[str, Any]) -> dict[str, Any]:
    """Move every open dossier of an absent clerk (in the manager's units) to another clerk,
    or back to the unit's queue when `to_user` is omitted; up to 500 per call, due first.

    Each dossier moves by its own `reassign` (or `release`) transition with its ledger entry
    and audit event, all in one transaction: either all move or none.
    """
    actor = require_principal()
    result = services.reassign_all(
        db.session,
        data["from_user"],
        data.get("to_user"),
        actor=actor,
        now=now(),
        reason=data.get("reason"),
        request_id=request_id(),
    )
    return {"moved": len(result.moved), "dossier_ids": result.moved, "to_user": result.to}

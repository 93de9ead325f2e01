"""``/api/v1/calendar``: due dates, working days and the holiday feed (public); overrides and
agency working hours (administrators)."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any

from flask import Response

from onestop.agencies.services import get_by_code
from onestop.calendars import services
from onestop.calendars.models import AgencyWorkingHours
from onestop.calendars.schemas import (
    DaysArgsSchema,
    DaysSchema,
    DueDateArgsSchema,
    DueDateSchema,
    IcsArgsSchema,
    OverrideCreateSchema,
    OverrideListArgsSchema,
    OverridePageSchema,
    OverrideSchema,
    WorkingHoursArgsSchema,
    WorkingHoursInputSchema,
    WorkingHoursSchema,
)
from onestop.catalogue.services import get_current_version
from onestop.core.access import Role, access, require_principal
from onestop.core.clock import VN_TZ, now, today
from onestop.core.errors import DomainError, RuleViolation
from onestop.core.pagination import paginate
from onestop.core.tx import transactional
from onestop.extensions import Blueprint, db
from onestop.worktime import (
    DEFAULT_SAME_DAY_CUTOFF,
    Duration,
    WorktimeError,
    explain_due,
    parse_unit,
    to_ics,
)
from onestop.worktime.errors import (
    CHANNEL_NOT_OFFERED,
    INVALID_AMOUNT,
    NAIVE_DATETIME,
    OUT_OF_RANGE,
    UNKNOWN_CHANNEL,
    UNKNOWN_UNIT,
)
from onestop.worktime.policy import parse_channel

blp = Blueprint(
    "calendars",
    __name__,
    url_prefix="/api/v1/calendar",
    description="Lịch làm việc và thời hạn giải quyết (calendars)",
)

# The longest range /days answers in one call: a year, leap day included.
MAX_DAYS = 366

# Which query field an engine error is about, by its slug.
_FIELD_OF = {
    NAIVE_DATETIME: "received_at",
    OUT_OF_RANGE: "received_at",
    INVALID_AMOUNT: "amount",
    UNKNOWN_UNIT: "unit",
    UNKNOWN_CHANNEL: "channel",
    CHANNEL_NOT_OFFERED: "channel",
}


def _query_error(message: str, type_: str, field: str) -> RuleViolation:
    return RuleViolation(message, type=type_, errors={"query": {field: [message]}})


def _from_worktime(exc: WorktimeError, field: str | None = None) -> RuleViolation:
    """The engine's error in the API's error shape, keeping its stable slug."""
    return _query_error(exc.message, exc.type, field or _FIELD_OF.get(exc.type, "query"))


def _agency_id(code: str | None) -> int | None:
    if not code:
        return None
    try:
        return get_by_code(db.session, code).id
    except DomainError as exc:
        raise _query_error(exc.message, exc.type, "agency") from exc


def _procedure_duration(code: str, channel: str) -> tuple[Duration, time]:
    """The processing time and same-day cut-off of the version in force of a procedure."""
    try:
        definition = get_current_version(db.session, code).as_definition()
    except DomainError as exc:
        raise _query_error(exc.message, exc.type, "procedure") from exc
    kind = parse_channel(channel)
    option = definition.channel(kind.value)
    if option is None:
        raise _query_error(
            "Thủ tục không tiếp nhận hồ sơ qua kênh này.", CHANNEL_NOT_OFFERED, "channel"
        )
    return option.processing_time, definition.clock.same_day_cutoff


@blp.route("/due-date")
@access.public
@blp.arguments(DueDateArgsSchema, location="query")
@blp.response(200, DueDateSchema)
@blp.alt_response(422, description="Bad input, or a date outside the supported years")
def due_date(args: dict[str, Any]) -> dict[str, Any]:
    """The legal due date of a dossier received at ``received_at``, with its derivation.

    Give either ``amount`` and ``unit`` (working_days, working_hours, same_day,
    calendar_days), or ``procedure`` and ``channel`` (online, in_person, postal) to use the
    processing time of the procedure's version in force: the appointment date a citizen would
    get. ``agency`` uses that agency's calendar (its hours, its days off). ``explanation``
    lists every step in Vietnamese.
    """
    by_amount = "amount" in args or "unit" in args
    by_procedure = "procedure" in args or "channel" in args
    if by_amount and by_procedure:
        raise _query_error(
            "Chỉ dùng một trong hai cách: amount và unit, hoặc procedure và channel.",
            "calendar.ambiguous_duration",
            "procedure",
        )
    cutoff = DEFAULT_SAME_DAY_CUTOFF
    try:
        if by_procedure:
            for name in ("procedure", "channel"):
                if name not in args:
                    raise _query_error(
                        "Cần cả procedure và channel.", "calendar.duration_required", name
                    )
            duration, cutoff = _procedure_duration(args["procedure"], args["channel"])
        elif by_amount:
            for name in ("amount", "unit"):
                if name not in args:
                    raise _query_error("Cần cả amount và unit.", "calendar.duration_required", name)
            duration = Duration(args["amount"], parse_unit(args["unit"]))
        else:
            raise _query_error(
                "Cần thời hạn: amount và unit, hoặc procedure và channel.",
                "calendar.duration_required",
                "amount",
            )
        received: datetime = args.get("received_at") or now()
        on = received.astimezone(VN_TZ).date() if received.utcoffset() is not None else None
        key, cal = services.calendar_for_agency(
            db.session, _agency_id(args.get("agency")), on=on, now=now(), remember=False
        )
        explanation = explain_due(cal, received, duration, cutoff=cutoff)
    except WorktimeError as exc:
        raise _from_worktime(exc) from exc
    data = explanation.to_dict()
    return {
        "due_at": data["due_at"],
        "effective_start": data["effective_start"],
        "received_at": data["received_at"],
        "duration": {**data["duration"], "text": data["duration_text"]},
        "rule": data["rule"],
        "procedure": args.get("procedure"),
        "channel": args.get("channel"),
        "calendar_version": key,
        "explanation": data["steps"],
    }


@blp.route("/days")
@access.public
@blp.arguments(DaysArgsSchema, location="query")
@blp.response(200, DaysSchema)
@blp.alt_response(422, description="Bad range (reversed, over 366 days, outside the years)")
def days(args: dict[str, Any]) -> dict[str, Any]:
    """Every day from ``from`` to ``to`` (at most 366 days): working or not, why, the source
    document, and its working hours."""
    first, last = args["from_"], args["to"]
    if (last - first).days + 1 > MAX_DAYS:
        raise _query_error(f"Mỗi lần xem tối đa {MAX_DAYS} ngày.", "calendar.range_too_long", "to")
    try:
        infos, keys = services.days_for(db.session, _agency_id(args.get("agency")), first, last)
    except WorktimeError as exc:
        raise _from_worktime(exc, "from" if exc.type == OUT_OF_RANGE else "to") from exc
    return {"calendar_versions": keys, "days": [info.to_dict() for info in infos]}


@blp.route("/holidays.ics")
@access.public
@blp.arguments(IcsArgsSchema, location="query")
@blp.response(200, content_type="text/calendar", description="iCalendar (RFC 5545)")
@blp.alt_response(422, description="A year outside the supported years")
def holidays_ics(args: dict[str, Any]) -> Response:
    """The year's holidays, days off and make-up working days as an iCalendar feed.

    Subscribe to it from a calendar application; event identifiers are stable, so a
    re-published change updates the event instead of duplicating it.
    """
    year = args.get("year") or today().year
    try:
        _, cal = services.calendar_for_agency(
            db.session, _agency_id(args.get("agency")), on=today(), remember=False
        )
        text = to_ics(cal, year, now=now())
    except WorktimeError as exc:
        raise _from_worktime(exc, "year") from exc
    resp = Response(text, mimetype="text/calendar")
    resp.headers["Content-Type"] = "text/calendar; charset=utf-8"
    resp.headers["Content-Disposition"] = f'inline; filename="lich-nghi-{year}.ics"'
    # Subscribed clients poll; an hour is fresh enough for a calendar that changes yearly.
    resp.headers["Cache-Control"] = "public, max-age=3600"
    return resp


@blp.route("/overrides")
@access.roles(Role.ADMIN)
@blp.arguments(OverrideListArgsSchema, location="query")
@blp.response(200, OverridePageSchema)
def list_overrides(args: dict[str, Any]) -> dict[str, Any]:
    """Overrides stored in the database (the repository's ``overrides.yaml`` comes on top of
    the rules and under these), by date; removed ones with ``include_removed``."""
    stmt = services.list_overrides(
        db.session,
        agency_code=args.get("agency"),
        year=args.get("year"),
        include_removed=args["include_removed"],
    )
    page = paginate(db.session, stmt, args["page"], args["page_size"])
    page["calendar_version_number"] = services.current_version(db.session)
    return page


@blp.route("/overrides", methods=["POST"])
@access.roles(Role.ADMIN)
@blp.arguments(OverrideCreateSchema)
@blp.response(201, OverrideSchema)
@blp.alt_response(404, description="Unknown agency")
@blp.alt_response(409, description="The date already has an override in this scope")
@blp.alt_response(422, description="Invalid data, or the calendar it gives is inconsistent")
@transactional
def add_override(data: dict[str, Any]):
    """Add an override: ``day_off`` (an extra day off), ``remove_holiday`` (a computed holiday
    that is not a day off) or ``working_day`` (a make-up working Saturday, with
    ``swapped_with`` when it pays for a weekday off). ``source`` is the announcing document.
    Without ``agency`` it applies to every agency. The calendar version changes, the change is
    audited, and open dossiers' legal due dates are re-projected by the scheduler."""
    return services.add_override(
        db.session,
        services.OverrideInput(
            date=data["date"],
            kind=data["kind"],
            name=data["name"],
            source=data["source"],
            agency_code=data["agency"],
            swapped_with=data["swapped_with"],
        ),
        actor=require_principal(),
        now=now(),
    )


@blp.route("/overrides/<int:override_id>", methods=["DELETE"])
@access.roles(Role.ADMIN)
@blp.response(204)
@blp.alt_response(404, description="No such override")
@blp.alt_response(422, description="The calendar without it would be inconsistent")
@transactional
def remove_override(override_id: int) -> None:
    """Remove an override: it stops applying and stays in the history (``include_removed``)."""
    services.remove_override(db.session, override_id, actor=require_principal(), now=now())


def _hours_view(code: str, on: date) -> dict[str, Any]:
    agency = get_by_code(db.session, code)
    in_force, own = services.working_hours_of(db.session, agency, on=on)
    key, cal = services.calendar_for_agency(db.session, agency.id, on=on, remember=False)
    spec = cal.spec
    return {
        "agency_code": agency.code,
        "hours_from": in_force.agency.code if in_force else None,
        "weekly": {
            k: [str(p) for p in day]
            for k, day in zip(services.WEEKDAY_KEYS, spec.weekly, strict=True)
        },
        "makeup": [str(p) for p in spec.makeup_periods],
        "calendar_version": key,
        "own": [_row(r) for r in own],
    }


def _row(row: AgencyWorkingHours) -> dict[str, Any]:
    weekly = row.periods["weekly"]
    return {
        "valid_from": row.valid_from,
        "weekly": dict(zip(services.WEEKDAY_KEYS, weekly, strict=True)),
        "makeup": row.periods["makeup"],
        "source": row.source,
        "updated_version": row.updated_version,
    }


@blp.route("/agencies/<string:code>/working-hours")
@access.public
@blp.arguments(WorkingHoursArgsSchema, location="query")
@blp.response(200, WorkingHoursSchema)
@blp.alt_response(404, description="No agency with this code")
def get_working_hours(args: dict[str, Any], code: str) -> dict[str, Any]:
    """The weekly working hours an agency works on a date (its own, its parent's, or the
    national hours when ``hours_from`` is null), and the agency's own dated rows."""
    return _hours_view(code, args.get("on") or today())


@blp.route("/agencies/<string:code>/working-hours", methods=["PUT"])
@access.roles(Role.ADMIN)
@blp.arguments(WorkingHoursInputSchema)
@blp.response(200, WorkingHoursSchema)
@blp.alt_response(404, description="No agency with this code")
@blp.alt_response(422, description="Invalid periods, or the calendar they give is inconsistent")
@transactional
def put_working_hours(data: dict[str, Any], code: str) -> dict[str, Any]:
    """Set an agency's weekly hours from ``valid_from`` on (a row with the same date is
    replaced); ``makeup`` is the hours of a make-up working day (default: Monday's). Agencies
    below it without hours of their own inherit them."""
    services.set_working_hours(
        db.session,
        code,
        services.WorkingHoursInput(
            valid_from=data["valid_from"],
            weekly=services.weekly_from_mapping(data["weekly"]),
            makeup=tuple(data["makeup"]) if data["makeup"] is not None else None,
            source=data["source"],
        ),
        actor=require_principal(),
        now=now(),
    )
    return _hours_view(code, data["valid_from"])

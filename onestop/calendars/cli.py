"""``flask onestop calendar ...``: due dates, the year's days off, and re-projection by hand."""

from __future__ import annotations

from datetime import date, datetime

import click
from flask.cli import AppGroup


def register(group: AppGroup) -> None:
    calendar = AppGroup("calendar", help="Working calendar and due dates.")
    group.add_command(calendar)

    def agency_id(code: str | None) -> int | None:
        from onestop.agencies.services import get_by_code
        from onestop.extensions import db

        return get_by_code(db.session, code).id if code else None

    @calendar.command("due")
    @click.option(
        "--received-at",
        required=True,
        help="ISO 8601 with offset, e.g. 2026-02-05T10:00:00+07:00",
    )
    @click.option("--amount", required=True, type=int)
    @click.option(
        "--unit",
        required=True,
        type=click.Choice(["working_days", "working_hours", "same_day", "calendar_days"]),
    )
    @click.option("--agency", default=None, help="agency code (default: national calendar)")
    def due_cmd(received_at: str, amount: int, unit: str, agency: str | None) -> None:
        """Print the due date of a dossier and how it was counted (in Vietnamese)."""
        from onestop.calendars.services import calendar_for_agency
        from onestop.core.clock import VN_TZ, now
        from onestop.core.errors import DomainError
        from onestop.extensions import db
        from onestop.worktime import Duration, WorktimeError, explain_due
        from onestop.worktime.explain import format_instant

        try:
            received = datetime.fromisoformat(received_at)
            on = received.astimezone(VN_TZ).date() if received.utcoffset() is not None else None
            key, cal = calendar_for_agency(
                db.session, agency_id(agency), on=on, now=now(), remember=False
            )
            why = explain_due(cal, received, Duration(amount, unit))
        except ValueError as exc:  # WorktimeError is a ValueError too
            message = exc.message if isinstance(exc, WorktimeError) else str(exc)
            raise click.ClickException(message) from exc
        except DomainError as exc:
            raise click.ClickException(exc.message) from exc
        click.echo(f"Hạn giải quyết: {format_instant(why.due_at)} ({why.due_at.isoformat()})")
        click.echo(f"Thời hạn: {why.duration}; lịch: {key}")
        for step in why.steps:
            click.echo(f"  - {step.text}")

    @calendar.command("show")
    @click.argument("year", type=int)
    @click.option("--agency", default=None, help="agency code (default: national calendar)")
    def show_cmd(year: int, agency: str | None) -> None:
        """Print the year's non-working weekdays and make-up working days, with their source."""
        from onestop.calendars.services import days_for
        from onestop.core.errors import DomainError
        from onestop.extensions import db
        from onestop.worktime import KIND_LABELS, DayKind, WorktimeError

        try:
            infos, keys = days_for(
                db.session, agency_id(agency), date(year, 1, 1), date(year, 12, 31)
            )
        except (WorktimeError, DomainError) as exc:
            raise click.ClickException(exc.message) from exc
        click.echo(f"Lịch năm {year} ({', '.join(keys)}):")
        shown = 0
        for info in infos:
            weekday_off = not info.working and info.kind is not DayKind.WEEKEND
            if not (weekday_off or info.kind is DayKind.MAKEUP_WORKING):
                continue
            shown += 1
            hours = f" [{', '.join(map(str, info.periods))}]" if info.working else ""
            click.echo(
                f"{info.weekday_name:<9} {info.date:%d/%m/%Y}  {KIND_LABELS[info.kind]}: "
                f"{info.name}{hours} — nguồn: {info.source or 'không ghi'}"
            )
        if not shown:
            click.echo("Không có ngày nghỉ hay ngày làm bù nào.")

"""``flask onestop dossiers ...``: act on a dossier from the command line, as a named officer.

The command calls the same service as the API (``services.transition``) in one unit of work, so
everything that follows a transition — the audit event, the ledger, the form it issues — follows
it here too.
"""

from __future__ import annotations

import json

import click
from flask.cli import AppGroup
from marshmallow import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from onestop.accounts.models import Membership, User
from onestop.agencies.services import subtree_ids
from onestop.core.access import Principal, Role
from onestop.core.clock import now
from onestop.core.errors import DomainError
from onestop.core.extensions import db
from onestop.core.tx import unit_of_work
from onestop.dossiers import services
from onestop.dossiers.reprojection import reproject_open_dossiers
from onestop.dossiers.schemas import action_schema
from onestop.dossiers.states import Action


def principal_for(session: Session, username: str) -> Principal | None:
    """The active account ``username`` as a principal (its agencies and the units below)."""
    user = session.scalar(
        select(User).where(User.username == username.lower(), User.is_active.is_(True))
    )
    if user is None:
        return None
    roots = session.scalars(select(Membership.agency_id).where(Membership.user_id == user.id))
    return Principal(
        user_id=user.id,
        username=user.username,
        role=Role(user.role),
        agency_ids=frozenset(subtree_ids(session, list(roots))),
    )


def register(group: AppGroup) -> None:
    dossiers = AppGroup("dossiers", help="Hồ sơ (dossiers).")
    group.add_command(dossiers)

    # ``calendar reproject`` sits with the calendar commands operators know, but it moves
    # dossiers, so it is defined here (the calendars feature cannot see dossiers).
    calendar = group.commands.get("calendar")
    if not isinstance(calendar, click.Group):
        raise RuntimeError("register the calendars commands before the dossiers commands")

    @calendar.command("reproject")
    def reproject_cmd() -> None:
        """Re-project open dossiers onto the current calendars now (the scheduler does it too)."""
        with unit_of_work():
            report = reproject_open_dossiers(db.session, now=now())
        click.echo(
            f"Đã xem {report.examined} hồ sơ đang giải quyết, đổi hạn {report.moved} hồ sơ "
            f"({report.seconds:.2f} giây)."
        )
        if report.skipped_busy:
            click.echo(f"{report.skipped_busy} hồ sơ đang được xử lý; sẽ tính lại ở lần sau.")

    @dossiers.command("act")
    @click.argument("dossier_id", type=int)
    @click.argument("action", type=click.Choice([a.value for a in Action if a != Action.SUBMIT]))
    @click.option("--as", "username", required=True, help="tài khoản cán bộ thực hiện")
    @click.option("--data", default="{}", help='nội dung thao tác, JSON (vd. {"reason": "..."})')
    def act(dossier_id: int, action: str, username: str, data: str) -> None:
        """Perform a transition on a dossier, as the API does."""
        try:
            params = action_schema(Action(action))().load(json.loads(data))
        except (ValueError, ValidationError) as exc:
            raise click.BadParameter(f"nội dung không hợp lệ: {exc}", param_hint="--data") from exc
        actor = principal_for(db.session, username)
        if actor is None:
            raise click.BadParameter(f"không có tài khoản {username!r}", param_hint="--as")
        try:
            with unit_of_work():
                d = services.transition(
                    db.session,
                    dossier_id,
                    Action(action),
                    actor=actor,
                    expected_version=None,
                    now=now(),
                    params=params,
                )
                state, version = d.state, d.version
        except DomainError as exc:
            raise click.ClickException(exc.message) from exc
        click.echo(f"Hồ sơ {dossier_id}: {state} (phiên bản {version}).")

"""``flask onestop users ...``: create accounts from the command line."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from onestop.core.access import Role


def register(group: AppGroup) -> None:
    users = AppGroup("users", help="Accounts.")
    group.add_command(users)

    @users.command("create")
    @click.option("--username", required=True)
    @click.option("--full-name", required=True)
    @click.option("--role", type=click.Choice([r.value for r in Role]), required=True)
    @click.option("--agency", "agencies", multiple=True, help="agency code (repeatable)")
    @click.password_option()
    def create(username: str, full_name: str, role: str, agencies: tuple[str, ...], password: str):
        """Create an account (the first administrator is made this way)."""
        from onestop.accounts.services import NewUser, create_user
        from onestop.core.clock import now
        from onestop.core.tx import unit_of_work
        from onestop.extensions import db

        with unit_of_work():
            user = create_user(
                db.session,
                NewUser(
                    username=username,
                    password=password,
                    full_name=full_name,
                    role=Role(role),
                    agency_codes=agencies,
                ),
                actor=None,
                now=now(),
            )
        click.echo(f"Đã tạo tài khoản {user.username} ({user.role}).")

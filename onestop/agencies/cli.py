"""``flask onestop agencies ...``."""

from __future__ import annotations

import click
from flask.cli import AppGroup


def register(group: AppGroup) -> None:
    agencies = AppGroup("agencies", help="The agency tree.")
    group.add_command(agencies)

    @agencies.command("seed-demo")
    def seed_demo() -> None:
        """Create the demo province of Thanh Hóa (H56) with departments and communes."""
        from onestop.agencies.demo import seed_demo_agencies
        from onestop.core.clock import now
        from onestop.core.tx import unit_of_work
        from onestop.extensions import db

        with unit_of_work():
            created = seed_demo_agencies(db.session, now=now())
        click.echo(f"Đã tạo {created} cơ quan mẫu.")

    @agencies.command("list")
    def list_cmd() -> None:
        """Print the agency tree."""
        from onestop.agencies.services import list_agencies
        from onestop.extensions import db

        for a in db.session.scalars(list_agencies(db.session)):
            click.echo(f"{a.code:<16} {a.kind:<11} {a.name}")

"""``flask onestop db ...``: migrations and the models-versus-migrations check."""

from __future__ import annotations

import sys

import click
from flask.cli import AppGroup


def register(group: AppGroup) -> None:
    dbgroup = AppGroup("db", help="Database schema (Alembic migrations).")
    group.add_command(dbgroup)

    @dbgroup.command("upgrade")
    @click.argument("revision", default="head")
    def upgrade_cmd(revision: str) -> None:
        """Migrate the database up to REVISION (default: head)."""
        from onestop.core import migrate
        from onestop.extensions import db

        migrate.upgrade(db.engine, revision)
        click.echo(f"Cơ sở dữ liệu ở phiên bản {migrate.current_revision(db.engine)}.")

    @dbgroup.command("downgrade")
    @click.argument("revision")
    def downgrade_cmd(revision: str) -> None:
        """Migrate the database down to REVISION."""
        from onestop.core import migrate
        from onestop.extensions import db

        migrate.downgrade(db.engine, revision)

    @dbgroup.command("check")
    def check_cmd() -> None:
        """Fail when the models and the migrated database disagree."""
        from onestop.core import migrate
        from onestop.extensions import db

        diffs = migrate.schema_differences(db.engine)
        for diff in diffs:
            click.echo(f"khác biệt: {diff}", err=True)
        if diffs:
            sys.exit(1)
        click.echo("Mô hình và migration khớp nhau.")

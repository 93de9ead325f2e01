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
        from onestop.core.extensions import db

        migrate.upgrade(db.engine, revision)
        click.echo(f"Cơ sở dữ liệu ở phiên bản {migrate.current_revision(db.engine)}.")

    @dbgroup.command("downgrade")
    @click.argument("revision")
    def downgrade_cmd(revision: str) -> None:
        """Migrate the database down to REVISION."""
        from onestop.core import migrate
        from onestop.core.extensions import db

        migrate.downgrade(db.engine, revision)

    @dbgroup.command("check")
    def check_cmd() -> None:
        """Fail when the models and the migrated database disagree."""
        from onestop.core import migrate
        from onestop.core.extensions import db

        diffs = migrate.schema_differences(db.engine)
        for diff in diffs:
            click.echo(f"khác biệt: {diff}", err=True)
        if diffs:
            sys.exit(1)
        click.echo("Mô hình và migration khớp nhau.")

    audit_group = AppGroup("audit", help="The append-only audit trail.")
    group.add_command(audit_group)

    @audit_group.command("verify")
    def verify_cmd() -> None:
        """Walk every hash chain; exit 1 and list the broken links if any row was edited or
        removed."""
        from sqlalchemy import func, select

        from onestop.core.audit import AuditEvent, verify
        from onestop.core.extensions import db

        problems = list(verify(db.session))
        for p in problems:
            click.echo(f"{p.stream} #{p.seq}: {p.problem}", err=True)
        total = db.session.scalar(select(func.count()).select_from(AuditEvent))
        if problems:
            click.echo(f"{len(problems)} lỗi trong {total} sự kiện nhật ký.", err=True)
            sys.exit(1)
        click.echo(f"Nhật ký toàn vẹn: {total} sự kiện, không có liên kết nào bị phá vỡ.")

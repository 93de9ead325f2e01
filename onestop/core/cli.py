"""``flask onestop db ...``: migrations and the models-versus-migrations check."""

from __future__ import annotations

import sys
from pathlib import Path

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
    @click.option(
        "--against",
        "against",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        help="A checkpoint file: also report tail events and whole streams deleted since.",
    )
    def verify_cmd(against: Path | None) -> None:
        """Walk every chain and check every keyed MAC and append-only trigger; with --against,
        compare the heads with a checkpoint file. Exit 1 and list the problems if any."""
        from onestop.core.audit import VerifyReport, keyring_for, read_checkpoints, verify
        from onestop.core.extensions import db

        ring = keyring_for()
        problems: list[str] = []
        expected = None
        if against is not None:
            checkpoints = read_checkpoints(against, keyring=ring)
            problems += [f"{against}: {p}" for p in checkpoints.problems]
            expected = checkpoints.heads
        report = VerifyReport()
        problems += [
            f"{p.stream} #{p.seq}: {p.problem}"
            for p in verify(db.session, keyring=ring, expected=expected, report=report)
        ]
        for line in problems:
            click.echo(line, err=True)
        if problems:
            click.echo(f"{len(problems)} lỗi trong {report.events} sự kiện nhật ký.", err=True)
            sys.exit(1)
        if report.unsealed_streams:
            click.echo(
                f"Chú ý: {report.unsealed_streams} luồng còn kết thúc bằng sự kiện cũ không có "
                "khóa; chạy `flask onestop audit checkpoint` để niêm phong.",
                err=True,
            )
        against_note = f", khớp điểm kiểm tra {against}" if against is not None else ""
        click.echo(
            f"Nhật ký toàn vẹn: {report.events} sự kiện trong {report.streams} luồng, "
            f"không có liên kết nào bị phá vỡ{against_note}."
        )

    @audit_group.command("checkpoint")
    @click.option(
        "--file",
        "path",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        help="Append to this file instead of ONESTOP_AUDIT_CHECKPOINT_FILE.",
    )
    def checkpoint_cmd(path: Path | None) -> None:
        """Seal legacy streams, append the head of every changed stream to the checkpoint file
        and print the line (send it to a log sink the database user cannot write)."""
        import json

        from onestop.core.audit import checkpoint_path, seal_legacy, write_checkpoint
        from onestop.core.clock import now
        from onestop.core.extensions import db
        from onestop.core.tx import unit_of_work

        target = path or checkpoint_path()
        with unit_of_work():
            sealed = seal_legacy(db.session, now=now())
        if sealed:
            click.echo(f"Đã niêm phong {sealed} luồng còn sự kiện cũ không có khóa.", err=True)
        with unit_of_work():  # a fresh read: only committed heads go into the file
            entry = write_checkpoint(db.session, target, now=now())
        click.echo(json.dumps(entry, ensure_ascii=False, separators=(",", ":")))

"""``flask onestop demo ...``: a ready-to-try service with the catalogue, agencies and users."""

from __future__ import annotations

import os
import shutil
import sys

import click
from flask import current_app
from flask.cli import AppGroup, with_appcontext

# One account per role, all in the demo commune of Hạc Thành (Thanh Hóa).
DEMO_USERS = [
    ("admin", "Quản trị hệ thống", "administrator", ()),
    ("canbo.hacthanh", "Lê Thị Thu Hà", "clerk", ("000.21.01.H56",)),
    ("lanhdao.hacthanh", "Phạm Văn Dũng", "manager", ("000.21.01.H56",)),
    ("congdan", "Nguyễn Văn An", "citizen", ()),
]
ACCESS_LOG_FORMAT = '%(h)s %(t)s "%(m)s %(U)s" %(s)s %(b)s %(M)sms'
DEMO_PASSWORD = "onestop-demo-2026"  # noqa: S105 - printed for the demo, never for production


def prepare() -> list[tuple[str, str, str]]:
    """Migrate, sync the catalogue, seed agencies and demo users; idempotent."""
    from onestop.accounts.services import ensure_accounts
    from onestop.agencies.demo import seed_demo_agencies
    from onestop.core import migrate
    from onestop.core.clock import now
    from onestop.core.tx import unit_of_work
    from onestop.extensions import db

    migrate.upgrade(db.engine)
    for hook in PREPARE_HOOKS:
        hook()
    with unit_of_work():
        seed_demo_agencies(db.session, now=now())
        ensure_accounts(db.session, DEMO_USERS, password=DEMO_PASSWORD, now=now())
    return [(u, DEMO_PASSWORD, r) for u, _, r, _ in DEMO_USERS]


def _sync_catalogue() -> None:
    from onestop.catalogue.filespec import load_folder
    from onestop.catalogue.services import sync_catalogue
    from onestop.core.clock import now
    from onestop.core.tx import unit_of_work
    from onestop.extensions import db

    definitions = load_folder(current_app.config["PROCEDURES_DIR"])
    with unit_of_work():
        summary = sync_catalogue(db.session, definitions, actor=None, now=now())
    click.echo(f"Danh mục: {len(definitions)} thủ tục ({len(summary.created)} mới).")


# Steps run before the demo data is seeded (features add theirs here).
PREPARE_HOOKS = [_sync_catalogue]


def register(group: AppGroup) -> None:
    demo = AppGroup("demo", help="Demonstration data and a ready-to-use server.")
    group.add_command(demo)

    @demo.command("prepare")
    @with_appcontext
    def prepare_cmd() -> None:
        """Migrate the database, load the catalogue, seed agencies and one user per role."""
        _print_accounts(prepare())

    @demo.command("serve")
    @click.option("--bind", default="127.0.0.1:8000", show_default=True)
    @click.option("--workers", default=2, show_default=True)
    @with_appcontext
    def serve_cmd(bind: str, workers: int) -> None:
        """Prepare the demo, then serve the API with gunicorn."""
        _print_accounts(prepare())
        gunicorn = shutil.which("gunicorn", path=os.path.dirname(sys.executable)) or "gunicorn"
        click.echo(f"API: http://{bind}/api/v1/docs")
        os.execv(  # noqa: S606 - replaces this process with the server, no shell involved
            gunicorn,
            [
                gunicorn,
                "-b",
                bind,
                "-w",
                str(workers),
                "--access-logfile",
                "-",
                # The path without its query string: searches by an applicant's name must not
                # land in the access log (personal data is never logged).
                "--access-logformat",
                ACCESS_LOG_FORMAT,
                "wsgi:app",
            ],
        )


def _print_accounts(accounts: list[tuple[str, str, str]]) -> None:
    click.echo("Tài khoản dùng thử (tên đăng nhập / mật khẩu / vai trò):")
    for username, password, role in accounts:
        click.echo(f"  {username:<18} {password:<20} {role}")

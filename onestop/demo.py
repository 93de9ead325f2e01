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


# The history `demo prepare` loads into an empty database, so that a newcomer sees full queues.
DEMO_HISTORY = {"dossiers": 20_000, "years": 1.0, "seed": 2026}


def prepare(*, history: bool = False) -> list[tuple[str, str, str]]:
    """Migrate, sync the catalogue, seed agencies and demo users, and load a year of synthetic
    dossiers into an empty database when ``history`` (the commands do; tests do not); idempotent."""
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
    if history:
        _load_history()
    return [(u, DEMO_PASSWORD, r) for u, _, r, _ in DEMO_USERS]


def _load_history() -> None:
    from sqlalchemy import func, select

    from onestop.dossiers.models import Dossier
    from onestop.extensions import db

    if db.session.scalar(select(func.count()).select_from(Dossier)):
        db.session.rollback()
        return
    db.session.rollback()
    _generate(DEMO_HISTORY["dossiers"], DEMO_HISTORY["years"], DEMO_HISTORY["seed"], 100)


def _generate(dossiers: int, years: float, seed: int, communes: int) -> None:
    from onestop import synthetic
    from onestop.core.clock import now
    from onestop.core.tx import unit_of_work
    from onestop.extensions import db

    at = now()
    with unit_of_work():
        synthetic.ensure_province(db.session, communes=communes, now=at)

    def progress(summary: synthetic.Summary) -> None:
        db.session.commit()  # one large transaction per batch
        click.echo(
            f"  {summary.dossiers:>10,} hồ sơ, {summary.events:>11,} sự kiện "
            f"({summary.rate:,.0f} hồ sơ/giây)"
        )

    plan = synthetic.Plan(dossiers=dossiers, years=years, seed=seed, communes=communes)
    click.echo(f"Tạo {dossiers:,} hồ sơ trong {years:g} năm (seed {seed})…")
    with unit_of_work():
        summary = synthetic.generate(db.session, plan, now=at, on_batch=progress)
    states = ", ".join(f"{k} {v:,}" for k, v in summary.states.most_common())
    click.echo(
        f"Xong: {summary.dossiers:,} hồ sơ, {summary.events:,} sự kiện, "
        f"{summary.handovers:,} lượt chuyển trong {summary.seconds:.1f} s "
        f"({summary.rate:,.0f} hồ sơ/giây). Trạng thái: {states}."
    )


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
        _print_accounts(prepare(history=True))

    @demo.command("generate")
    @click.option("--dossiers", default=100_000, show_default=True, type=click.IntRange(1))
    @click.option("--years", default=3.0, show_default=True, type=click.FloatRange(0.05, 10))
    @click.option("--seed", default=1, show_default=True, type=int)
    @click.option("--communes", default=100, show_default=True, type=click.IntRange(4, 500))
    @with_appcontext
    def generate_cmd(dossiers: int, years: float, seed: int, communes: int) -> None:
        """Add a synthetic history of dossiers (the demo province, the synced catalogue)."""
        _generate(dossiers, years, seed, communes)

    @demo.command("check")
    @click.option("--sample", default=10_000, show_default=True, type=click.IntRange(1))
    @click.option("--seed", default=1, show_default=True, type=int)
    @with_appcontext
    def check_cmd(sample: int, seed: int) -> None:
        """Replay the clock ledger of a random sample of dossiers and compare with their rows."""
        import random

        from sqlalchemy import select

        from onestop.dossiers.ledger import check
        from onestop.dossiers.models import Dossier
        from onestop.extensions import db

        ids = list(db.session.scalars(select(Dossier.id)))
        chosen = sorted(random.Random(seed).sample(ids, min(sample, len(ids))))  # noqa: S311
        problems = check(db.session, chosen)
        for p in problems[:20]:
            click.echo(f"  hồ sơ {p.dossier_id}: {p.column} = {p.stored!r}, sổ ghi {p.replayed!r}")
        click.echo(
            f"{len(chosen):,} hồ sơ kiểm tra, {len({p.dossier_id for p in problems}):,} lệch."
        )
        if problems:
            sys.exit(1)

    @demo.command("serve")
    @click.option("--bind", default="127.0.0.1:8000", show_default=True)
    @click.option("--workers", default=2, show_default=True)
    @with_appcontext
    def serve_cmd(bind: str, workers: int) -> None:
        """Prepare the demo, then serve the API with gunicorn."""
        _print_accounts(prepare(history=True))
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

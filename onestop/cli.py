"""The ``flask onestop`` command group; each feature adds its subcommands lazily."""

from __future__ import annotations

import importlib

import click
from flask.cli import AppGroup

onestop_cli = AppGroup("onestop", help="onestop administration commands.")

# Feature modules that define ``register(group)`` in their ``cli`` module.
CLI_FEATURES = ["core", "agencies", "accounts", "calendars", "catalogue", "dossiers"]

# Cross-feature commands.
importlib.import_module("onestop.demo").register(onestop_cli)

for _name in CLI_FEATURES:
    importlib.import_module(f"onestop.{_name}.cli").register(onestop_cli)


@onestop_cli.command("version")
def version() -> None:
    """Print the onestop version."""
    click.echo("onestop 0.1.0")


scheduler_cli = AppGroup("scheduler", help="The periodic jobs (run exactly one scheduler).")
onestop_cli.add_command(scheduler_cli)


@scheduler_cli.command("run")
def scheduler_run() -> None:
    """Run the scheduler in the foreground (one per deployment; a second one only stands by)."""
    from flask import current_app

    from onestop.scheduler import serve

    serve(current_app._get_current_object())  # type: ignore[attr-defined]


@scheduler_cli.command("run-job")
@click.argument("name")
def scheduler_run_job(name: str) -> None:
    """Run one job now (for operators and tests); skipped if this slot already ran."""
    from onestop.core.clock import now
    from onestop.scheduler import JOBS, holder_id, run_job, slot

    job = JOBS.get(name)
    if job is None:
        raise click.BadParameter(f"không có công việc {name!r}; có: {', '.join(JOBS)}")
    status = run_job(job, scheduled_for=slot(now(), job.every), holder=holder_id())
    click.echo(f"{name}: {status or 'đã chạy ở lượt này, bỏ qua'}")


@scheduler_cli.command("jobs")
def scheduler_jobs() -> None:
    """List the jobs and their last run."""
    from sqlalchemy import select

    from onestop.extensions import db
    from onestop.scheduler import JOBS, JobRun

    for job in JOBS.values():
        last = db.session.scalar(
            select(JobRun).where(JobRun.job == job.name).order_by(JobRun.id.desc()).limit(1)
        )
        when = f"{last.status} {last.started_at:%Y-%m-%d %H:%M} UTC" if last else "chưa chạy"
        click.echo(f"{job.name:<22} mỗi {job.every} — {job.description} [{when}]")

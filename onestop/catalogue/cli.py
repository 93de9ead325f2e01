"""``flask onestop procedures ...``: validate the catalogue folder and sync it to the database."""

from __future__ import annotations

import sys

import click
from flask import current_app
from flask.cli import AppGroup


def register(group: AppGroup) -> None:
    procedures = AppGroup("procedures", help="The procedure catalogue (procedures/*.yaml).")
    group.add_command(procedures)

    @procedures.command("validate")
    @click.argument("path", required=False, type=click.Path(file_okay=False))
    def validate_cmd(path: str | None) -> None:
        """Check every file in PATH (default: the configured catalogue folder)."""
        from onestop.catalogue.filespec import validate_folder

        folder = path or current_app.config["PROCEDURES_DIR"]
        definitions, errors = validate_folder(folder)
        for error in errors:
            click.echo(str(error), err=True)
        if errors:
            click.echo(f"{len(errors)} lỗi trong {folder}.", err=True)
            sys.exit(1)
        click.echo(f"{len(definitions)} thủ tục hợp lệ trong {folder}.")

    @procedures.command("sync")
    @click.argument("path", required=False, type=click.Path(file_okay=False))
    def sync_cmd(path: str | None) -> None:
        """Load PATH into the database: new versions by content, retire removed files.

        Nothing is written unless every file is valid.
        """
        from onestop.catalogue.filespec import validate_folder
        from onestop.catalogue.services import sync_catalogue
        from onestop.core.clock import now
        from onestop.core.tx import unit_of_work
        from onestop.extensions import db

        folder = path or current_app.config["PROCEDURES_DIR"]
        definitions, errors = validate_folder(folder)
        for error in errors:
            click.echo(str(error), err=True)
        if errors:
            click.echo(f"{len(errors)} lỗi; không đồng bộ.", err=True)
            sys.exit(1)
        with unit_of_work():
            summary = sync_catalogue(db.session, definitions, actor=None, now=now())
        for line in summary.lines():
            click.echo(line)
        click.echo(f"Đã đồng bộ {len(definitions)} thủ tục từ {folder}.")

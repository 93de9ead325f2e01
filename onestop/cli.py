"""The ``flask onestop`` command group; each feature adds its subcommands lazily."""

from __future__ import annotations

import importlib

import click
from flask.cli import AppGroup

onestop_cli = AppGroup("onestop", help="onestop administration commands.")

# Feature modules that define ``register(group)`` in their ``cli`` module.
CLI_FEATURES = ["core", "agencies", "accounts"]

# Cross-feature commands.
importlib.import_module("onestop.demo").register(onestop_cli)

for _name in CLI_FEATURES:
    importlib.import_module(f"onestop.{_name}.cli").register(onestop_cli)


@onestop_cli.command("version")
def version() -> None:
    """Print the onestop version."""
    click.echo("onestop 0.1.0")

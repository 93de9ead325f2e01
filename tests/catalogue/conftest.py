"""Catalogue fixtures: the shipped catalogue synced into the test database, and the CLI group."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask
from flask.cli import AppGroup
from sqlalchemy.orm import Session

from onestop.catalogue import api as catalogue_api
from onestop.catalogue import cli as catalogue_cli
from onestop.catalogue.definitions import ProcedureDefinition
from onestop.catalogue.filespec import load_folder
from onestop.catalogue.services import SyncSummary, sync_catalogue
from onestop.extensions import api
from tests.factories import SEED_TIME

PROCEDURES = Path(__file__).resolve().parents[2] / "procedures"


@pytest.fixture
def app(app: Flask) -> Flask:
    # The factory registers the catalogue blueprint once the feature is listed in FEATURES;
    # until then the tests register it themselves so they exercise the real routes.
    if "procedures" not in app.blueprints:
        api.register_blueprint(catalogue_api.blp)
    return app


@pytest.fixture(scope="session")
def shipped() -> list[ProcedureDefinition]:
    return load_folder(PROCEDURES)


@pytest.fixture
def synced(session: Session, shipped: list[ProcedureDefinition]) -> SyncSummary:
    summary = sync_catalogue(session, shipped, actor=None, now=SEED_TIME)
    session.commit()  # inside the test's outer transaction: rolled back afterwards
    return summary


@pytest.fixture
def procedures_cli() -> AppGroup:
    group = AppGroup("onestop")
    catalogue_cli.register(group)
    return group

"""Dossier fixtures: agencies, the catalogue and one user per role, ready in each test."""

from __future__ import annotations

import pytest

from tests.dossiers.helpers import World, make_world
from tests.lookup.conftest import limiter  # noqa: F401 - a fixture, used by name


@pytest.fixture
def world(client, session) -> World:
    return make_world(client, session)

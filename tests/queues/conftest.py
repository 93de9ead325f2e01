"""Queue fixtures: the dossier world (agencies, catalogue, one user per role)."""

from __future__ import annotations

import pytest

from tests.dossiers.helpers import World, make_world


@pytest.fixture
def world(client, session) -> World:
    return make_world(client, session)

"""The dossier helpers, where the dossier tests have always imported them from; they live in
``tests/factories.py`` with the other shared factories."""

from tests.factories import (
    CCCD,
    MARRIAGE_STATUS,
    PROCEDURES,
    World,
    act,
    applicant,
    make_world,
    ok,
    submit,
    supply,
    sync_procedures,
)

__all__ = [
    "CCCD",
    "MARRIAGE_STATUS",
    "PROCEDURES",
    "World",
    "act",
    "applicant",
    "make_world",
    "ok",
    "submit",
    "supply",
    "sync_procedures",
]

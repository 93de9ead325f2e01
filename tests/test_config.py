"""Settings as a deployment sees them: every default applies to an app built without overrides."""

from __future__ import annotations

import os

import pytest

from onestop import create_app
from onestop.config import DEFAULTS

# Derived at start-up when left unset (a path in the instance folder, a development key).
DERIVED = {
    "DATABASE_URL",
    "SECRET_KEY",
    "STORAGE_DIR",
    "PROCEDURES_DIR",
    "AUDIT_KEYS",
    "AUDIT_CHECKPOINT_FILE",
}


@pytest.fixture
def bare_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("ONESTOP_"):
            monkeypatch.delenv(name)


def test_every_default_applies_as_configured(bare_environment, tmp_path) -> None:
    """Flask defines ``MAX_CONTENT_LENGTH = None`` itself; the loader's ``setdefault`` kept
    Flask's value, so the documented 60 MB limit never applied (a test that set the key hid
    it). Built with nothing but the database URL, the app must see every documented default."""
    app = create_app({"TESTING": True, "DATABASE_URL": f"sqlite:///{tmp_path / 'x.sqlite3'}"})
    lost = {
        key: (app.config[key], default.value)
        for key, default in DEFAULTS.items()
        if key not in DERIVED and app.config[key] != default.value
    }
    assert lost == {}
    assert app.config["MAX_CONTENT_LENGTH"] == 60 * 1024 * 1024
    assert app.config["JSON_MAX_BYTES"] == 1024 * 1024


def test_an_environment_variable_still_overrides_a_default(bare_environment, monkeypatch) -> None:
    monkeypatch.setenv("ONESTOP_MAX_CONTENT_LENGTH", "1234")
    app = create_app({"TESTING": True, "DATABASE_URL": "sqlite://"})
    assert app.config["MAX_CONTENT_LENGTH"] == 1234

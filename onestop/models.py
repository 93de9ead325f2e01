"""Imports every feature's models so that ``Base.metadata`` is complete (Alembic, checks)."""

from __future__ import annotations

import importlib

from onestop.core.db import Base

MODEL_MODULES = [
    "core.audit",
    "agencies.models",
    "accounts.models",
    "calendars.models",
    "catalogue.models",
    "core.idempotency",
    "dossiers.models",
    "core.ratelimit",
    "dossiers.attachments",
    "core.scheduling",
    "queues.models",
    "documents.models",
]

for _name in MODEL_MODULES:
    importlib.import_module(f"onestop.{_name}")

metadata = Base.metadata

"""Alembic, driven from Python: upgrade, downgrade, and the models-versus-migrations check."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import Engine, MetaData

from onestop.core.db import Base

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"


def alembic_config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["engine"] = engine
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    command.upgrade(alembic_config(engine), revision)


def downgrade(engine: Engine, revision: str) -> None:
    command.downgrade(alembic_config(engine), revision)


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def schema_differences(engine: Engine, metadata: MetaData | None = None) -> list[Any]:
    """What the models declare that the migrated database does not have, or the reverse.

    ``metadata`` defaults to ``Base.metadata``, complete once the application is assembled
    (``create_app`` imports ``onestop.models``); code without an application passes
    ``onestop.models.metadata``.
    """
    metadata = metadata if metadata is not None else Base.metadata
    with engine.connect() as conn:
        ctx = MigrationContext.configure(
            conn, opts={"compare_type": True, "compare_server_default": False}
        )
        diffs: list[Any] = compare_metadata(ctx, metadata)
        return diffs

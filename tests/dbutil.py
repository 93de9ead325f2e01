"""Create and drop throw-away databases for tests, on SQLite or on the PostgreSQL server."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, make_url, text

# Set to a PostgreSQL URL (any database on the server, e.g. .../postgres) to run the suite there;
# each run creates its own databases and drops them afterwards.
SERVER_URL = os.environ.get("ONESTOP_TEST_DATABASE_URL", "")


def backend() -> str:
    return "postgresql" if SERVER_URL.startswith("postgresql") else "sqlite"


@contextmanager
def fresh_database(tmp_dir: Path, label: str = "t") -> Iterator[str]:
    """Yield the URL of a new empty database, dropped afterwards."""
    if backend() == "sqlite":
        path = tmp_dir / f"onestop_{label}_{uuid.uuid4().hex[:8]}.sqlite3"
        yield f"sqlite:///{path}"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        return
    url = make_url(SERVER_URL)
    if url.drivername == "postgresql":
        url = url.set(drivername="postgresql+psycopg")
    name = f"onestop_{label}_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE \"{name}\" ENCODING 'UTF8' TEMPLATE template0"))
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

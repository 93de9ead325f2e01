"""The ceilings ``tests/bench/load.py`` compares the service with, served by the same gunicorn.

``GET /hello`` is a hello-world Flask JSON route; ``POST /insert`` reads a small JSON body and
inserts one row in its own transaction with SQLAlchemy Core (the service's engine settings),
into ``bench_ceiling`` of the database in ``ONESTOP_DATABASE_URL``. Nothing else: no authentication,
no validation, no audit. The table is created by the benchmark before the server starts.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime

from flask import Flask, jsonify, request
from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    MetaData,
    Table,
    Text,
    insert,
)

from onestop.core.db import make_engine

metadata = MetaData()
rows = Table(
    "bench_ceiling",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("name", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("payload", JSON, nullable=False),
)

app = Flask(__name__)
_engine = None


def engine():
    global _engine
    if _engine is None:  # one pool per worker, made after gunicorn forks
        _engine = make_engine(os.environ["ONESTOP_DATABASE_URL"])  # the service's pool
    return _engine


@app.get("/hello")
def hello():
    return jsonify(ok=True, service="onestop", version=1)


@app.post("/insert")
def insert_row():
    body = request.get_json()
    with engine().begin() as conn:
        new_id = conn.execute(
            insert(rows)
            .values(name=body["name"], created_at=datetime.now(UTC), payload=body)
            .returning(rows.c.id)
        ).scalar_one()
    return jsonify(id=new_id), 201

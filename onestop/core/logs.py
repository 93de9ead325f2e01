"""Log records as one JSON object per line, with the request id of the request they belong to.

A log collector can then search by ``request_id``, the value a citizen or a clerk quotes from
an error reply (``core.errors``). ``LOG_FORMAT=text`` keeps the plain format for a terminal.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import IO

from flask import has_request_context

from onestop.core.errors import request_id


class RequestIdFilter(logging.Filter):
    """Adds ``request_id`` to every record made while a request is being served."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id() if has_request_context() else None
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        rid = getattr(record, "request_id", None)
        if rid:
            entry["request_id"] = rid
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def make_handler(log_format: str, stream: IO[str] | None = None) -> logging.Handler:
    handler = logging.StreamHandler(stream)
    handler.addFilter(RequestIdFilter())
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    return handler


def configure(log_format: str) -> None:
    """Install one handler on the root logger, unless one is there already (pytest's)."""
    root = logging.getLogger()
    if root.handlers:
        return
    root.addHandler(make_handler(log_format))
    root.setLevel(logging.INFO)

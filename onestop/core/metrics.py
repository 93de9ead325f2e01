"""Prometheus metrics: the instruments every layer may count on, and the scrape output.

The instruments live here, in ``core``, so that any feature can count an outcome without
importing upwards; what is computed at scrape time (dossiers by state) is registered by the
assembly (``onestop.ops``).

Under gunicorn each worker is its own process: with ``PROMETHEUS_MULTIPROC_DIR`` set in the
environment *before the server starts* (prometheus-client chooses its storage when it is first
imported), every process writes its values to files in that folder and a scrape adds them up.
``onestop/gunicorn_conf.py`` empties the folder at start-up and marks dead workers.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.registry import Collector

# Request latency per route template (``/api/v1/dossiers/<int:dossier_id>``, never the URL
# itself: an unbounded label would grow without end) and status.
REQUEST_SECONDS = Histogram(
    "onestop_http_request_duration_seconds",
    "Time to answer an HTTP request, by method, route template and status",
    ["method", "route", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
RATE_LIMITED = Counter(
    "onestop_rate_limit_rejections_total",
    "Requests refused with 429 by a rate limit or login throttle, by route template",
    ["route"],
)
DOCUMENTS_ISSUED = Counter(
    "onestop_documents_issued_total",
    "Statutory documents (PDF forms) issued or failed to issue, by form and outcome",
    ["form", "outcome"],
)


def multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


def exposition(scrape_time: Iterable[Collector] = ()) -> tuple[bytes, str]:
    """The text format of every metric (summed over gunicorn's workers in multiprocess mode),
    followed by the ``scrape_time`` collectors, which read the current state once."""
    if multiprocess_dir():
        counted = CollectorRegistry()
        multiprocess.MultiProcessCollector(counted)  # type: ignore[no-untyped-call]
    else:
        counted = REGISTRY
    current = CollectorRegistry(auto_describe=False)
    for collector in scrape_time:
        current.register(collector)
    return generate_latest(counted) + generate_latest(current), CONTENT_TYPE_LATEST

"""gunicorn settings for Prometheus multiprocess mode: ``gunicorn -c python:onestop.gunicorn_conf``.

With ``PROMETHEUS_MULTIPROC_DIR`` set, each worker writes its metric values to files in that
folder and ``/metrics`` adds up all of them (``onestop.core.metrics``). Files of processes that
no longer run are removed at start-up, and a worker's live gauges when it exits, as
prometheus-client's documentation asks; a scheduler process sharing the folder keeps its own.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

_PID = re.compile(r"_(\d+)\.db$")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def on_starting(server: Any) -> None:
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not folder:
        return
    path = Path(folder)
    path.mkdir(parents=True, exist_ok=True)
    for f in path.glob("*.db"):
        m = _PID.search(f.name)
        if m is None or not _alive(int(m.group(1))):
            f.unlink(missing_ok=True)


def child_exit(server: Any, worker: Any) -> None:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)

"""The one place that commits: a unit of work around a view, a CLI command or a scheduler job."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from onestop.core import events
from onestop.core.db import begin_write, end_read_transaction
from onestop.core.extensions import db

F = TypeVar("F", bound=Callable[..., Any])


@contextmanager
def unit_of_work() -> Iterator[None]:
    """Commit if the block succeeds, roll back if it raises; then run the after-commit handlers
    of the events emitted inside (never on rollback)."""
    session = db.session
    # Reads done before (authentication) must not hold a SQLite read snapshot into a write.
    end_read_transaction(session)
    events.discard_pending(session)  # work queued outside any unit of work never committed
    begin_write(session)
    try:
        yield
        session.commit()
    except BaseException:
        session.rollback()
        events.discard_pending(session)
        raise
    events.run_after_commit(session)


def after_commit(hook: Callable[[], None]) -> None:
    """Run ``hook`` once the current unit of work has committed (never on rollback)."""
    db.session.info.setdefault(events.QUEUE_KEY, []).append((lambda _event: hook(), None))


def transactional(view: F) -> F:
    """Run the view as one unit of work; put it innermost, below the smorest decorators."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with unit_of_work():
            return view(*args, **kwargs)

    return wrapper  # type: ignore[return-value]

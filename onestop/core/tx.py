"""The one place that commits: a unit of work around a view, a CLI command or a scheduler job."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from flask import g

from onestop.core.db import begin_write
from onestop.extensions import db

F = TypeVar("F", bound=Callable[..., Any])


@contextmanager
def unit_of_work() -> Iterator[None]:
    """Commit if the block succeeds, roll back if it raises; run after-commit hooks."""
    session = db.session
    if session.in_transaction():
        # Reads done before (authentication) must not hold a SQLite read snapshot into a write.
        session.rollback()
    begin_write(session)
    try:
        yield
        session.commit()
    except BaseException:
        session.rollback()
        g.pop("after_commit", None)
        raise
    for hook in g.pop("after_commit", []):
        hook()


def after_commit(hook: Callable[[], None]) -> None:
    """Run ``hook`` once the current unit of work has committed (never on rollback)."""
    g.setdefault("after_commit", []).append(hook)


def transactional(view: F) -> F:
    """Run the view as one unit of work; put it innermost, below the smorest decorators."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with unit_of_work():
            return view(*args, **kwargs)

    return wrapper  # type: ignore[return-value]

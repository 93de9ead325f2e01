"""Domain events: services say what happened; features react, in the transaction or after it.

A service that changes something emits a typed event (a frozen dataclass) into the current unit
of work with :func:`emit`. Features subscribe handlers when the application is assembled (their
``init_app``), never by importing a module for its side effects:

* ``Phase.IN_TRANSACTION`` handlers run at once, inside the emitting transaction, with the same
  session: what they write commits or rolls back with the change itself (outbox rows,
  statistics watermarks, checks that must refuse the change);
* ``Phase.AFTER_COMMIT`` handlers are queued on the session and run by
  :func:`onestop.core.tx.unit_of_work` only once the transaction has committed; a rollback
  drops them (slow or external work: issuing a PDF, notifying someone).

Services never commit, so the unit of work that commits is the one that releases the queue,
whether it wraps an HTTP view, a CLI command or a scheduler job.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy.orm import Session

log = logging.getLogger(__name__)

BUS_KEY = "onestop.events"
QUEUE_KEY = "onestop.after_commit"


class Event:
    """Base of every domain event (subclasses are frozen dataclasses)."""


E = TypeVar("E", bound=Event)
InTransactionHandler = Callable[[Session, Any], None]
AfterCommitHandler = Callable[[Any], None]


class Phase(enum.Enum):
    IN_TRANSACTION = "in_transaction"
    AFTER_COMMIT = "after_commit"


@dataclass
class EventBus:
    """Handlers per event type; one bus per application."""

    _handlers: dict[type[Event], list[tuple[Phase, Callable[..., None]]]] = field(
        default_factory=dict
    )

    def subscribe(self, event_type: type[E], handler: Callable[..., None], *, phase: Phase) -> None:
        """Register ``handler`` for ``event_type`` and its subclasses; registering twice is a
        no-op. In-transaction handlers receive ``(session, event)``, after-commit handlers
        ``(event)``."""
        entries = self._handlers.setdefault(event_type, [])
        if (phase, handler) not in entries:
            entries.append((phase, handler))

    def unsubscribe(self, event_type: type[E], handler: Callable[..., None]) -> None:
        """Take ``handler`` off ``event_type`` (benchmarks measure work without a reaction)."""
        entries = self._handlers.get(event_type, [])
        entries[:] = [(p, h) for p, h in entries if h != handler]

    def handlers(self, event: Event) -> list[tuple[Phase, Callable[..., None]]]:
        out: list[tuple[Phase, Callable[..., None]]] = []
        for cls in type(event).__mro__:
            out.extend(self._handlers.get(cls, []))
        return out


def bus_of(app: Any) -> EventBus:
    """The application's event bus (created on first use)."""
    bus: EventBus = app.extensions.setdefault(BUS_KEY, EventBus())
    return bus


def emit(session: Session, event: Event) -> None:
    """Announce ``event`` in the session's unit of work: in-transaction handlers run now (an
    exception aborts the change), after-commit handlers wait for the commit."""
    bus: EventBus | None = session.info.get(BUS_KEY)
    if bus is None:
        return
    for phase, handler in bus.handlers(event):
        if phase is Phase.IN_TRANSACTION:
            handler(session, event)
        else:
            session.info.setdefault(QUEUE_KEY, []).append((handler, event))


def discard_pending(session: Session) -> None:
    """Forget queued after-commit work (the transaction rolled back, or never committed)."""
    session.info.pop(QUEUE_KEY, None)


def run_after_commit(session: Session) -> None:
    """Run the after-commit handlers queued by the transaction that has just committed. A
    failing handler is logged and does not stop the others: the change is already stored."""
    for handler, event in session.info.pop(QUEUE_KEY, []):
        try:
            handler(event)
        except Exception:
            log.exception("after-commit handler %s failed for %r", handler.__qualname__, event)

"""Domain events: in-transaction handlers share the change's fate; after-commit ones wait for it."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from sqlalchemy import func, select

from onestop.core import audit
from onestop.core.audit import AuditEvent
from onestop.core.clock import now
from onestop.core.events import Event, Phase, bus_of, emit
from onestop.core.tx import unit_of_work


@dataclass(frozen=True)
class Noted(Event):
    stream: str


def _audit_rows(session, stream: str) -> int:
    return session.scalar(select(func.count()).where(AuditEvent.stream == stream)) or 0


@pytest.fixture
def bus(app):
    bus = bus_of(app)
    seen: list[str] = []

    def write_in_transaction(session, event: Noted) -> None:
        if event.stream.endswith(":refuse"):
            raise ValueError("refused by a handler")
        audit.record(session, actor=None, action="test.noted", stream=event.stream, now=now())

    def after_commit(event: Noted) -> None:
        seen.append(event.stream)

    def failing_after_commit(event: Noted) -> None:
        raise RuntimeError("a handler that fails after the commit")

    bus.subscribe(Noted, write_in_transaction, phase=Phase.IN_TRANSACTION)
    bus.subscribe(Noted, failing_after_commit, phase=Phase.AFTER_COMMIT)
    bus.subscribe(Noted, after_commit, phase=Phase.AFTER_COMMIT)
    yield seen
    bus.unsubscribe(Noted, write_in_transaction)
    bus.unsubscribe(Noted, failing_after_commit)
    bus.unsubscribe(Noted, after_commit)


def test_handlers_run_in_the_transaction_and_after_its_commit(session, bus):
    with unit_of_work():
        emit(session, Noted("test:1"))
        assert bus == []  # not before the commit
    assert bus == ["test:1"]  # the failing handler before it did not stop it
    assert _audit_rows(session, "test:1") == 1


def test_a_rollback_undoes_in_transaction_writes_and_drops_after_commit_work(session, bus):
    def emit_then_fail() -> None:
        with unit_of_work():
            emit(session, Noted("test:2"))
            raise RuntimeError("the change fails after the event")

    with pytest.raises(RuntimeError, match="the change fails"):
        emit_then_fail()
    assert bus == []
    assert _audit_rows(session, "test:2") == 0


def test_an_in_transaction_handler_can_refuse_the_change(session, bus):
    def emit_refused() -> None:
        with unit_of_work():
            emit(session, Noted("test:refuse"))

    with pytest.raises(ValueError, match="refused by a handler"):
        emit_refused()
    assert bus == []
    assert _audit_rows(session, "test:refuse") == 0


def test_subscribing_twice_runs_a_handler_once(app, session, bus):
    seen: list[str] = []
    bus_of(app).subscribe(Noted, lambda e: seen.append(e.stream), phase=Phase.AFTER_COMMIT)
    handler = bus_of(app).handlers(Noted("x"))[-1][1]
    bus_of(app).subscribe(Noted, handler, phase=Phase.AFTER_COMMIT)
    with unit_of_work():
        emit(session, Noted("test:3"))
    assert seen == ["test:3"]
    bus_of(app).unsubscribe(Noted, handler)

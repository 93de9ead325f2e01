"""Idempotency records hold no readable personal data and are purged after their retention."""

from __future__ import annotations

from sqlalchemy import func, select

from onestop.core.idempotency import IdempotencyRecord
from tests.dossiers.helpers import CCCD, make_world, ok, submit


def test_a_stored_reply_holds_no_personal_data_and_still_replays_exactly(
    client, session, frozen_clock
) -> None:
    """The record kept the whole reply (the applicant's name, CCCD, address, phone) and the
    client's key in clear, forever."""
    world = make_world(client, session)
    key = "khoa-nop-ho-so-0001"
    first = submit(client, world["citizen"], key=key)
    ok(first, 201)
    rec = session.scalar(select(IdempotencyRecord))
    stored = " ".join([rec.key, rec.body, rec.request_hash, str(rec.headers)])
    for personal in (CCCD, "Nguyễn Thị Ánh Tuyết", "Lê Lợi", "0912345678", key):
        assert personal not in stored
    assert "Ánh Tuyết".encode() not in rec.body.encode()

    again = submit(client, world["citizen"], key=key)
    assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
    assert again.get_data() == first.get_data()
    assert again.headers["Location"] == first.headers["Location"]
    # The same key from another account is another record, not a replay of this one.
    other = submit(client, world["citizen2"], key=key)
    assert other.status_code == 201 and "Idempotent-Replayed" not in other.headers


def test_records_past_their_retention_are_purged_by_the_scheduled_job(
    app, client, session, frozen_clock
) -> None:
    assert app.config["IDEMPOTENCY_RETENTION_HOURS"] == 24  # the default (README)
    app.config["IDEMPOTENCY_RETENTION_HOURS"] = 1  # shorter than a token's lifetime
    world = make_world(client, session)
    ok(submit(client, world["citizen"], key="old"), 201)
    frozen_clock.advance(minutes=40)
    ok(submit(client, world["citizen"], key="recent"), 201)
    frozen_clock.advance(minutes=30)  # "old" is 70 minutes old

    result = app.test_cli_runner().invoke(
        args=["onestop", "scheduler", "run-job", "purge_idempotency_records"]
    )
    assert result.exit_code == 0, result.output
    assert "done" in result.output
    assert session.scalar(select(func.count()).select_from(IdempotencyRecord)) == 1
    # The purged key is free again: a retry after the retention is a new request.
    renewed = submit(client, world["citizen"], key="old")
    assert renewed.status_code == 201 and "Idempotent-Replayed" not in renewed.headers

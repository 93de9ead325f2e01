"""The ledger replays to the row: the services and ``dossiers.ledger.replay`` agree."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from onestop.dossiers import ledger
from tests.dossiers.helpers import act, ok, submit, supply


def vn(y, m, d, hh, mm=0):
    return datetime(y, m, d, hh - 7, mm, tzinfo=UTC)


def test_dossiers_moved_through_the_api_replay_to_their_columns(world, frozen_clock, session):
    c = world.client
    frozen_clock.set(vn(2026, 3, 5, 9))
    a = ok(submit(c, world["citizen"]), 201)["id"]
    b = ok(submit(c, world["citizen"]), 201)["id"]
    refused = ok(submit(c, world["citizen"]), 201)["id"]
    ok(act(c, world["clerk_a"], refused, "refuse", {"reason": "Không thuộc thẩm quyền"}))
    for d in (a, b):
        ok(act(c, world["clerk_a"], d, "receive"))
    assignee = world.users["clerk_a2"].username
    ok(act(c, world["clerk_a"], a, "assign", {"assignee": assignee}))
    ok(
        act(
            c, world["clerk_a"], a, "forward", {"to_unit": "000.31.01.H56", "step_code": "xac_minh"}
        )
    )
    ok(act(c, world["clerk_a2"], a, "accept_handover"))
    ok(act(c, world["clerk_a2"], a, "assign", {"assignee": assignee}))
    frozen_clock.set(vn(2026, 3, 6, 10))
    ok(act(c, world["clerk_a2"], a, "request_supplement", {"missing": ["Ảnh chân dung"]}))
    frozen_clock.set(vn(2026, 3, 10, 15))
    ok(supply(c, world["citizen"], a))
    frozen_clock.set(vn(2026, 3, 11, 9))
    due = ok(c.get(f"/api/v1/dossiers/{a}", headers=world["clerk_a"]))["legal_due_at"]
    new_due = (datetime.fromisoformat(due) + timedelta(days=5)).isoformat()
    ok(act(c, world["clerk_a2"], a, "apologize", {"reason": "Cần xác minh", "new_due_at": new_due}))
    ok(act(c, world["manager_a"], a, "reassign", {"assignee": world.users["clerk_a"].username}))
    ok(act(c, world["clerk_a"], a, "release"))
    ok(act(c, world["clerk_a"], a, "resolve", {"result": "Đã cấp giấy xác nhận"}))
    ok(act(c, world["clerk_a"], a, "return_result"))
    ok(act(c, world["clerk_a"], b, "deny", {"reason": "Không đủ điều kiện"}))
    assert ledger.check(session, [a, b, refused]) == []

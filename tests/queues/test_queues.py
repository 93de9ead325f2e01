"""Clerk work queues through the HTTP API: tabs, scope, working-time rows, keyset pages,
take-next, release, reassignment, and the transitions they leave in the ledger."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from onestop.core.audit import AuditEvent
from onestop.dossiers.models import DossierEvent
from tests.dossiers.helpers import act, ok, submit
from tests.factories import AGENCY_A


def vn(y, m, d, hh, mm=0):
    return datetime(y, m, d, hh - 7, mm, tzinfo=UTC)


def tabs(world, who, **query):
    body = ok(world.client.get("/api/v1/queues", headers=world[who], query_string=query))
    return {t["view"]: t["count"] for t in body["tabs"]}


def page(world, who, view, **query):
    return ok(world.client.get(f"/api/v1/queues/{view}", headers=world[who], query_string=query))


def received(world, n=1, who="clerk_a", **kw):
    ids = []
    for _ in range(n):
        d = ok(submit(world.client, world["citizen"], **kw), 201)
        ok(act(world.client, world[who], d["id"], "receive"))
        ids.append(d["id"])
    return ids


def test_a_dossier_moves_through_the_tabs_of_its_unit(world, frozen_clock):
    frozen_clock.set(vn(2026, 3, 5, 9))
    d = ok(submit(world.client, world["citizen"]), 201)
    assert tabs(world, "clerk_a")["reception"] == 1
    assert page(world, "clerk_a", "reception")["items"][0]["id"] == d["id"]
    # Another commune's clerk sees nothing of it, in any tab.
    assert set(tabs(world, "clerk_b").values()) == {0}
    assert page(world, "clerk_b", "reception")["items"] == []

    ok(act(world.client, world["clerk_a"], d["id"], "receive"))
    t = tabs(world, "clerk_a")
    assert t["reception"] == 0 and t["unassigned"] == 1 and t["mine"] == 0

    frozen_clock.set(vn(2026, 3, 5, 10))
    row = ok(world.client.post("/api/v1/queues/take-next", json={}, headers=world["clerk_a"]))
    assert row["id"] == d["id"] and row["assigned_to"] == world.users["clerk_a"].username
    # Due Tuesday 10/03 17:00: Thursday 10:00 leaves 5 h 30 today (lunch 11:30–13:00 is not
    # working time) + Friday + Monday + Tuesday.
    assert row["time_left_text"] == "còn 3 ngày 5 giờ làm việc"
    assert row["time_left_working_seconds"] == 3 * 8 * 3600 + 5 * 3600 + 1800
    assert row["step"]["code"] == "tiep_nhan" and row["step"]["budget"]
    t = tabs(world, "clerk_a")
    assert t["unassigned"] == 0 and t["mine"] == 1
    assert tabs(world, "clerk_a2")["mine"] == 0

    # Tuesday 08:00: 7 h 30 of the 24 working hours left (31 %), not yet due soon; Tuesday
    # 14:00: three hours left (12.5 % < 20 %) → due soon.
    frozen_clock.set(vn(2026, 3, 10, 8))
    mine = page(world, "clerk_a", "mine")["items"][0]
    assert mine["time_left_text"] == "còn 7 giờ làm việc" and not mine["due_soon"]
    assert tabs(world, "clerk_a")["due_soon"] == 0
    frozen_clock.set(vn(2026, 3, 10, 14))
    mine = page(world, "clerk_a", "mine")["items"][0]
    assert mine["time_left_text"] == "còn 3 giờ làm việc" and mine["due_soon"]
    assert tabs(world, "clerk_a")["due_soon"] == 1
    assert page(world, "clerk_a", "due_soon")["items"][0]["id"] == d["id"]

    # Two working days later (Thursday 17:00) it is two working days late.
    frozen_clock.set(vn(2026, 3, 12, 17))
    t = tabs(world, "clerk_a")
    assert t["overdue"] == 1 and t["due_soon"] == 0
    late = page(world, "clerk_a", "overdue")["items"][0]
    assert late["time_left_text"] == "quá hạn 2 ngày làm việc" and late["overdue"]

    # Resolved: waiting to be returned at the desk that received it.
    ok(act(world.client, world["clerk_a"], d["id"], "resolve", {"result": "Đã cấp giấy"}))
    t = tabs(world, "clerk_a")
    assert t["to_return"] == 1 and t["overdue"] == 0 and t["mine"] == 0


def test_handed_over_dossiers_wait_for_acceptance_then_join_the_unit_queue(world, frozen_clock):
    frozen_clock.set(vn(2026, 3, 5, 9))
    [dossier_id] = received(world)
    ok(
        act(
            world.client,
            world["clerk_a"],
            dossier_id,
            "forward",
            {"to_unit": "000.31.01.H56", "step_code": "xac_minh"},
        )
    )
    t = tabs(world, "clerk_a2", unit="000.31.01.H56")
    assert t["incoming"] == 1 and t["unassigned"] == 0
    row = page(world, "clerk_a2", "incoming")["items"][0]
    assert row["current_unit_code"] == "000.31.01.H56" and row["step"]["code"] == "xac_minh"
    ok(act(world.client, world["clerk_a2"], dossier_id, "accept_handover"))
    t = tabs(world, "clerk_a2", unit="000.31.01.H56")
    assert t["incoming"] == 0 and t["unassigned"] == 1
    # The commune itself (the unit above) no longer has it unassigned at its own desk.
    assert tabs(world, "clerk_a", unit=AGENCY_A)["unassigned"] == 0


def test_waiting_for_the_citizen_shows_the_frozen_time_left(world, frozen_clock):
    frozen_clock.set(vn(2026, 3, 5, 9))
    [dossier_id] = received(world)
    ok(act(world.client, world["clerk_a"], dossier_id, "request_supplement", {"missing": ["Ảnh"]}))
    # Two weeks later the clock still stands at Thursday 09:00: 6 h 30 that day + 3 days.
    frozen_clock.set(vn(2026, 3, 20, 9))
    t = tabs(world, "clerk_a")
    assert t["waiting_citizen"] == 1 and t["overdue"] == 0
    row = page(world, "clerk_a", "waiting_citizen")["items"][0]
    assert row["paused"] and row["time_left_text"] == "còn 3 ngày 6 giờ làm việc (đang tạm dừng)"


def test_keyset_pages_are_complete_and_stable_while_dossiers_arrive(world, frozen_clock):
    frozen_clock.set(vn(2026, 3, 5, 8))
    first = received(world, 5)
    seen, after = [], None
    for _ in range(5):
        query = {"limit": 2, **({"after": after} if after else {})}
        body = page(world, "clerk_a", "unassigned", **query)
        seen += [r["id"] for r in body["items"]]
        if len(seen) == 2:
            # A dossier received now is due later: it lands after the pages already read.
            frozen_clock.set(vn(2026, 3, 5, 9))
            later = received(world, 1)
        after = body["next"]
        if after is None:
            break
    assert seen == first + later
    by_code = page(world, "clerk_a", "unassigned", sort="code")["items"]
    codes = [r["code"] for r in by_code]
    assert codes == sorted(codes) and len(codes) == 6


def test_filters_narrow_the_pages_and_the_counts_alike(world, frozen_clock):
    frozen_clock.set(vn(2026, 3, 5, 9))
    received(world, 2)
    d = ok(submit(world.client, world["clerk_a"], channel="in_person"), 201)
    ok(act(world.client, world["clerk_a"], d["id"], "receive"))
    assert tabs(world, "clerk_a", channel="in_person")["unassigned"] == 1
    assert len(page(world, "clerk_a", "unassigned", channel="online")["items"]) == 2
    assert tabs(world, "clerk_a", q="anh tuyet")["unassigned"] == 3  # no diacritics
    assert tabs(world, "clerk_a", q="nobody here")["unassigned"] == 0
    assert tabs(world, "clerk_a", q=d["code"] if d.get("code") else AGENCY_A)["unassigned"] >= 1
    assert tabs(world, "clerk_a", procedure="1.000000")["unassigned"] == 0
    assert tabs(world, "clerk_a", received_from="2026-03-06")["unassigned"] == 0
    assert tabs(world, "clerk_a", assignee="nobody")["mine"] == 0


def test_release_reassign_and_bulk_reassignment_are_ledger_transitions(
    world, frozen_clock, session
):
    frozen_clock.set(vn(2026, 3, 5, 9))
    ids = received(world, 3)
    clerk, other = world.users["clerk_a"].username, world.users["clerk_a2"].username
    for _ in ids:
        ok(world.client.post("/api/v1/queues/take-next", json={}, headers=world["clerk_a"]))
    assert tabs(world, "clerk_a")["mine"] == 3

    # A clerk gives one back; another clerk cannot release someone else's.
    ok(act(world.client, world["clerk_a"], ids[0], "release", {"reason": "Nghỉ phép"}))
    assert act(world.client, world["clerk_a2"], ids[1], "release").status_code == 403
    # A clerk may not reassign; the manager may.
    assert (
        act(world.client, world["clerk_a"], ids[1], "reassign", {"assignee": other}).status_code
        == 403
    )
    ok(act(world.client, world["manager_a"], ids[1], "reassign", {"assignee": other}))
    assert tabs(world, "clerk_a")["mine"] == 1 and tabs(world, "clerk_a2")["mine"] == 1

    # The clerk is absent: everything they hold moves to the other clerk in one call.
    resp = world.client.post(
        "/api/v1/queues/reassign",
        json={"from_user": clerk, "to_user": other, "reason": "Cán bộ nghỉ ốm"},
        headers=world["manager_a"],
    )
    assert ok(resp)["moved"] == 1 and ok(resp)["dossier_ids"] == [ids[2]]
    assert tabs(world, "clerk_a")["mine"] == 0 and tabs(world, "clerk_a2")["mine"] == 2
    # Back to the unit's queue when no one is named.
    back = ok(
        world.client.post(
            "/api/v1/queues/reassign", json={"from_user": other}, headers=world["manager_a"]
        )
    )
    assert back["moved"] == 2 and tabs(world, "clerk_a")["unassigned"] == 3

    actions = session.scalars(
        select(DossierEvent.action)
        .where(DossierEvent.dossier_id == ids[2], DossierEvent.kind == "transition")
        .order_by(DossierEvent.seq)
    ).all()
    assert actions == ["submit", "receive", "assign", "reassign", "release"]
    audited = session.scalars(
        select(AuditEvent.action).where(AuditEvent.stream == f"dossier:{ids[2]}")
    ).all()
    assert {"dossier.assign", "dossier.reassign", "dossier.release"} <= set(audited)


def test_take_next_on_an_empty_queue_and_bad_requests_are_clear_4xx(world, frozen_clock):
    frozen_clock.set(vn(2026, 3, 5, 9))
    empty = world.client.post("/api/v1/queues/take-next", json={}, headers=world["clerk_a"])
    assert empty.status_code == 404 and empty.json["type"] == "queue.empty"
    unknown = world.client.get("/api/v1/queues/everything", headers=world["clerk_a"])
    assert unknown.status_code == 404 and unknown.json["type"] == "queue.unknown_view"
    bad = world.client.get(
        "/api/v1/queues/mine", query_string={"after": "bm90IGEgY3Vyc29y"}, headers=world["clerk_a"]
    )
    assert bad.status_code == 422 and bad.json["type"] == "queue.bad_cursor"
    received(world, 3)
    cursor = page(world, "clerk_a", "unassigned", limit=1)["next"]
    other_view = world.client.get(
        "/api/v1/queues/mine", query_string={"after": cursor}, headers=world["clerk_a"]
    )
    assert other_view.status_code == 422
    assert (
        world.client.get(
            "/api/v1/queues", query_string={"unit": "000.99.99.H56"}, headers=world["clerk_a"]
        ).status_code
        == 422
    )
    assert (
        world.client.get(
            "/api/v1/queues", query_string={"colour": "red"}, headers=world["clerk_a"]
        ).status_code
        == 422
    )
    assert world.client.get("/api/v1/queues", headers=world["citizen"]).status_code == 403
    assert world.client.get("/api/v1/queues", headers=world["admin"]).status_code == 403
    assert (
        world.client.post(
            "/api/v1/queues/reassign", json={"from_user": "x"}, headers=world["clerk_a"]
        ).status_code
        == 403
    )


def test_managers_see_initials_and_counts_are_capped(world, frozen_clock, monkeypatch):
    from onestop.queues import queries

    frozen_clock.set(vn(2026, 3, 5, 9))
    received(world, 3)
    row = page(world, "manager_a", "unassigned")["items"][0]
    assert row["applicant_name"] == "Nguyễn T. Á. T."
    assert page(world, "clerk_a", "unassigned")["items"][0]["applicant_name"] == (
        "Nguyễn Thị Ánh Tuyết"
    )
    monkeypatch.setattr(queries, "COUNT_CAP", 2)
    import onestop.queues.api as api

    monkeypatch.setattr(api, "COUNT_CAP", 2)
    body = ok(world.client.get("/api/v1/queues", headers=world["clerk_a"]))
    tab = next(t for t in body["tabs"] if t["view"] == "unassigned")
    assert tab["capped"] and tab["count_text"] == "> 1"

"""Who may act where: a unit that handed a dossier on no longer acts on it (docs/dossiers.md).

Found by trying it: after the commune desk forwarded a dossier to another unit (and even after
that unit forwarded it again without accepting), the desk's clerk and leader still got 200 on
request-payment, confirm-payment, resolve and return-result.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from onestop.dossiers import services
from tests.dossiers.helpers import act, ok, submit
from tests.factories import AGENCY_A, AGENCY_B

# A third unit, not below either commune.
AGENCY_C = "000.13.01.H56"  # Phòng Hành chính tư pháp, Sở Tư pháp


def vn(y: int, m: int, d: int, hh: int, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=UTC) - timedelta(hours=7)


def refused(resp, status: int, type_: str) -> None:
    assert resp.status_code == status, (resp.status_code, resp.json)
    assert resp.json["type"] == type_


@pytest.fixture
def forwarded(world, frozen_clock) -> dict:
    """Received by commune A's desk, then forwarded to commune B (not yet accepted)."""
    frozen_clock.set(vn(2026, 3, 5, 9))
    c = world.client
    d = ok(submit(c, world["citizen"]), 201)
    ok(act(c, world["clerk_a"], d["id"], "receive"))
    d = ok(act(c, world["clerk_a"], d["id"], "forward", {"to_unit": AGENCY_B}))
    assert d["current_unit_code"] == AGENCY_B
    return d


@pytest.mark.parametrize("who", ["clerk_a", "manager_a"])
@pytest.mark.parametrize(
    ("action", "body"),
    [
        ("request_payment", {"reason": "Nộp lệ phí"}),
        ("resolve", {"result": "Cấp giấy xác nhận"}),
        ("request_supplement", {"missing": ["Bản sao giấy khai sinh"]}),
        ("forward", {"to_unit": AGENCY_C}),
        ("deny", {"reason": "Không đủ điều kiện"}),
        ("assign", {}),
    ],
)
def test_the_desk_that_handed_a_dossier_on_can_no_longer_act_on_it(
    world, forwarded, who: str, action: str, body: dict
) -> None:
    if action == "assign":
        body = {"assignee": world.users["clerk_a2"].username}
    resp = act(world.client, world[who], forwarded["id"], action, body)
    refused(resp, 403, "dossier.not_holder")
    again = ok(world.client.get(f"/api/v1/dossiers/{forwarded['id']}", headers=world[who]))
    assert again["version"] == forwarded["version"]  # still visible to the desk, unchanged


def test_the_receiving_unit_accepts_first_then_holds_it_and_the_desk_returns_the_result(
    world, forwarded
) -> None:
    c, i = world.client, forwarded["id"]
    # On its way to B: B must accept before anything else, and cannot pass it on unaccepted.
    refused(act(c, world["clerk_b"], i, "request_payment"), 409, "dossier.handover_pending")
    refused(
        act(c, world["clerk_b"], i, "forward", {"to_unit": AGENCY_C}),
        409,
        "dossier.handover_pending",
    )
    # Only the unit it is on its way to accepts it.
    refused(act(c, world["clerk_a"], i, "accept_handover"), 403, "dossier.not_holder")
    ok(act(c, world["clerk_b"], i, "accept_handover"))
    refused(act(c, world["clerk_b"], i, "accept_handover"), 409, "dossier.no_handover")

    ok(act(c, world["clerk_b"], i, "request_payment", {"reason": "Nộp lệ phí"}))
    for who in ("clerk_a", "manager_a"):
        refused(act(c, world[who], i, "confirm_payment"), 403, "dossier.not_holder")
    ok(act(c, world["clerk_b"], i, "confirm_payment"))
    for who in ("clerk_a", "manager_a"):
        refused(act(c, world[who], i, "resolve", {"result": "Cấp giấy"}), 403, "dossier.not_holder")
    ok(act(c, world["clerk_b"], i, "resolve", {"result": "Cấp giấy xác nhận"}))
    # The result goes back to the applicant through the desk that received the dossier.
    refused(act(c, world["clerk_b"], i, "return_result"), 403, "dossier.not_desk")
    d = ok(act(c, world["clerk_a"], i, "return_result", {"method": "desk"}))
    assert d["state"] == "returned"


def test_a_unit_that_passed_a_dossier_on_unaccepted_cannot_act_and_neither_can_the_desk(
    world, forwarded
) -> None:
    c, i = world.client, forwarded["id"]
    ok(act(c, world["clerk_b"], i, "accept_handover"))
    ok(act(c, world["clerk_b"], i, "forward", {"to_unit": AGENCY_C}))
    # A (the desk, which still sees it) and B (which no longer sees it) cannot act on it.
    for who, status, type_ in [
        ("clerk_a", 403, "dossier.not_holder"),
        ("manager_a", 403, "dossier.not_holder"),
        ("clerk_b", 404, "dossier.not_found"),
    ]:
        refused(act(c, world[who], i, "request_payment"), status, type_)
        refused(act(c, world[who], i, "resolve", {"result": "Cấp giấy"}), status, type_)


def test_the_update_itself_refuses_a_unit_the_dossier_has_left(world, forwarded, monkeypatch):
    """With the check before the handler out of the way (as when the dossier moves between that
    check and the write), the conditional UPDATE alone still refuses: nothing is written."""
    monkeypatch.setattr(services, "check_place", lambda *a, **k: None)
    c, i = world.client, forwarded["id"]
    resp = act(c, world["clerk_a"], i, "request_payment", {"reason": "Nộp lệ phí"})
    refused(resp, 409, "dossier.concurrent_change")
    resp = act(c, world["clerk_b"], i, "resolve", {"result": "Cấp giấy xác nhận"})
    refused(resp, 409, "dossier.concurrent_change")  # pending: B has not accepted it yet
    after = ok(c.get(f"/api/v1/dossiers/{i}", headers=world["clerk_a"]))
    assert (after["state"], after["version"]) == (forwarded["state"], forwarded["version"])


def test_at_the_desk_before_any_handover_the_desk_does_everything(world, frozen_clock) -> None:
    frozen_clock.set(vn(2026, 3, 5, 9))
    c = world.client
    d = ok(submit(c, world["citizen"]), 201)
    refused(act(c, world["clerk_b"], d["id"], "receive"), 404, "dossier.not_found")
    ok(act(c, world["clerk_a"], d["id"], "receive"))
    ok(act(c, world["manager_a"], d["id"], "resolve", {"result": "Cấp giấy xác nhận"}))
    ok(act(c, world["clerk_a"], d["id"], "return_result"))


def test_agency_codes_used_here_exist(world) -> None:
    for code in (AGENCY_A, AGENCY_B, AGENCY_C):
        assert world.client.get(f"/api/v1/agencies/{code}").status_code == 200

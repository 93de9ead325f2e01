"""The clock resumes on evidence, not on the citizen's word (docs/dossiers.md).

Found by trying it: a citizen could confirm their own payment and could "supply" without
uploading anything, and either restarted the processing clock. Payment is confirmed by the desk
holding the dossier (later also by the payment provider's verified notification); a supplement
needs a file uploaded since the request, or a clerk's explicit override kept in the ledger.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from onestop.core.audit import AuditEvent
from onestop.dossiers.models import DossierEvent
from tests.dossiers.helpers import act, ok, submit
from tests.dossiers.test_attachments import SLOT, make_pdf, put


def vn(y: int, m: int, d: int, hh: int, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=UTC) - timedelta(hours=7)


def received(world, frozen_clock) -> dict:
    frozen_clock.set(vn(2026, 3, 5, 9))
    d = ok(submit(world.client, world["citizen"]), 201)
    return ok(act(world.client, world["clerk_a"], d["id"], "receive"))


def state_of(world, dossier_id: int) -> tuple[str, int, bool]:
    d = ok(world.client.get(f"/api/v1/dossiers/{dossier_id}", headers=world["clerk_a"]))
    return d["state"], d["version"], d["paused"]


def test_a_citizen_cannot_confirm_their_own_payment(world, frozen_clock, session) -> None:
    d = received(world, frozen_clock)
    c = world.client
    ok(act(c, world["clerk_a"], d["id"], "request_payment", {"reason": "Nộp lệ phí"}))
    before = state_of(world, d["id"])
    resp = act(c, world["citizen"], d["id"], "confirm_payment")
    assert resp.status_code == 403 and resp.json["type"] == "auth.forbidden"
    assert state_of(world, d["id"]) == before

    # The desk confirms, with the receipt number of the payment kept in the ledger.
    frozen_clock.advance(hours=2)
    done = ok(act(c, world["clerk_a"], d["id"], "confirm_payment", {"reference": "BL-0012345"}))
    assert done["state"] == "processing"
    event = session.scalar(
        select(DossierEvent)
        .where(DossierEvent.dossier_id == d["id"], DossierEvent.action == "confirm_payment")
        .order_by(DossierEvent.seq.desc())
    )
    assert event.data == {"reference": "BL-0012345"}


def _supplement_requested(world, frozen_clock) -> dict:
    d = received(world, frozen_clock)
    frozen_clock.advance(hours=1)
    missing = {"missing": ["Bản sao Giấy chứng nhận ly hôn"]}
    d = ok(act(world.client, world["clerk_a"], d["id"], "request_supplement", missing))
    assert d["paused"] is True
    frozen_clock.advance(hours=3)
    return d


def test_supplying_without_uploading_anything_is_refused_and_the_clock_stays_paused(
    world, frozen_clock
) -> None:
    d = _supplement_requested(world, frozen_clock)
    c = world.client
    before = state_of(world, d["id"])
    for who in ("citizen", "clerk_a"):
        resp = act(c, world[who], d["id"], "supply", {"note": "Đã bổ sung"})
        assert resp.status_code == 422, (who, resp.json)
        assert resp.json["type"] == "dossier.supplement_not_uploaded"
    assert state_of(world, d["id"]) == before  # still supplement_requested, still paused

    # With the missing paper uploaded, the citizen's supply resumes the clock.
    assert put(world, "citizen", d["id"], SLOT, make_pdf("Bản sao ly hôn")).status_code == 201
    done = ok(act(c, world["citizen"], d["id"], "supply", {"note": "Đã tải lên"}))
    assert (done["state"], done["paused"]) == ("processing", False)


def test_a_file_uploaded_before_the_request_does_not_count(world, frozen_clock) -> None:
    frozen_clock.set(vn(2026, 3, 5, 9))
    c = world.client
    d = ok(submit(c, world["citizen"]), 201)
    assert put(world, "citizen", d["id"], SLOT, make_pdf()).status_code == 201
    ok(act(c, world["clerk_a"], d["id"], "receive"))
    frozen_clock.advance(hours=1)
    ok(act(c, world["clerk_a"], d["id"], "request_supplement", {"missing": ["Tờ khai có ký"]}))
    frozen_clock.advance(hours=1)
    resp = act(c, world["citizen"], d["id"], "supply")
    assert resp.status_code == 422 and resp.json["type"] == "dossier.supplement_not_uploaded"


def test_a_clerk_override_is_explicit_and_recorded(world, frozen_clock, session) -> None:
    d = _supplement_requested(world, frozen_clock)
    c = world.client
    reason = "Công dân nộp bản giấy tại bộ phận một cửa"
    resp = act(c, world["citizen"], d["id"], "supply", {"override_reason": reason})
    assert resp.status_code == 403 and resp.json["type"] == "dossier.supply_override"

    done = ok(act(c, world["clerk_a"], d["id"], "supply", {"override_reason": reason}))
    assert (done["state"], done["paused"]) == ("processing", False)
    kinds = session.execute(
        select(DossierEvent.kind, DossierEvent.data)
        .where(DossierEvent.dossier_id == d["id"], DossierEvent.action == "supply")
        .order_by(DossierEvent.seq)
    ).all()
    assert ("supply_override", {"reason": reason}) in [(k, v) for k, v in kinds]
    audit = session.scalar(
        select(AuditEvent).where(
            AuditEvent.stream == f"dossier:{d['id']}", AuditEvent.action == "dossier.supply"
        )
    )
    assert audit.reason == reason

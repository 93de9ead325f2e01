"""The dossier lifecycle through the HTTP API, as a citizen, a clerk and a manager use it."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select

from onestop.core.audit import AuditEvent, verify
from onestop.dossiers.models import Dossier, DossierEvent
from tests.dossiers.helpers import MARRIAGE_STATUS, act, ok, submit, supply
from tests.factories import AGENCY_A


def vn(y, m, d, hh, mm=0):
    """An instant given in Vietnam time (UTC+7)."""
    return datetime(y, m, d, hh - 7, mm, tzinfo=UTC) if hh >= 7 else None


def test_end_to_end_submit_receive_forward_supplement_resolve_return(world, frozen_clock, session):
    c = world.client
    # Thursday 05/03/2026 09:00: the citizen submits online.
    frozen_clock.set(vn(2026, 3, 5, 9))
    d = ok(submit(c, world["citizen"]), 201)
    assert d["state"] == "submitted" and d["state_code"] == 1 and d["code"] is None
    assert d["applicant"]["id_number"] == "*********234"

    # The clerk of the commune receives it: code, clock, promised date.
    d = ok(act(c, world["clerk_a"], d["id"], "receive"))
    assert d["state"] == "received" and d["state_code"] == 2
    assert d["code"] == f"{AGENCY_A}-260305-0001"
    assert d["processing_time"] == "3 ngày làm việc"
    # Receipt day not counted: Fri 06, Mon 09, Tue 10 → due Tuesday 17:00.
    assert d["promised_due_at"] == "2026-03-10T10:00:00+00:00"
    assert d["legal_due_at"] == d["promised_due_at"]
    assert d["current_step"] == "tiep_nhan"

    # Forwarded to the desk unit for verification; the unit accepts the handover.
    d = ok(
        act(
            c,
            world["clerk_a"],
            d["id"],
            "forward",
            {"to_unit": "000.31.01.H56", "step_code": "xac_minh", "result": "Hồ sơ đủ"},
        )
    )
    assert d["state"] == "processing" and d["current_unit_code"] == "000.31.01.H56"
    frozen_clock.set(vn(2026, 3, 5, 10))
    ok(act(c, world["clerk_a2"], d["id"], "accept_handover"))
    slip = ok(c.get(f"/api/v1/dossiers/{d['id']}/handovers", headers=world["clerk_a"]))
    assert slip[0]["to_unit"] == "000.31.01.H56" and slip[0]["accepted_at"] is not None
    assert slip[0]["step_name"] == "Kiểm tra, xác minh tình trạng hôn nhân"

    # Friday 10:00 a supplement is requested: the clock pauses.
    frozen_clock.set(vn(2026, 3, 6, 10))
    d = ok(
        act(
            c,
            world["clerk_a"],
            d["id"],
            "request_supplement",
            {"missing": ["Bản sao Giấy chứng nhận ly hôn"]},
        )
    )
    assert d["state"] == "supplement_requested" and d["paused"] is True

    # Monday 10:00 the citizen supplies: 5.5 h on Friday + 2.5 h on Monday = one working day.
    frozen_clock.set(vn(2026, 3, 9, 10))
    d = ok(supply(c, world["citizen"], d["id"], {"note": "Đã bổ sung"}))
    assert d["state"] == "processing" and d["paused"] is False
    assert d["paused_working_seconds"] == 8 * 3600
    assert d["legal_due_at"] == "2026-03-11T10:00:00+00:00"  # Wednesday 17:00
    assert d["promised_due_at"] == "2026-03-10T10:00:00+00:00"  # the receipt never changes

    # Resolved Wednesday 15:00 (on the due day, before the due time), then returned.
    frozen_clock.set(vn(2026, 3, 11, 15))
    d = ok(
        act(
            c,
            world["manager_a"],
            d["id"],
            "resolve",
            {"result": "Cấp Giấy xác nhận tình trạng hôn nhân"},
        )
    )
    assert d["state"] == "resolved" and d["verdict"]["verdict"] == "on_time"
    d = ok(act(c, world["clerk_a"], d["id"], "return_result", {"method": "desk"}))
    assert d["state"] == "returned" and d["state_code"] == 10

    # Timeline in Vietnamese for the citizen.
    tl = ok(c.get(f"/api/v1/dossiers/{d['id']}/timeline", headers=world["citizen"]))
    labels = [e["label"] for e in tl["entries"]]
    assert labels == [
        "Nộp hồ sơ",
        "Tiếp nhận hồ sơ",
        "Chuyển xử lý",
        "Nhận hồ sơ để xử lý",
        "Yêu cầu bổ sung hồ sơ",
        "Bổ sung hồ sơ",
        "Đã có kết quả giải quyết",
        "Đã trả kết quả",
    ]
    assert tl["entries"][1]["at_text"] == "09 giờ 00 phút, ngày 05 tháng 3 năm 2026"
    assert "Bản sao Giấy chứng nhận ly hôn" in tl["entries"][4]["detail"]

    # Version rose by one per accepted transition; the audit chain verifies.
    row = session.get(Dossier, d["id"])
    transitions = session.scalar(
        select(func.count())
        .select_from(DossierEvent)
        .where(DossierEvent.dossier_id == row.id, DossierEvent.kind == "transition")
    )
    assert row.version == transitions == 8
    changes = session.scalar(
        select(func.count())
        .select_from(AuditEvent)
        .where(
            AuditEvent.stream == f"dossier:{row.id}",
            AuditEvent.action.not_in(("dossier.viewed", "dossier.file_uploaded")),
        )
    )
    assert changes == 8  # one per transition; the supplement's upload is audited on its own
    assert list(verify(session)) == []


def test_codes_run_per_agency_and_day(world, frozen_clock):
    c = world.client
    frozen_clock.set(vn(2026, 3, 5, 9))
    codes = []
    for _ in range(3):
        d = ok(submit(c, world["citizen"]), 201)
        codes.append(ok(act(c, world["clerk_a"], d["id"], "receive"))["code"])
    frozen_clock.set(vn(2026, 3, 6, 8))
    d = ok(submit(c, world["citizen"]), 201)
    codes.append(ok(act(c, world["clerk_a"], d["id"], "receive"))["code"])
    assert codes == [
        f"{AGENCY_A}-260305-0001",
        f"{AGENCY_A}-260305-0002",
        f"{AGENCY_A}-260305-0003",
        f"{AGENCY_A}-260306-0001",
    ]


def test_transition_needs_if_match_and_refuses_stale_or_moved_on(world, frozen_clock):
    c = world.client
    frozen_clock.set(vn(2026, 3, 5, 9))
    d = ok(submit(c, world["citizen"]), 201)
    url = f"/api/v1/dossiers/{d['id']}/receive"
    missing = c.post(url, json={}, headers=world["clerk_a"])
    assert missing.status_code == 428 and missing.json["type"] == "dossier.if_match_required"
    fresh = c.get(f"/api/v1/dossiers/{d['id']}", headers=world["clerk_a"]).headers["ETag"]
    ok(c.post(url, json={}, headers={**world["clerk_a"], "If-Match": fresh}))
    stale = c.post(url, json={}, headers={**world["clerk_a"], "If-Match": fresh})
    assert stale.status_code == 412 and stale.json["type"] == "dossier.stale"
    current = c.get(f"/api/v1/dossiers/{d['id']}", headers=world["clerk_a"]).headers["ETag"]
    moved_on = c.post(url, json={}, headers={**world["clerk_a"], "If-Match": current})
    assert moved_on.status_code == 409 and moved_on.json["type"] == "dossier.invalid_transition"
    assert "Được tiếp nhận" in moved_on.json["message"]


def test_second_supplement_refused_when_procedure_allows_one(world, frozen_clock):
    c = world.client
    frozen_clock.set(vn(2026, 3, 5, 9))
    d = ok(submit(c, world["citizen"]), 201)
    ok(act(c, world["clerk_a"], d["id"], "receive"))
    ok(act(c, world["clerk_a"], d["id"], "request_supplement", {"missing": ["Tờ khai"]}))
    ok(supply(c, world["citizen"], d["id"]))
    again = act(c, world["clerk_a"], d["id"], "request_supplement", {"missing": ["Ảnh"]})
    assert again.status_code == 422 and again.json["type"] == "dossier.supplement_limit"


def test_intake_incomplete_goes_back_without_a_clock_then_resubmit(world, frozen_clock):
    c = world.client
    frozen_clock.set(vn(2026, 3, 5, 9))
    d = ok(submit(c, world["citizen"]), 201)
    d = ok(
        act(
            c,
            world["clerk_a"],
            d["id"],
            "intake_incomplete",
            {"missing": ["Tờ khai chưa ký", "Thiếu bản sao CCCD"]},
        )
    )
    assert d["state"] == "supplement_requested" and d["code"] is None
    assert d["legal_due_at"] is None and d["verdict"]["verdict"] == "not_counted"
    supply = act(c, world["citizen"], d["id"], "supply")
    assert supply.status_code == 409
    d = ok(act(c, world["citizen"], d["id"], "resubmit"))
    assert d["state"] == "submitted"
    d = ok(act(c, world["clerk_a"], d["id"], "receive"))
    assert d["code"].endswith("-0001")


def test_refusal_is_terminal_and_needs_a_reason(world, frozen_clock):
    c = world.client
    frozen_clock.set(vn(2026, 3, 5, 9))
    d = ok(submit(c, world["citizen"]), 201)
    no_reason = act(c, world["clerk_a"], d["id"], "refuse", {})
    assert no_reason.status_code == 422 and "reason" in no_reason.json["errors"]["json"]
    d = ok(act(c, world["clerk_a"], d["id"], "refuse", {"reason": "Không thuộc thẩm quyền"}))
    assert d["state"] == "refused" and d["state_code"] == 3
    after = act(c, world["clerk_a"], d["id"], "receive")
    assert after.status_code == 409


def test_apology_once_and_at_least_one_working_day_before_due(world, frozen_clock):
    c = world.client
    frozen_clock.set(vn(2026, 3, 5, 9))
    d = ok(submit(c, world["citizen"]), 201)
    d = ok(act(c, world["clerk_a"], d["id"], "receive"))  # due Tue 10/03 17:00
    body = {
        "reason": "Cần xác minh thêm tại nơi cư trú trước",
        "new_due_at": "2026-03-13T17:00:00+07:00",
    }
    frozen_clock.set(vn(2026, 3, 9, 16))  # Monday 16:00: only 9 working hours left, fine
    d = ok(act(c, world["manager_a"], d["id"], "apologize", body))
    assert d["extended_due_at"] == "2026-03-13T10:00:00+00:00"
    assert d["legal_due_at"] == "2026-03-10T10:00:00+00:00"  # statistics keep the legal date
    again = act(c, world["manager_a"], d["id"], "apologize", body)
    assert again.status_code == 422 and again.json["type"] == "dossier.apology_limit"
    # Resolved after the legal date: late, with an apology.
    frozen_clock.set(vn(2026, 3, 12, 9))
    d = ok(act(c, world["clerk_a"], d["id"], "resolve", {"result": "Đã cấp giấy xác nhận"}))
    assert d["verdict"]["verdict"] == "late_with_apology"


def test_apology_too_close_to_the_due_date_is_refused(world, frozen_clock):
    c = world.client
    frozen_clock.set(vn(2026, 3, 5, 9))
    d = ok(submit(c, world["citizen"]), 201)
    ok(act(c, world["clerk_a"], d["id"], "receive"))
    frozen_clock.set(vn(2026, 3, 10, 9))  # due today at 17:00
    late = act(
        c,
        world["manager_a"],
        d["id"],
        "apologize",
        {"reason": "Chậm xác minh", "new_due_at": "2026-03-13T17:00:00+07:00"},
    )
    assert late.status_code == 422 and late.json["type"] == "dossier.apology_too_late"


def test_withdrawal_and_deny_stop_the_dossier(world, frozen_clock):
    c = world.client
    frozen_clock.set(vn(2026, 3, 5, 9))
    d = ok(submit(c, world["citizen"]), 201)
    ok(act(c, world["clerk_a"], d["id"], "receive"))
    d = ok(act(c, world["citizen"], d["id"], "request_withdrawal", {"reason": "Không còn nhu cầu"}))
    assert d["state"] == "withdrawal_requested" and d["state_code"] == 7
    d = ok(act(c, world["clerk_a"], d["id"], "accept_withdrawal"))
    assert d["state"] == "stopped" and d["finished_at"] is not None

    d2 = ok(submit(c, world["citizen"]), 201)
    ok(act(c, world["clerk_a"], d2["id"], "receive"))
    d2 = ok(
        act(c, world["clerk_a"], d2["id"], "deny", {"reason": "Người yêu cầu không đủ điều kiện"})
    )
    assert d2["state"] == "stopped" and d2["state_code"] == 8


def test_roles_on_edges(world, frozen_clock):
    c = world.client
    frozen_clock.set(vn(2026, 3, 5, 9))
    d = ok(submit(c, world["citizen"]), 201)
    own_receive = act(c, world["citizen"], d["id"], "receive")
    assert own_receive.status_code == 403
    ok(act(c, world["clerk_a"], d["id"], "receive"))
    clerk_withdraws = act(c, world["clerk_a"], d["id"], "request_withdrawal")
    assert clerk_withdraws.status_code == 403


def test_assignment_shows_full_cccd_only_to_the_assigned_clerk(world, frozen_clock):
    c = world.client
    frozen_clock.set(vn(2026, 3, 5, 9))
    d = ok(submit(c, world["citizen"]), 201)
    ok(act(c, world["clerk_a"], d["id"], "receive"))
    assignee = world.users["clerk_a2"].username
    d = ok(act(c, world["manager_a"], d["id"], "assign", {"assignee": assignee}))
    assert d["assigned_to"] == assignee
    mine = ok(c.get(f"/api/v1/dossiers/{d['id']}", headers=world["clerk_a2"]))
    assert mine["applicant"]["id_number"] == "038090001234"
    other = ok(c.get(f"/api/v1/dossiers/{d['id']}", headers=world["clerk_a"]))
    assert other["applicant"]["id_number"] == "*********234"
    foreign = act(
        c, world["manager_a"], d["id"], "assign", {"assignee": world.users["clerk_b"].username}
    )
    assert foreign.status_code == 422 and foreign.json["type"] == "dossier.assignee_scope"


def test_payment_pauses_only_when_the_procedure_says_so(world, frozen_clock, session):
    c = world.client
    frozen_clock.set(vn(2026, 3, 5, 9))
    d = ok(submit(c, world["citizen"]), 201)
    ok(act(c, world["clerk_a"], d["id"], "receive"))
    d = ok(act(c, world["clerk_a"], d["id"], "request_payment", {"reason": "Nộp lệ phí"}))
    assert d["state"] == "awaiting_payment" and d["paused"] is False
    frozen_clock.set(vn(2026, 3, 6, 9))
    d = ok(act(c, world["clerk_a"], d["id"], "confirm_payment"))
    assert d["legal_due_at"] == d["promised_due_at"]


def test_scope_citizens_and_other_agencies_get_404(world, frozen_clock):
    c = world.client
    frozen_clock.set(vn(2026, 3, 5, 9))
    d = ok(submit(c, world["citizen"]), 201)
    for who in ("citizen2", "clerk_b", "admin"):
        resp = c.get(f"/api/v1/dossiers/{d['id']}", headers=world[who])
        assert resp.status_code == 404, who
        assert (
            act(c, world["clerk_b"], d["id"], "receive", etag=f'"d{d["id"]}-v1"').status_code == 404
        )
    lists = {
        who: c.get("/api/v1/dossiers", headers=world[who]).json["meta"]["total"]
        for who in ("citizen", "citizen2", "clerk_a", "clerk_b", "manager_a", "admin")
    }
    assert lists == {
        "citizen": 1,
        "citizen2": 0,
        "clerk_a": 1,
        "clerk_b": 0,
        "manager_a": 1,
        "admin": 0,
    }


def test_list_search_ignores_diacritics_and_respects_scope(world, frozen_clock):
    c = world.client
    frozen_clock.set(vn(2026, 3, 5, 9))
    ok(submit(c, world["citizen"]), 201)
    found = ok(c.get("/api/v1/dossiers?q=anh tuyet", headers=world["clerk_a"]))
    assert found["meta"]["total"] == 1
    assert found["items"][0]["applicant_name"] == "Nguyễn Thị Ánh Tuyết"
    none = ok(c.get("/api/v1/dossiers?q=anh tuyet", headers=world["clerk_b"]))
    assert none["meta"]["total"] == 0


def test_citizen_cannot_submit_at_the_desk_channel_and_clerk_enters_walk_in(world, frozen_clock):
    c = world.client
    frozen_clock.set(vn(2026, 3, 5, 9))
    bad = submit(c, world["citizen"], channel="in_person")
    assert bad.status_code == 422 and bad.json["type"] == "dossier.citizen_channel"
    walk_in = ok(submit(c, world["clerk_a"], channel="in_person"), 201)
    assert walk_in["channel_code"] == 1
    wrong_agency = submit(c, world["clerk_b"], channel="in_person")
    assert wrong_agency.status_code == 403
    not_offered = submit(c, world["citizen"], procedure="2.000505")  # province-level procedure
    assert not_offered.status_code == 422
    assert not_offered.json["type"] == "dossier.procedure_not_offered"


def test_procedure_version_is_frozen_once_used(world, frozen_clock, session):
    from onestop.catalogue.models import ProcedureVersion

    c = world.client
    frozen_clock.set(vn(2026, 3, 5, 9))
    d = ok(submit(c, world["citizen"]), 201)
    ok(act(c, world["clerk_a"], d["id"], "receive"))
    row = session.get(Dossier, d["id"])
    version = session.get(ProcedureVersion, row.procedure_version_id)
    assert version.used_by_dossier is True and version.definition["code"] == MARRIAGE_STATUS

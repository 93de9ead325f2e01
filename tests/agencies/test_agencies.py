"""The agency tree: public listing, detail and creation by administrators."""

from __future__ import annotations

from sqlalchemy import select

from onestop.agencies.demo import DEMO_AGENCIES
from onestop.agencies.services import get_by_code, subtree_ids
from onestop.core.access import Role
from onestop.core.audit import AuditEvent, verify
from tests.factories import AGENCY_A, login, make_user, seed_agencies


def test_demo_province_is_listed_with_vietnamese_names(client, session):
    seed_agencies(session)
    resp = client.get("/api/v1/agencies?page_size=100")
    assert resp.status_code == 200
    assert resp.json["meta"]["total"] == len(DEMO_AGENCIES)
    names = {a["code"]: a["name"] for a in resp.json["items"]}
    assert names["000.00.00.H56"] == "Ủy ban nhân dân tỉnh Thanh Hóa"
    assert names[AGENCY_A] == "Ủy ban nhân dân phường Hạc Thành"


def test_filter_by_kind_and_parent(client, session):
    seed_agencies(session)
    communes = client.get("/api/v1/agencies?kind=commune").json["items"]
    assert {a["kind"] for a in communes} == {"commune"} and len(communes) == 4
    units = client.get(f"/api/v1/agencies?parent={AGENCY_A}").json["items"]
    assert [u["parent_code"] for u in units] == [AGENCY_A]


def test_agencies_not_yet_valid_are_hidden_by_date(client, session):
    seed_agencies(session)
    before = client.get("/api/v1/agencies?on=2025-06-30").json
    assert before["meta"]["total"] == 0


def test_detail_and_unknown_code(client, session):
    seed_agencies(session)
    ok = client.get(f"/api/v1/agencies/{AGENCY_A}")
    assert ok.status_code == 200 and ok.json["parent_code"] == "000.00.00.H56"
    missing = client.get("/api/v1/agencies/000.99.99.H56")
    assert missing.status_code == 404 and missing.json["type"] == "agency.not_found"


def test_a_commune_clerk_acts_in_the_commune_and_its_units(session):
    seed_agencies(session)
    commune = get_by_code(session, AGENCY_A)
    desk = get_by_code(session, "000.31.01.H56")
    other = get_by_code(session, "000.21.02.H56")
    scope = subtree_ids(session, [commune.id])
    assert commune.id in scope and desk.id in scope and other.id not in scope


def test_admin_creates_an_agency_and_it_is_audited(client, session):
    seed_agencies(session)
    headers = login(client, make_user(session, Role.ADMIN).username)
    body = {
        "code": "000.31.11.H56",
        "name": "Bộ phận Một cửa phường Hạc Thành",
        "kind": "unit",
        "parent_code": AGENCY_A,
        "valid_from": "2025-07-01",
    }
    resp = client.post("/api/v1/agencies", json=body, headers=headers)
    assert resp.status_code == 201, resp.json
    assert resp.json["place"] == "Thanh Hóa"  # inherited from the parent
    again = client.post("/api/v1/agencies", json=body, headers=headers)
    assert again.status_code == 409
    actions = session.scalars(
        select(AuditEvent.action).where(AuditEvent.action == "agency.created")
    ).all()
    assert len(actions) == len(DEMO_AGENCIES) + 1
    assert list(verify(session)) == []


def test_agency_input_errors_are_field_level(client, session):
    seed_agencies(session)
    headers = login(client, make_user(session, Role.ADMIN).username)
    resp = client.post(
        "/api/v1/agencies",
        json={"code": "abc", "name": "X", "kind": "planet", "valid_from": "hôm qua"},
        headers=headers,
    )
    assert resp.status_code == 422
    assert set(resp.json["errors"]["json"]) == {"code", "name", "kind", "valid_from"}
    orphan = client.post(
        "/api/v1/agencies",
        json={
            "code": "000.99.01.H56",
            "name": "Đơn vị mồ côi",
            "kind": "unit",
            "valid_from": "2025-07-01",
        },
        headers=headers,
    )
    assert orphan.status_code == 422 and orphan.json["type"] == "agency.parent_required"

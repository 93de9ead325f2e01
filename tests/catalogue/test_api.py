"""The public catalogue API: listing, filters, search without diacritics, and detail."""

from __future__ import annotations

import math
import unicodedata

import pytest

from onestop.catalogue.definitions import Level, OnlineLevel
from onestop.core.text import fold
from tests.factories import AGENCY_A, seed_agencies


def _all(client, query: str = "") -> list[dict]:
    resp = client.get(f"/api/v1/procedures?page_size=100{query}")
    assert resp.status_code == 200, resp.json
    assert resp.json["meta"]["total"] == len(resp.json["items"])
    return resp.json["items"]


def test_anonymous_caller_lists_every_procedure_in_force(client, synced, shipped):
    items = _all(client)

    assert [i["code"] for i in items] == sorted(d.code for d in shipped)
    birth = next(i for i in items if i["code"] == "1.001193")
    assert birth["name"] == "Đăng ký khai sinh"
    assert birth["version"] == 1
    assert {"channel": "in_person", "amount": 1, "unit": "same_day"} in birth["processing_times"]


def test_pages_are_capped_and_counted(client, synced, shipped):
    first = client.get("/api/v1/procedures?page_size=7").json
    last = client.get(f"/api/v1/procedures?page_size=7&page={first['meta']['pages']}").json

    assert first["meta"]["pages"] == math.ceil(len(shipped) / 7)
    assert len(first["items"]) == 7
    assert len(last["items"]) == len(shipped) - 7 * (first["meta"]["pages"] - 1)
    too_big = client.get("/api/v1/procedures?page_size=1000")
    assert too_big.status_code == 422


@pytest.mark.parametrize(
    "query",
    ["dang ky khai sinh", "ĐĂNG KÝ KHAI SINH", "đăng ký khai sinh", "Dang Ky  Khai   Sinh"],
)
def test_search_ignores_case_and_diacritics(client, synced, query):
    items = _all(client, f"&q={query}")

    assert "1.001193" in [i["code"] for i in items]
    for item in items:
        assert all(word in fold(f"{item['code']} {item['name']}") for word in fold(query).split())


def test_decomposed_query_finds_the_same_as_composed(client, synced):
    composed = _all(client, "&q=kết hôn")
    decomposed = _all(client, "&q=" + unicodedata.normalize("NFD", "kết hôn"))

    assert composed == decomposed
    assert {"1.000894", "2.000806"} <= {i["code"] for i in composed}


def test_search_by_code_and_literal_wildcards(client, synced):
    assert [i["code"] for i in _all(client, "&q=1.004873")] == ["1.004873"]
    assert _all(client, "&q=%25") == []  # "%" is a character, not "match anything"
    assert _all(client, "&q=_") == []


def test_filters_by_level_online_level_and_sector(client, synced, shipped):
    province = _all(client, "&level=province")
    full = _all(client, "&online_level=full")
    civil = _all(client, "&sector=ho tich")

    assert {i["code"] for i in province} == {d.code for d in shipped if d.level is Level.PROVINCE}
    assert {i["code"] for i in full} == {
        d.code for d in shipped if d.online_level is OnlineLevel.FULL
    }
    assert {i["code"] for i in civil} == {d.code for d in shipped if d.sector.name == "Hộ tịch"}
    both = _all(client, "&level=commune&online_level=full")
    assert {i["code"] for i in both} == {i["code"] for i in full} - {i["code"] for i in province}


def test_agency_filter_follows_who_offers_the_procedure(client, session, synced, shipped):
    seed_agencies(session)
    commune = {d.code for d in shipped if d.offered_by.all_communes}
    land_office = {d.code for d in shipped if "000.00.15.H56" in d.offered_by.agencies}

    assert {i["code"] for i in _all(client, f"&agency={AGENCY_A}")} == commune
    # The commune's own desk (a unit under the commune) offers the same procedures.
    assert {i["code"] for i in _all(client, "&agency=000.31.01.H56")} == commune
    assert {i["code"] for i in _all(client, "&agency=000.00.15.H56")} == land_office
    assert land_office and not land_office & commune
    unknown = client.get("/api/v1/procedures?agency=000.99.99.H56")
    assert unknown.status_code == 404 and unknown.json["type"] == "agency.not_found"


def test_unknown_query_parameters_are_refused(client, synced):
    resp = client.get("/api/v1/procedures?levle=province")

    assert resp.status_code == 422
    assert resp.json["type"] == "request.invalid"


def test_detail_has_documents_fees_channels_and_times(client, synced, shipped):
    resp = client.get("/api/v1/procedures/1.001193")

    assert resp.status_code == 200
    body = resp.json
    expected = next(d for d in shipped if d.code == "1.001193")
    assert body["name"] == "Đăng ký khai sinh" and body["version"] == 1
    assert body["content_hash"] == expected.content_hash
    assert [c["channel"] for c in body["channels"]] == ["in_person", "online", "postal"]
    in_person = body["channels"][0]
    assert in_person["processing_time"] == {"amount": 1, "unit": "same_day"}
    assert [f["amount"] for f in in_person["fees"]] == [f.amount for f in expected.channels[0].fees]
    slots = [d["slot"] for g in body["document_groups"] for d in g["documents"]]
    assert "giay_chung_sinh" in slots
    assert body["clock"] == {
        "max_supplement_requests": 1,
        "payment_pauses_clock": False,
        "same_day_cutoff": "15:00",
    }
    assert body["offered_by"] == {"all_communes": True, "agencies": []}
    assert "Luật Hộ tịch số 60/2014/QH13" in body["legal_basis"]


def test_unknown_procedure_is_404_in_the_error_shape(client, synced):
    resp = client.get("/api/v1/procedures/9.999999")

    assert resp.status_code == 404
    assert resp.json["type"] == "procedure.not_found"
    assert resp.json["code"] == 404


def test_a_bad_token_is_refused_even_on_the_public_catalogue(client, synced):
    resp = client.get("/api/v1/procedures", headers={"Authorization": "Bearer nope"})

    assert resp.status_code == 401

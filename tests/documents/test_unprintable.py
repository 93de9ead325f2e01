"""Text the forms' fonts cannot draw: refused at the boundary, and never a blocked document.

A receipt is a legal document printed only in the bundled fonts (docs/documents.md), so an
emoji or a CJK character in a name must be refused when it is typed, with the field and the
character named; spaces with a plain equivalent become plain spaces. Rows stored before the
rule held must not stop the register, the control slip or the receipts of other dossiers.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from marshmallow import fields
from sqlalchemy import select, update

from onestop.core.text import PLACEHOLDER, Text
from onestop.core.tx import unit_of_work
from onestop.documents.jobs import issue_missing_documents
from onestop.documents.models import IssuedDocument, IssueFailure
from onestop.dossiers.models import Dossier
from onestop.dossiers.schemas import ACTION_FIELDS, ApplicantSchema, DossierCreateSchema
from tests.dossiers.helpers import World, act, applicant, make_world, ok, submit
from tests.factories import AGENCY_A, AGENCY_B

EMOJI = "\U0001f600"  # 😀
CJK = "\u738b"  # 王
DEVANAGARI = "\u0915"  # क


def vn(y: int, m: int, d: int, hh: int, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=UTC) - timedelta(hours=7)


@pytest.fixture
def world(client, session) -> World:
    return make_world(client, session)


def field_error(resp, *path: str) -> str:
    assert resp.status_code == 422, (resp.status_code, resp.json)
    node: Any = resp.json["errors"]["json"]
    for key in path:
        node = node[key]
    return " ".join(node) if isinstance(node, list) else str(node)


# ---- at the boundary ---------------------------------------------------------------------------


@pytest.mark.parametrize("char", [EMOJI, CJK, DEVANAGARI, "\U0002d75f"])
def test_an_applicant_name_the_fonts_cannot_draw_is_refused_naming_field_and_character(
    world, char: str
) -> None:
    resp = submit(
        world.client, world["citizen"], applicant=applicant(full_name=f"Nguyễn Văn{char}")
    )
    message = field_error(resp, "applicant", "full_name")
    assert f"U+{ord(char):04X}" in message and char in message
    assert "không in được" in message


@pytest.mark.parametrize(
    ("where", "body"),
    [
        (("applicant", "address"), {"applicant": applicant(address=f"Số 12 {CJK} phố")}),
        (("delivery_address",), {"result_delivery": "post", "delivery_address": f"Thôn {EMOJI}"}),
        (("note",), {"note": f"Ghi chú {EMOJI}"}),
        (("applicant", "email"), {"applicant": applicant(email=f"{CJK}@example.vn")}),
    ],
)
def test_every_submitted_text_that_reaches_a_form_is_checked(world, where, body) -> None:
    resp = submit(world.client, world["citizen"], **body)
    assert "U+" in field_error(resp, *where)


@pytest.mark.parametrize(
    ("space", "name"),
    [("\u205f", "MEDIUM MATHEMATICAL SPACE"), ("\u3000", "IDEOGRAPHIC"), ("\u00a0", "NBSP")],
)
def test_exotic_spaces_become_plain_spaces_and_the_receipt_is_issued(
    world, frozen_clock, space: str, name: str
) -> None:
    frozen_clock.set(vn(2026, 3, 5, 9))
    full = f"Nguyễn{space}Văn{space}An"
    d = ok(submit(world.client, world["citizen"], applicant=applicant(full_name=full)), 201)
    assert d["applicant"]["full_name"] == "Nguyễn Văn An", name
    ok(act(world.client, world["clerk_a"], d["id"], "receive"))
    docs = ok(world.client.get(f"/api/v1/dossiers/{d['id']}/documents", headers=world["clerk_a"]))
    assert [doc["form_code"] for doc in docs] == ["01"]


def _received(world: World, frozen_clock) -> dict[str, Any]:
    frozen_clock.set(vn(2026, 3, 5, 9))
    d = ok(submit(world.client, world["citizen"]), 201)
    return ok(act(world.client, world["clerk_a"], d["id"], "receive"))


@pytest.mark.parametrize(
    ("action", "body", "field"),
    [
        ("request_payment", {"reason": f"Lệ phí {EMOJI}"}, "reason"),
        ("request_supplement", {"missing": [f"Bản sao {CJK}"]}, "missing"),
        ("forward", {"to_unit": AGENCY_B, "result": f"Đủ {EMOJI}"}, "result"),
        ("resolve", {"result": f"Giấy xác nhận {CJK}"}, "result"),
        ("deny", {"reason": f"Không đủ {EMOJI}"}, "reason"),
        (
            "apologize",
            {"reason": f"Chậm {EMOJI}", "new_due_at": "2026-03-20T10:00:00+07:00"},
            "reason",
        ),
    ],
)
def test_every_reason_and_result_of_a_transition_is_checked_before_it_happens(
    world, frozen_clock, action: str, body: dict[str, Any], field: str
) -> None:
    d = _received(world, frozen_clock)
    resp = act(world.client, world["clerk_a"], d["id"], action, body)
    assert "U+" in field_error(resp, field, *(["0"] if field == "missing" else []))
    after = ok(world.client.get(f"/api/v1/dossiers/{d['id']}", headers=world["clerk_a"]))
    assert (after["state"], after["version"]) == (d["state"], d["version"])


def test_a_citizens_withdrawal_reason_is_checked(world, frozen_clock) -> None:
    d = _received(world, frozen_clock)
    resp = act(world.client, world["citizen"], d["id"], "request_withdrawal", {"reason": EMOJI * 3})
    assert "U+1F600" in field_error(resp, "reason")


def test_officer_and_agency_names_that_reach_the_forms_are_checked(world, client, session) -> None:
    """Officers' names are printed as signers, agencies' names and addresses in the heading."""
    admin = world["admin"]
    resp = client.post(
        "/api/v1/users",
        json={
            "username": "canbo.moi",
            "password": "mật-khẩu-đủ-dài-2026",
            "full_name": f"Trần {CJK}",
            "role": "clerk",
            "agency_codes": [AGENCY_A],
        },
        headers=admin,
    )
    assert "U+738B" in field_error(resp, "full_name")
    resp = client.post(
        "/api/v1/agencies",
        json={
            "code": "000.21.99.H56",
            "name": f"Phường {EMOJI}",
            "kind": "commune",
            "parent_code": None,
            "valid_from": "2026-01-01",
        },
        headers=admin,
    )
    assert "U+1F600" in field_error(resp, "name")


# Input fields that never reach a form: codes, user names, choices.
NOT_PRINTED = {
    "procedure_code",
    "agency_code",
    "owner_username",
    "to_unit",
    "step_code",
    "assignee",
}


def _text_fields(name: str, field: fields.Field) -> list[tuple[str, fields.Field]]:
    if isinstance(field, fields.List):
        return _text_fields(f"{name}[]", field.inner)
    if isinstance(field, Text):
        return [(name, field)]
    return []


def test_every_free_text_field_of_a_dossier_is_held_to_the_printable_rule() -> None:
    """A new free-text field added to a dossier input must decide, here, whether it can reach
    a form; by default it can."""
    found: list[tuple[str, fields.Field]] = []
    for name, field in ApplicantSchema().fields.items():
        found += _text_fields(f"applicant.{name}", field)
    for name, field in DossierCreateSchema().fields.items():
        found += _text_fields(name, field)
    for action, spec in ACTION_FIELDS.items():
        for name, field in spec.items():
            found += _text_fields(f"{action.value}.{name}", field)
    not_printable = [n for n, f in found if not f.printable and n.split(".")[-1] not in NOT_PRINTED]
    assert found and not_printable == []


# ---- rows stored before the rule ---------------------------------------------------------------


def _spoil(session, dossier_id: int, name: str) -> None:
    """What an old row looks like: stored before the boundary refused such text."""
    session.execute(update(Dossier).where(Dossier.id == dossier_id).values(applicant_name=name))
    session.commit()


def test_register_and_control_slip_print_an_old_row_with_a_placeholder_and_log_it_once(
    world, frozen_clock, session, caplog, text_of
) -> None:
    d = _received(world, frozen_clock)
    _spoil(session, d["id"], f"Lê Thị {EMOJI} Hoa")
    c = world.client
    body = {"agency_code": AGENCY_A, "from": "2026-03-01", "to": "2026-03-31"}
    with caplog.at_level(logging.WARNING, logger="onestop.documents.plans"):
        register = ok(
            c.post("/api/v1/documents/register", json=body, headers=world["clerk_a"]), 201
        )
        again = ok(c.post("/api/v1/documents/register", json=body, headers=world["clerk_a"]), 201)
        slip = ok(
            c.post(f"/api/v1/dossiers/{d['id']}/documents/control-slip", headers=world["clerk_a"]),
            201,
        )
    assert again["id"] == register["id"]
    for doc in (register, slip):
        pdf = c.get(doc["download_url"], headers=world["clerk_a"])
        assert pdf.status_code == 200
        assert f"Lê Thị {PLACEHOLDER} Hoa" in text_of(pdf.data)
    warnings = [r for r in caplog.records if "cannot print" in r.getMessage()]
    assert len(warnings) == 1 and str(d["id"]) in warnings[0].getMessage()
    # The log names the dossier and the field, never the text.
    assert EMOJI not in warnings[0].getMessage() and "Hoa" not in warnings[0].getMessage()


def test_the_repair_job_skips_and_reports_receipts_it_cannot_issue(
    world, frozen_clock, session, app
) -> None:
    """Ten old dossiers whose receipts cannot be printed used to fill the job's batch of ten on
    every run, so no later dossier ever got its receipt. Now each failure is recorded and
    reported, and the run goes on to the dossiers after them."""
    frozen_clock.set(vn(2026, 3, 5, 9))
    # One citizen stands in for eleven: lift the per-citizen limits on submissions.
    app.config.update(
        DOSSIER_MAX_OPEN_SUBMITTED_PER_CITIZEN=100,
        DOSSIER_SUBMIT_RATE_LIMIT_PER_ACCOUNT_PER_HOUR=1000,
        DOSSIER_SUBMIT_RATE_LIMIT_PER_CLIENT_PER_HOUR=1000,
    )
    c = world.client
    bad = [ok(submit(c, world["citizen"]), 201)["id"] for _ in range(10)]
    good = ok(submit(c, world["citizen"]), 201)["id"]
    for i in bad:
        _spoil(session, i, f"Vương {CJK}")
    # The issuing right after reception fails for all eleven (for the last one because of a
    # misconfigured public URL), as after a crash.
    app.config["PUBLIC_BASE_URL"] = "not a url"
    for i in [*bad, good]:
        ok(act(c, world["clerk_a"], i, "receive"))
    assert session.scalar(select(IssuedDocument.id)) is None
    app.config["PUBLIC_BASE_URL"] = "https://dichvucong.thanhhoa.gov.vn"

    frozen_clock.advance(minutes=5)
    with unit_of_work():
        report = issue_missing_documents(session, now=frozen_clock())
    assert report.startswith("issued 1 receipts, 10 failed (dossiers ")
    assert all(str(i) in report for i in bad)
    issued = session.scalars(select(IssuedDocument.dossier_id)).all()
    assert issued == [good]
    failures = session.scalars(select(IssueFailure).order_by(IssueFailure.dossier_id)).all()
    assert [f.dossier_id for f in failures] == bad
    assert all("U+738B" in f.error and "Vương" not in f.error for f in failures)

    # The next run does not try them again at once, and says they are waiting.
    frozen_clock.advance(minutes=5)
    with unit_of_work():
        report = issue_missing_documents(session, now=frozen_clock())
    assert report.startswith("issued 0 receipts, 0 failed; 10 set aside after failing")

    # Corrected, a dossier gets its receipt when it is tried again, and its failure is gone.
    session.execute(
        update(Dossier).where(Dossier.id == bad[0]).values(applicant_name="Vương Thị Lan")
    )
    session.commit()
    frozen_clock.advance(hours=7)
    with unit_of_work():
        report = issue_missing_documents(session, now=frozen_clock())
    assert report.startswith("issued 1 receipts, 9 failed")
    assert session.scalar(select(IssueFailure).where(IssueFailure.dossier_id == bad[0])) is None


def test_every_procedure_text_printed_on_a_form_is_printable() -> None:
    """Procedure names, document names and step names come from procedures/*.yaml, not from a
    request; they are printed on the receipt and the control slip, so they follow the same rule
    (data is validated like code)."""
    from onestop.catalogue.filespec import load_folder
    from onestop.core.glyphs import describe, first_unprintable
    from tests.dossiers.helpers import PROCEDURES

    bad = []
    for definition in load_folder(PROCEDURES):
        texts = [definition.name]
        texts += [doc.name for group in definition.document_groups for doc in group.documents]
        texts += [step.name for step in definition.processing_steps]
        for text in texts:
            if (ch := first_unprintable(text.replace("\n", " "))) is not None:
                bad.append(f"{definition.code}: {describe(ch)}")
    assert bad == []

"""Per-citizen limits: submissions per hour (account and client address, in the shared store),
dossiers waiting at the desk, and bytes uploaded per 24 hours (docs/accounts.md)."""

from __future__ import annotations

import uuid

from sqlalchemy import func, select

from onestop.config import DEFAULTS
from onestop.dossiers.models import Dossier
from tests.dossiers.helpers import MARRIAGE_STATUS, act, applicant, ok, submit
from tests.dossiers.test_attachments import SLOT, make_pdf, put
from tests.factories import AGENCY_A


def _submit_from(world, who, ip):
    body = {
        "procedure_code": MARRIAGE_STATUS,
        "agency_code": AGENCY_A,
        "channel": "online",
        "applicant": applicant(),
    }
    return world.client.post(
        "/api/v1/dossiers",
        json=body,
        headers={**world[who], "Idempotency-Key": uuid.uuid4().hex},
        environ_base={"REMOTE_ADDR": ip},
    )


def _count(session, owner_id) -> int:
    stmt = select(func.count()).select_from(Dossier).where(Dossier.owner_id == owner_id)
    return session.scalar(stmt)


def test_the_limits_as_configured_by_default(app):
    """The README's numbers are the ones the application runs with."""
    for key, value in {
        "DOSSIER_SUBMIT_RATE_LIMIT_PER_ACCOUNT_PER_HOUR": 10,
        "DOSSIER_SUBMIT_RATE_LIMIT_PER_CLIENT_PER_HOUR": 60,
        "DOSSIER_MAX_OPEN_SUBMITTED_PER_CITIZEN": 5,
        "UPLOAD_MAX_CITIZEN_BYTES_PER_DAY": 200 * 1024 * 1024,
        "REGISTRATION_RATE_LIMIT_PER_CLIENT_PER_HOUR": 20,
    }.items():
        assert DEFAULTS[key].value == value and app.config[key] == value, key


def test_a_citizen_cannot_pile_up_dossiers_waiting_at_the_desk(world, session, frozen_clock):
    """Five dossiers waiting to be received at most; reception frees a place; staff entering
    paper dossiers are not capped."""
    made = [ok(submit(world.client, world["citizen"]), 201) for _ in range(5)]
    sixth = submit(world.client, world["citizen"])
    assert sixth.status_code == 422 and sixth.json["type"] == "dossier.too_many_open"
    assert "5" in sixth.json["message"]
    assert _count(session, world.users["citizen"].id) == 5  # nothing stored for the refusal
    ok(act(world.client, world["clerk_a"], made[0]["id"], "receive"))
    ok(submit(world.client, world["citizen"]), 201)
    # Another citizen is not affected.
    ok(submit(world.client, world["citizen2"]), 201)


def test_submissions_are_limited_per_account_per_hour(app, world, session, frozen_clock, limiter):
    app.config["DOSSIER_MAX_OPEN_SUBMITTED_PER_CITIZEN"] = 100  # the hourly limit alone
    for _ in range(10):
        ok(submit(world.client, world["citizen"]), 201)
    over = submit(world.client, world["citizen"])
    assert over.status_code == 429 and over.json["type"] == "dossier.rate_limited"
    assert 1 <= int(over.headers["Retry-After"]) <= 3600
    assert _count(session, world.users["citizen"].id) == 10
    # Another citizen from the same address still submits; an hour later, so does this one.
    ok(submit(world.client, world["citizen2"]), 201)
    frozen_clock.advance(seconds=int(over.headers["Retry-After"]))
    ok(submit(world.client, world["citizen"]), 201)


def test_submissions_are_limited_per_client_address(app, world, frozen_clock, limiter):
    app.config["DOSSIER_SUBMIT_RATE_LIMIT_PER_CLIENT_PER_HOUR"] = 3
    ip = "203.0.113.70"
    ok(_submit_from(world, "citizen", ip), 201)
    ok(_submit_from(world, "citizen", ip), 201)
    ok(_submit_from(world, "citizen2", ip), 201)
    over = _submit_from(world, "citizen2", ip)
    assert over.status_code == 429 and over.json["type"] == "dossier.rate_limited"
    assert "Retry-After" in over.headers
    ok(_submit_from(world, "citizen2", "198.51.100.70"), 201)


def test_malformed_submissions_do_not_use_up_the_allowance(world, frozen_clock):
    """A citizen correcting a form spends nothing: only well-formed submissions are counted."""
    for _ in range(15):
        bad = submit(world.client, world["citizen"], channel="bồ câu đưa thư")
        assert bad.status_code == 422 and bad.json["type"] == "request.invalid"
    ok(submit(world.client, world["citizen"]), 201)


def test_staff_entering_paper_dossiers_are_not_rate_limited(app, world, frozen_clock):
    app.config["DOSSIER_SUBMIT_RATE_LIMIT_PER_CLIENT_PER_HOUR"] = 2
    app.config["DOSSIER_SUBMIT_RATE_LIMIT_PER_ACCOUNT_PER_HOUR"] = 2
    for _ in range(4):
        ok(submit(world.client, world["clerk_a"], channel="in_person"), 201)


def test_a_citizen_uploads_at_most_the_daily_allowance_replacements_included(
    app, world, frozen_clock
):
    """Replacing a file again and again stores new bytes each time: the 24-hour allowance
    counts them all, answers 429 with the time until enough of it is free, and never limits
    the desk."""
    files = [make_pdf(f"bản {i}", pages=2) for i in range(4)]
    size = max(len(f) for f in files)
    app.config["UPLOAD_MAX_CITIZEN_BYTES_PER_DAY"] = 3 * size
    d = ok(submit(world.client, world["citizen"]), 201)
    for data in files[:3]:
        ok(put(world, "citizen", d["id"], SLOT, data), 201)
    # The dossier holds one file; the citizen has stored three.
    frozen_clock.advance(hours=1)
    over = put(world, "citizen", d["id"], SLOT, files[3])
    assert over.status_code == 429 and over.json["type"] == "file.citizen_quota"
    assert int(over.headers["Retry-After"]) == 23 * 3600  # the first upload leaves the window
    # Re-sending the current file is not a new upload and changes nothing.
    assert put(world, "citizen", d["id"], SLOT, files[2]).status_code == 200
    # Another dossier of the same citizen draws on the same allowance.
    other = ok(submit(world.client, world["citizen"]), 201)
    assert put(world, "citizen", other["id"], SLOT, files[3]).status_code == 429
    # The desk is not limited.
    ok(put(world, "clerk_a", d["id"], "extra", files[3]), 201)
    frozen_clock.advance(hours=23)
    ok(put(world, "citizen", d["id"], SLOT, files[3]), 201)

"""Schemathesis fuzzing of every operation of ``/api/v1/openapi.json`` as four identities, and
plain regression tests for the server errors it found.

Each operation is fuzzed with schema-valid and schema-violating input (path, query, headers,
body) as an anonymous caller, a citizen, a clerk of agency A and an administrator, against a
database of its own holding real data (the demo agencies, the catalogue, a few dossiers in
several states, an uploaded file, an issued receipt). Path parameters are drawn half the time
from the identifiers of those real objects so that the fuzzer reaches past the 404s. The bar
(docs/security.md, "Tests that prove it"): no 5xx, and every response as the OpenAPI document says
(status code, content type, headers, body schema).

Examples are derandomized, so a CI run is reproducible; ``tests/bench/fuzz.py`` runs the same
target with many more examples.
"""

from __future__ import annotations

import io
import logging
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as fixed_seed
from hypothesis import strategies as st
from reportlab.pdfgen import canvas
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from onestop import create_app
from onestop.core import migrate
from onestop.core.access import Role
from onestop.core.db import make_engine
from onestop.extensions import db
from tests.conftest import make_test_app
from tests.dbutil import fresh_database
from tests.dossiers.helpers import (
    MARRIAGE_STATUS,
    act,
    applicant,
    make_world,
    ok,
    submit,
    sync_procedures,
)
from tests.factories import AGENCY_A, AGENCY_B, auth_headers, login, make_user, seed_agencies

SPEC_PATH = "/api/v1/openapi.json"
IDENTITIES = ("anonymous", "citizen", "clerk_a", "admin")
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
# Per operation and identity, half schema-valid and half schema-violating: 216 runs in CI.
CI_EXAMPLES = 12
SLOT = "to_khai_xac_nhan"  # first document slot of procedure 1.004873
# Body fields drawn half the time from real values, so that valid submissions and transitions
# get past "no such procedure / agency" to the rules behind them.
BODY_VALUES: dict[str, list[Any]] = {
    "procedure_code": [MARRIAGE_STATUS],
    "agency_code": [AGENCY_A, AGENCY_B],
    "agency": [AGENCY_A],
    "channel": ["online", "in_person"],
    "applicant": [applicant()],
}
# Mostly fresh keys (Hypothesis favours the first branch); sometimes a key used before (a
# replay, or a reuse with another body), any Latin-1 text a header can carry (over-long, blank,
# C1 controls), or none at all.
IDEMPOTENCY_KEYS = st.one_of(
    st.uuids().map(str),
    st.sampled_from(["k-1", "k-2"]),
    # A header value cannot start with white space (the HTTP client refuses to send it).
    st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF), max_size=120).map("k".__add__),
    st.none(),
)


def load_schema() -> Any:
    """The OpenAPI document as the application serves it (``create_app`` never opens the
    database, so a throw-away in-memory URL is enough to read it)."""
    app = create_app({"TESTING": True, "SECRET_KEY": "spec-only", "DATABASE_URL": "sqlite://"})
    return schemathesis.openapi.from_wsgi(SPEC_PATH, app)


SCHEMA = load_schema()
OPERATIONS = {op.label: op for op in (r.ok() for r in SCHEMA.get_all_operations())}


@dataclass
class FuzzTarget:
    """An application on a database of its own, the identities and the real objects in it."""

    app: Flask
    usernames: dict[str, str]
    known: dict[str, list[Any]]
    # Accounts the fuzzer must not disable: it would lose the identities it runs as.
    protected_user_ids: set[int] = field(default_factory=set)

    def headers(self, identity: str) -> dict[str, str]:
        """Fresh bearer headers: a fuzzed ``DELETE /auth/tokens`` revokes the token it sent."""
        if identity == "anonymous":
            return {}
        with self.app.test_client() as client:
            return login(client, self.usernames[identity])


def make_pdf() -> bytes:
    buf = io.BytesIO()
    c = canvas.Canvas(buf)
    c.drawString(72, 720, "Tờ khai xác nhận tình trạng hôn nhân")
    c.showPage()
    c.save()
    return buf.getvalue()


def build_target(url: str, storage_dir: Path) -> FuzzTarget:
    """Migrate ``url`` and fill it through the real services and the HTTP API."""
    engine = make_engine(url)
    migrate.upgrade(engine)
    engine.dispose()
    app = make_test_app(
        url,
        STORAGE_DIR=str(storage_dir),
        # The fuzzer fails logins and lookups by the thousand; the throttles have their own
        # tests (tests/accounts, tests/lookup) and here would only hide the routes behind 429.
        LOGIN_MAX_FAILURES_PER_ACCOUNT_CLIENT=10**9,
        LOGIN_MAX_FAILURES_PER_CLIENT=10**9,
        LOOKUP_RATE_LIMIT_PER_MINUTE=10**9,
        LOOKUP_RATE_LIMIT_PER_CODE_PER_MINUTE=10**9,
        DOCUMENT_VERIFY_RATE_LIMIT_PER_MINUTE=10**9,
    )
    with app.app_context():
        session = db.session
        seed_agencies(session)
        sync_procedures(session)
        users = {
            "citizen": make_user(session, Role.CITIZEN, username="fuzz_citizen"),
            "clerk_a": make_user(session, Role.CLERK, agencies=(AGENCY_A,), username="fuzz_clerk"),
            "admin": make_user(session, Role.ADMIN, username="fuzz_admin"),
            "spare": make_user(session, Role.CITIZEN, username="fuzz_spare"),
        }
        usernames = {k: u.username for k, u in users.items()}
        user_ids = [u.id for u in users.values()]
        protected = {users[k].id for k in ("citizen", "clerk_a", "admin")}
        db.session.close()

    client = app.test_client()
    citizen = login(client, usernames["citizen"])
    clerk = login(client, usernames["clerk_a"])
    admin = login(client, usernames["admin"])
    submitted = [ok(submit(client, citizen), 201) for _ in range(4)]
    received = ok(act(client, clerk, submitted[0]["id"], "receive"))
    ok(act(client, clerk, submitted[1]["id"], "refuse", {"reason": "Thiếu chữ ký."}))
    upload = client.put(
        f"/api/v1/dossiers/{submitted[2]['id']}/files/{SLOT}",
        data=make_pdf(),
        headers={**citizen, "Content-Type": "application/pdf"},
    )
    file_id = ok(upload, 201)["id"]
    documents = ok(client.get(f"/api/v1/dossiers/{received['id']}/documents", headers=clerk))
    register = ok(
        client.post(
            "/api/v1/documents/register",
            json={"agency_code": AGENCY_A, "from": "2026-01-01", "to": "2026-01-31"},
            headers=clerk,
        ),
        201,
    )
    override = ok(
        client.post(
            "/api/v1/calendar/overrides",
            json={
                "date": "2026-12-31",
                "kind": "day_off",
                "name": "Nghỉ bù thử nghiệm",
                "source": "Công văn 1/VPCP",
            },
            headers=admin,
        ),
        201,
    )
    known: dict[str, list[Any]] = {
        "dossier_id": [d["id"] for d in submitted],
        "user_id": user_ids,
        "code": [AGENCY_A, AGENCY_B, "000.00.00.H56", MARRIAGE_STATUS],
        "document_id": [d["id"] for d in documents] + [register["id"]],
        "file_id": [file_id],
        "slot": [SLOT],
        "token": [received["lookup_url"].rsplit("/", 1)[-1]],
        "override_id": [override["id"]],
    }
    return FuzzTarget(app, usernames, known, protected)


@dataclass
class Tally:
    """What a fuzz run did: requests sent (per operation), and the failures found."""

    requests: int = 0
    operations: Counter[str] = field(default_factory=Counter)  # label → requests
    server_errors: int = 0
    schema_violations: int = 0
    failures: list[str] = field(default_factory=list)


def fuzz_operation(
    target: FuzzTarget,
    label: str,
    identity: str,
    *,
    max_examples: int,
    tally: Tally | None = None,
    seed: int = 0,
) -> Tally:
    """Fuzz one operation as one identity; raise on the first failure unless ``tally`` collects.

    ``seed`` with ``derandomize`` would be ignored, so a non-zero seed switches to seeded random
    generation (the benchmark); zero keeps the derandomized, reproducible CI run.
    """
    operation = OPERATIONS[label]
    collect = tally is not None
    tally = tally if tally is not None else Tally()
    headers = target.headers(identity)
    strategy = st.one_of(
        operation.as_strategy(generation_mode=GenerationMode.POSITIVE),
        operation.as_strategy(generation_mode=GenerationMode.NEGATIVE),
    )
    known = target.known

    @settings(
        max_examples=max_examples,
        deadline=None,
        database=None,
        derandomize=seed == 0,
        suppress_health_check=list(HealthCheck),
        phases=[Phase.generate] if collect else [Phase.generate, Phase.shrink],
    )
    @given(case=strategy, data=st.data())
    def run(case: Any, data: st.DataObject) -> None:
        for name, value in list((case.path_parameters or {}).items()):
            if name in known and data.draw(st.booleans(), label=f"real {name}"):
                value = data.draw(st.sampled_from(known[name]), label=name)
                case.path_parameters[name] = value
        if isinstance(case.body, dict):
            for name in list(case.body):
                if name in BODY_VALUES and data.draw(st.booleans(), label=f"real {name}"):
                    case.body[name] = data.draw(st.sampled_from(BODY_VALUES[name]), label=name)
        user_id = (case.path_parameters or {}).get("user_id")
        if label.endswith("/disable") and user_id in target.protected_user_ids:
            return
        sent = dict(headers)
        # Submissions need an Idempotency-Key (docs/security.md decision 3); without one every
        # POST /dossiers would stop at the 400 and the fuzzer would never reach the services.
        if operation.method.upper() == "POST":
            key = data.draw(IDEMPOTENCY_KEYS, label="Idempotency-Key")
            if key is not None:
                sent["Idempotency-Key"] = key
        if "dossier_id" in (case.path_parameters or {}) and data.draw(st.booleans(), label="etag"):
            etag = current_etag(target, case.path_parameters["dossier_id"], headers)
            if etag:
                sent["If-Match"] = etag
        response = case.call(app=target.app, headers=sent)
        tally.requests += 1
        tally.operations[label] += 1
        try:
            case.validate_response(response, checks=CHECKS, headers=sent)
        except Exception as exc:  # schemathesis reports check failures as exception groups
            if response.status_code >= 500:
                tally.server_errors += 1
            else:
                tally.schema_violations += 1
            if not collect:
                raise
            tally.failures.append(f"{label} as {identity}: {summarize(exc)}")

    if seed:
        run = fixed_seed(seed)(run)
    run()
    return tally


def current_etag(target: FuzzTarget, dossier_id: Any, headers: dict[str, str]) -> str | None:
    with target.app.test_client() as client:
        resp = client.get(f"/api/v1/dossiers/{dossier_id}", headers=headers)
        return resp.headers.get("ETag") if resp.status_code == 200 else None


def summarize(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return " | ".join(line for line in text[:6] if line.strip())


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FuzzTarget]:
    tmp = tmp_path_factory.mktemp("fuzz")
    with fresh_database(tmp, "fuzz") as url:
        target = build_target(url, tmp / "storage")
        yield target
        db.state(target.app).engine.dispose()


@pytest.mark.parametrize("identity", IDENTITIES)
@pytest.mark.parametrize("label", sorted(OPERATIONS))
def test_operation_answers_every_input_as_documented(
    target: FuzzTarget, label: str, identity: str, caplog: pytest.LogCaptureFixture
) -> None:
    """No input, valid or not, gives a 5xx; every reply matches the OpenAPI document; nothing
    fails quietly after the reply (an error in the log, e.g. a notice not issued)."""
    fuzz_operation(target, label, identity, max_examples=CI_EXAMPLES)
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not errors, [r.getMessage() for r in errors]


def test_every_operation_of_the_document_is_fuzzed() -> None:
    """A route added without an OpenAPI operation would escape the fuzzer."""
    assert len(OPERATIONS) >= 50
    documented = {(op.method.upper(), op.path) for op in OPERATIONS.values()}
    routes = {
        (method, re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule))
        for rule in SCHEMA.app.url_map.iter_rules()
        if rule.rule.startswith("/api/v1/")
        and not rule.rule.startswith(("/api/v1/docs", "/api/v1/openapi"))
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    assert routes == documented


# ---- regressions: each server error the fuzzer found, as a plain test ------------------------


def assert_error_shape(resp: Any, status: int) -> dict[str, Any]:
    assert resp.status_code == status, (resp.status_code, resp.get_data(as_text=True)[:300])
    body = resp.json
    assert body["code"] == status and body["type"] and body["message"] and body["request_id"]
    return body


@pytest.mark.parametrize("year", [-626, 0, 10_000, 99_999_999])
def test_an_ics_feed_for_an_impossible_year_is_a_422(client, year: int) -> None:
    """``date(year, 1, 1)`` raised ValueError (a 500) for years outside 1–9999."""
    body = assert_error_shape(client.get(f"/api/v1/calendar/holidays.ics?year={year}"), 422)
    assert "year" in body["errors"]["query"]


def test_a_swapped_weekday_on_anything_but_a_working_day_is_a_422(client, session) -> None:
    """Only a make-up working day pays for a weekday off; a ``day_off`` with ``swapped_with``
    reached the database's check constraint (a 500)."""
    admin = auth_headers(client, session, Role.ADMIN)
    for kind in ("day_off", "remove_holiday"):
        resp = client.post(
            "/api/v1/calendar/overrides",
            json={
                "date": "2026-12-30",
                "kind": kind,
                "swapped_with": "2026-12-26",
                "name": "Nghỉ bù",
                "source": "Công văn 1/VPCP",
            },
            headers=admin,
        )
        body = assert_error_shape(resp, 422)
        assert "swapped_with" in body["message"]
    listed = client.get("/api/v1/calendar/overrides?year=2026", headers=admin)
    assert listed.json["items"] == []


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/dossiers/{big}",
        "/api/v1/dossiers/2/files/{big}",
        "/api/v1/dossiers/{big}/documents/1",
        "/api/v1/documents/{big}",
        "/api/v1/users/{big}/disable",
    ],
)
@pytest.mark.parametrize("big", [2**31, 1022733967669111, 2**64])
def test_identifiers_beyond_an_integer_column_are_not_found(
    client, session, path: str, big: int
) -> None:
    """PostgreSQL refused ids above 2**31-1 ("integer out of range") and SQLite above 2**63-1
    with a 500; such an id names nothing, so it is a 404."""
    admin = auth_headers(client, session, Role.ADMIN)
    method = client.post if path.endswith("/disable") else client.get
    assert_error_shape(method(path.format(big=big), headers=admin), 404)


@pytest.mark.parametrize(
    ("action", "body", "field"),
    [
        ("refuse", {"reason": "Thiếu giấy tờ 𭝟"}, "reason"),
        ("intake_incomplete", {"missing": ["Tờ khai", "Bản sao 🙂"]}, "missing"),
    ],
)
def test_a_notice_text_the_form_cannot_print_is_refused_before_the_transition(
    client, session, frozen_clock, action: str, body: dict[str, Any], field: str
) -> None:
    """Found by the long run (``apologize`` with U+2D75F in the reason): the transition
    committed, then its statutory notice failed to render and could never be issued. Now the
    transition is refused with a 422 and the dossier is unchanged; a printable text goes
    through and the notice is issued. The rule is applied at the boundary (the field and the
    character are named), like every other text that reaches a form."""
    world = make_world(client, session)
    d = ok(submit(client, world["citizen"]), 201)
    resp = act(client, world["clerk_a"], d["id"], action, body)
    err = assert_error_shape(resp, 422)
    assert err["type"] == "request.invalid" and field in err["errors"]["json"]
    assert "U+" in str(err["errors"]["json"][field])
    again = ok(client.get(f"/api/v1/dossiers/{d['id']}", headers=world["clerk_a"]))
    assert (again["state"], again["version"]) == ("submitted", d["version"])

    printable = {
        k: v.replace("𭝟", "") if isinstance(v, str) else ["Tờ khai"] for k, v in body.items()
    }
    ok(act(client, world["clerk_a"], d["id"], action, printable))
    issued = ok(client.get(f"/api/v1/dossiers/{d['id']}/documents", headers=world["clerk_a"]))
    assert [doc["form_code"] for doc in issued] == ["03" if action == "refuse" else "02"]

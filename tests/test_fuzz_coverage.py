"""Schemathesis's coverage phase with every check: does the OpenAPI document describe the
server exactly?

The fuzzing run (``tests/test_fuzz_api.py``) looks for server errors and malformed replies;
the coverage phase asks the sharper question a generated client asks: every value at the
edges of what the document allows (minimum, maximum, each enum value, a missing required
part, a wrong type) must be answered as the document says — accepted when the document says
it is valid, refused with a 4xx when it is not, and ``OPTIONS``/``405`` listing exactly the
documented methods (``CHECKS`` below: all of schemathesis's checks).

Bounded for CI: a seeded sample of ``CASES_PER_OPERATION`` coverage cases per operation, each
sent as one of the four identities drawn from the same seed (about 900 requests; generating
the cases costs most of the ~45 s). ``ONESTOP_FUZZ_COVERAGE_CASES=0`` runs every case of the
phase (about 2,200 per identity).
"""

from __future__ import annotations

import os
import random
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from schemathesis.checks import CHECKS as REGISTERED_CHECKS
from schemathesis.config import SchemathesisConfig
from schemathesis.generation import GenerationMode
from schemathesis.generation.drivers import CoverageGenerator
from schemathesis.generation.feedback import FeedbackSources
from schemathesis.generation.overrides import Override

from onestop.extensions import db
from tests.dbutil import fresh_database
from tests.test_fuzz_api import IDENTITIES, SPEC_PATH, FuzzTarget, build_target

SEED = 20261201

# Disagreements not yet resolved, each as (operation, schemathesis check, the reply's ``type``):
# schema-valid requests the server refuses for a rule the document does not state yet (ST202).
# Any other disagreement fails the test; the list only shrinks.
KNOWN: set[tuple[str, str, str | None]] = {
    # The working-time calendar covers 2020–2030; the date parameters do not say so.
    ("GET /api/v1/calendar/days", "ST202", "worktime.out_of_range"),
    ("GET /api/v1/calendar/due-date", "ST202", "worktime.out_of_range"),
    ("GET /api/v1/calendar/holidays.ics", "ST202", "worktime.out_of_range"),
    # An agency code that names no agency: a rule on data, answered 422.
    ("GET /api/v1/calendar/days", "ST202", "agency.not_found"),
    ("GET /api/v1/calendar/due-date", "ST202", "agency.not_found"),
    ("GET /api/v1/calendar/holidays.ics", "ST202", "agency.not_found"),
    # amount+unit or procedure+channel, exactly one pair: not expressible per query parameter.
    ("GET /api/v1/calendar/due-date", "ST202", "calendar.duration_required"),
    ("GET /api/v1/calendar/due-date", "ST202", "calendar.ambiguous_duration"),
    # The password policy (10 characters or more) is not in the registration schema.
    ("POST /api/v1/accounts", "ST202", "account.weak_password"),
    # A person needs a valid CCCD, an organisation a tax code (schema-level rule, no oneOf).
    ("POST /api/v1/dossiers", "ST202", "request.invalid"),
    # A page cursor is opaque: one the server did not issue for this view and sort is refused.
    ("GET /api/v1/queues/{view}", "ST202", "queue.bad_cursor"),
    # `/queues/{view}` (GET) also matches `take-next` and `reassign`, so OPTIONS lists GET there.
    ("POST /api/v1/queues/reassign", "ST205", None),
    ("POST /api/v1/queues/take-next", "ST205", None),
    # The week's days are the keys of `weekly`; the schema does not restrict the keys.
    ("PUT /api/v1/calendar/agencies/{code}/working-hours", "ST202", "request.invalid"),
}
CASES_PER_OPERATION = int(os.environ.get("ONESTOP_FUZZ_COVERAGE_CASES", "16")) or None
CHECKS = REGISTERED_CHECKS.get_all()

# Conditional requests (RFC 9110 §13, RFC 6585 §3) cannot be stated in a schema: a
# schema-valid ``If-Match`` that is not the dossier's current ETag is a 412, and a transition
# without one is a 428 (both documented on every transition).
CONFIG = SchemathesisConfig.from_dict(
    {
        "checks": {
            "positive_data_acceptance": {
                "expected-statuses": ["2xx", "3xx", "401", "403", "404", "409", "412", "429"]
            },
            "missing_required_header": {
                "expected-statuses": ["400", "401", "403", "406", "415", "422", "428"]
            },
        }
    }
)


@pytest.fixture(scope="module")
def coverage_target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[FuzzTarget, Any]]:
    tmp = tmp_path_factory.mktemp("coverage")
    with fresh_database(tmp, "coverage") as url:
        target = build_target(url, tmp / "storage")
        # Loaded from the target itself: checks that send requests of their own (a request
        # without credentials, for one) must reach the same database.
        schema = schemathesis.openapi.from_wsgi(SPEC_PATH, target.app, config=CONFIG)
        yield target, schema
        db.state(target.app).engine.dispose()


def coverage_cases(schema: Any, operation: Any) -> list[Any]:
    generator = CoverageGenerator(
        operation=operation,
        generation_modes=list(GenerationMode),
        generation_config=schema.config.generation_for(operation=operation, phase="coverage"),
        auth_storage=None,
        override=Override(),
        feedback=FeedbackSources(),
    )
    return list(generator)


def failure_codes(exc: BaseException) -> set[str]:
    """The schemathesis check codes (``ST202`` …) named in a failure report."""
    return {word for word in str(exc).split() if word.startswith("ST") and word[2:].isdigit()}


def test_coverage_phase_finds_no_disagreement_between_document_and_server(coverage_target):
    target, schema = coverage_target
    rng = random.Random(SEED)
    failures: list[str] = []
    sent_total = 0
    logged_in: dict[str, dict[str, str]] = {}
    found_known: set[tuple[str, str, str | None]] = set()
    for result in sorted(schema.get_all_operations(), key=lambda r: r.ok().label):
        operation = result.ok()
        cases = coverage_cases(schema, operation)
        picked = rng.sample(cases, min(CASES_PER_OPERATION or len(cases), len(cases)))
        for case in picked:
            identity = rng.choice(IDENTITIES)
            user_id = (case.path_parameters or {}).get("user_id")
            protected = {str(i) for i in target.protected_user_ids}
            if operation.label.endswith("/disable") and str(user_id) in protected:
                continue  # the run would lose an identity it sends requests as
            if identity not in logged_in:
                logged_in[identity] = target.headers(identity)
            headers = dict(logged_in[identity])
            if operation.method.upper() == "POST":
                headers["Idempotency-Key"] = f"coverage-{sent_total}"
            response = case.call(app=target.app, headers=headers)
            if operation.label == "DELETE /api/v1/auth/tokens":
                logged_in.pop(identity, None)  # that token may be revoked now
            sent_total += 1
            try:
                case.validate_response(response, checks=CHECKS, headers=headers)
            except BaseExceptionGroup as exc:  # schemathesis reports failed checks as a group
                slug = error_type(response)
                for code in sorted(failure_codes(exc)) or [type(exc).__name__]:
                    if (operation.label, code, slug) in KNOWN:
                        found_known.add((operation.label, code, slug))
                        continue
                    failures.append(
                        f"{operation.label} as {identity}: {code} {slug}: {summary(exc)}"
                    )
    assert sent_total > 500
    assert failures == [], "\n".join(failures)


def error_type(response: Any) -> str | None:
    try:
        body = response.json()
    except Exception:
        return None
    return body.get("type") if isinstance(body, dict) else None


def summary(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return " | ".join(lines[1:8])[:600]


# ---- regressions: each disagreement the coverage phase found and this code resolves -----------


def test_options_on_the_file_routes_lists_the_documented_methods(client) -> None:
    """``/files/12`` matched both the download (GET, an id) and the upload (PUT, a slot), so
    ``Allow`` advertised PUT where the document has none; a slot code starts with a letter."""
    by_id = client.open("/api/v1/dossiers/1/files/12", method="OPTIONS")
    assert set(by_id.headers["Allow"].split(", ")) == {"GET", "HEAD", "OPTIONS"}
    by_slot = client.open("/api/v1/dossiers/1/files/to_khai", method="OPTIONS")
    assert set(by_slot.headers["Allow"].split(", ")) == {"PUT", "OPTIONS"}
    refused = client.put("/api/v1/dossiers/1/files/12", data=b"%PDF-1.4")
    assert refused.status_code == 405 and refused.json["type"] == "request.method_not_allowed"
    spec = client.get(SPEC_PATH).json
    slot = spec["paths"]["/api/v1/dossiers/{dossier_id}/files/{slot}"]["put"]
    params = spec["paths"]["/api/v1/dossiers/{dossier_id}/files/{slot}"].get("parameters", [])
    params += slot.get("parameters", [])
    assert {"type": "string", "pattern": "^[a-z][a-z0-9_]{1,47}$"} in [
        p["schema"] for p in params if p["name"] == "slot"
    ]


def test_verifying_no_file_is_a_400_not_an_answer(client) -> None:
    """An empty body answered 200 ``{"issued": false}``, as if a document had been checked."""
    resp = client.post("/api/v1/documents/verify", data=b"", content_type="application/pdf")
    assert resp.status_code == 400 and resp.json["type"] == "document.file_required"
    body = client.get(SPEC_PATH).json["paths"]["/api/v1/documents/verify"]["post"]
    # A generic client can send the bytes: application/octet-stream is listed beside PDF.
    assert set(body["requestBody"]["content"]) == {"application/pdf", "application/octet-stream"}
    assert "400" in body["responses"]

"""The authorization matrix: every route declares a policy, and each identity gets what it should.

Adding a route means adding a row to ``MATRIX``; a route without one fails here. Object scope
(a citizen's own dossier, a clerk's own agency) is checked per feature; this file checks the
route-level policy for every identity of docs/security.md: anonymous, two citizens, clerks of two
agencies, a manager and an administrator.
"""

from __future__ import annotations

import pytest
from flask import Flask

from onestop.core.access import FRAMEWORK_PUBLIC_ENDPOINTS, Role
from tests.factories import AGENCY_A, AGENCY_B, login, make_user, seed_agencies

PUBLIC = "public"
AUTHENTICATED = "authenticated"
ADMIN = "roles:administrator"
STAFF = "roles:administrator,clerk,manager"
CLERKS = "roles:clerk,manager"
# /metrics: the holder of METRICS_TOKEN, or (unset, the default) a client on this machine that
# is not relayed by a proxy; the test client connects from 127.0.0.1. Refusals of other
# clients and tokens are in tests/test_ops.py.
METRICS = "metrics"

# (method, URL rule) -> (declared policy, a concrete URL to call)
MATRIX: dict[tuple[str, str], tuple[str, str]] = {
    ("POST", "/api/v1/auth/tokens"): (PUBLIC, "/api/v1/auth/tokens"),
    ("DELETE", "/api/v1/auth/tokens"): (AUTHENTICATED, "/api/v1/auth/tokens"),
    ("POST", "/api/v1/accounts"): (PUBLIC, "/api/v1/accounts"),
    ("GET", "/api/v1/accounts/me"): (AUTHENTICATED, "/api/v1/accounts/me"),
    ("GET", "/api/v1/users"): (ADMIN, "/api/v1/users"),
    ("POST", "/api/v1/users"): (ADMIN, "/api/v1/users"),
    ("POST", "/api/v1/users/<int:user_id>/disable"): (ADMIN, "/api/v1/users/999999/disable"),
    ("GET", "/api/v1/agencies"): (PUBLIC, "/api/v1/agencies"),
    ("GET", "/api/v1/agencies/<string:code>"): (PUBLIC, f"/api/v1/agencies/{AGENCY_A}"),
    ("POST", "/api/v1/agencies"): (ADMIN, "/api/v1/agencies"),
    ("GET", "/api/v1/procedures"): (PUBLIC, "/api/v1/procedures"),
    ("GET", "/api/v1/procedures/<string:code>"): (PUBLIC, "/api/v1/procedures/1.001193"),
    ("GET", "/api/v1/lookup"): (PUBLIC, "/api/v1/lookup?code=X-260305-0001&check=ABCDEF"),
    ("GET", "/api/v1/lookup/by-token/<string:token>"): (PUBLIC, "/api/v1/lookup/by-token/x"),
    ("GET", "/tra-cuu/<string:token>"): (PUBLIC, "/tra-cuu/x"),
    ("GET", "/api/v1/calendar/due-date"): (
        PUBLIC,
        "/api/v1/calendar/due-date?received_at=2026-02-05T10:00:00%2B07:00&amount=3&unit=working_days",
    ),
    ("GET", "/api/v1/calendar/days"): (
        PUBLIC,
        "/api/v1/calendar/days?from=2026-02-01&to=2026-02-28",
    ),
    ("GET", "/api/v1/calendar/holidays.ics"): (PUBLIC, "/api/v1/calendar/holidays.ics?year=2026"),
    ("GET", "/api/v1/calendar/overrides"): (ADMIN, "/api/v1/calendar/overrides"),
    ("POST", "/api/v1/calendar/overrides"): (ADMIN, "/api/v1/calendar/overrides"),
    ("DELETE", "/api/v1/calendar/overrides/<int:override_id>"): (
        ADMIN,
        "/api/v1/calendar/overrides/999999",
    ),
    ("GET", "/api/v1/calendar/agencies/<string:code>/working-hours"): (
        PUBLIC,
        f"/api/v1/calendar/agencies/{AGENCY_A}/working-hours",
    ),
    ("PUT", "/api/v1/calendar/agencies/<string:code>/working-hours"): (
        ADMIN,
        f"/api/v1/calendar/agencies/{AGENCY_A}/working-hours",
    ),
    ("GET", "/api/v1/dossiers/<int:dossier_id>/documents"): (
        AUTHENTICATED,
        "/api/v1/dossiers/999999/documents",
    ),
    ("GET", "/api/v1/dossiers/<int:dossier_id>/documents/<int:document_id>"): (
        AUTHENTICATED,
        "/api/v1/dossiers/999999/documents/1",
    ),
    ("POST", "/api/v1/dossiers/<int:dossier_id>/documents/control-slip"): (
        CLERKS,
        "/api/v1/dossiers/999999/documents/control-slip",
    ),
    ("POST", "/api/v1/documents/register"): (CLERKS, "/api/v1/documents/register"),
    ("GET", "/api/v1/documents/<int:document_id>"): (CLERKS, "/api/v1/documents/999999"),
    ("GET", "/api/v1/documents/verify"): (PUBLIC, "/api/v1/documents/verify?sha256=" + "0" * 64),
    ("POST", "/api/v1/documents/verify"): (PUBLIC, "/api/v1/documents/verify"),
    ("GET", "/healthz"): (PUBLIC, "/healthz"),
    ("GET", "/readyz"): (PUBLIC, "/readyz"),
    ("GET", "/metrics"): (METRICS, "/metrics"),
    ("GET", "/api/v1/queues"): (CLERKS, "/api/v1/queues"),
    ("GET", "/api/v1/queues/<string:view>"): (CLERKS, "/api/v1/queues/mine"),
    ("POST", "/api/v1/queues/take-next"): (CLERKS, "/api/v1/queues/take-next"),
    ("POST", "/api/v1/queues/reassign"): ("roles:manager", "/api/v1/queues/reassign"),
}


def _dossier_rows() -> dict[tuple[str, str], tuple[str, str]]:
    from onestop.dossiers.states import TRANSITIONS, Action

    rows: dict[tuple[str, str], tuple[str, str]] = {
        ("POST", "/api/v1/dossiers"): (AUTHENTICATED, "/api/v1/dossiers"),
        ("GET", "/api/v1/dossiers"): (AUTHENTICATED, "/api/v1/dossiers"),
        ("GET", "/api/v1/dossiers/<int:dossier_id>"): (AUTHENTICATED, "/api/v1/dossiers/999999"),
        ("GET", "/api/v1/dossiers/<int:dossier_id>/timeline"): (
            AUTHENTICATED,
            "/api/v1/dossiers/999999/timeline",
        ),
        ("GET", "/api/v1/dossiers/<int:dossier_id>/handovers"): (
            CLERKS,
            "/api/v1/dossiers/999999/handovers",
        ),
        ("PUT", "/api/v1/dossiers/<int:dossier_id>/files/<slot:slot>"): (
            "roles:citizen,clerk,manager",
            "/api/v1/dossiers/999999/files/extra",
        ),
        ("GET", "/api/v1/dossiers/<int:dossier_id>/files"): (
            AUTHENTICATED,
            "/api/v1/dossiers/999999/files",
        ),
        ("GET", "/api/v1/dossiers/<int:dossier_id>/files/<int:file_id>"): (
            AUTHENTICATED,
            "/api/v1/dossiers/999999/files/1",
        ),
    }
    for action in Action:
        if action == Action.SUBMIT:
            continue
        slug = action.value.replace("_", "-")
        policy = "roles:" + ",".join(sorted(r.value for r in TRANSITIONS[action].roles))
        rows[("POST", f"/api/v1/dossiers/<int:dossier_id>/{slug}")] = (
            policy,
            f"/api/v1/dossiers/999999/{slug}",
        )
    return rows


MATRIX.update(_dossier_rows())

IDENTITIES = ["anonymous", "citizen", "citizen2", "clerk_a", "clerk_b", "manager_a", "admin"]
ROLE_OF = {
    "citizen": Role.CITIZEN,
    "citizen2": Role.CITIZEN,
    "clerk_a": Role.CLERK,
    "clerk_b": Role.CLERK,
    "manager_a": Role.MANAGER,
    "admin": Role.ADMIN,
}


def api_routes(app: Flask):
    for rule in app.url_map.iter_rules():
        if rule.endpoint in FRAMEWORK_PUBLIC_ENDPOINTS:
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield method, rule


def test_every_route_declares_an_access_policy(app: Flask):
    missing = [
        f"{method} {rule.rule}"
        for method, rule in api_routes(app)
        if not getattr(app.view_functions[rule.endpoint], "access_policy", None)
    ]
    assert missing == [], f"routes without an access policy: {missing}"


def test_every_route_is_in_the_matrix_with_its_declared_policy(app: Flask):
    seen = {}
    for method, rule in api_routes(app):
        seen[(method, rule.rule)] = app.view_functions[rule.endpoint].access_policy
    unlisted = sorted(set(seen) - set(MATRIX))
    assert unlisted == [], f"add these routes to MATRIX: {unlisted}"
    stale = sorted(set(MATRIX) - set(seen))
    assert stale == [], f"MATRIX lists routes that no longer exist: {stale}"
    wrong = {k: (seen[k], MATRIX[k][0]) for k in seen if seen[k] != MATRIX[k][0]}
    assert wrong == {}


@pytest.fixture
def identities(client, session) -> dict[str, dict[str, str]]:
    seed_agencies(session)
    agencies = {"clerk_a": (AGENCY_A,), "clerk_b": (AGENCY_B,), "manager_a": (AGENCY_A,)}
    headers: dict[str, dict[str, str]] = {"anonymous": {}}
    for name, role in ROLE_OF.items():
        user = make_user(session, role, agencies=agencies.get(name, ()), username=f"m_{name}")
        headers[name] = login(client, user.username)
    return headers


def expected_refusal(policy: str, identity: str) -> int | None:
    """The status this identity must get from the policy check, or None if it may pass."""
    if policy in (PUBLIC, METRICS):
        return None
    if identity == "anonymous":
        return 401
    if policy == AUTHENTICATED:
        return None
    allowed = policy.removeprefix("roles:").split(",")
    return None if ROLE_OF[identity].value in allowed else 403


@pytest.mark.parametrize("route", sorted(MATRIX), ids=lambda r: f"{r[0]} {r[1]}")
def test_each_identity_gets_what_the_policy_says(client, identities, route):
    method, _rule = route
    policy, url = MATRIX[route]
    for identity in IDENTITIES:
        kwargs = {"headers": identities[identity]}
        if method in {"POST", "PUT", "PATCH"}:
            kwargs["json"] = {}
        resp = client.open(url, method=method, **kwargs)
        refusal = expected_refusal(policy, identity)
        assert resp.status_code < 500, (identity, resp.status_code, resp.json)
        if refusal is None:
            assert resp.status_code not in (401, 403), (identity, resp.status_code, resp.json)
        else:
            assert resp.status_code == refusal, (identity, resp.status_code, resp.json)
            assert resp.json["type"] in {"auth.required", "auth.forbidden"}


# Where staff must stand for each dossier action, on top of the role (docs/dossiers.md, "Who may
# act where"): the unit holding the dossier once it has accepted it, the unit a handover is
# waiting on, or the desk that received it. A change to the transition table must change this
# row, and tests/dossiers/test_places.py shows each place refusing the units outside it.
STAFF_PLACES = {
    "intake_incomplete": {"desk"},
    "refuse": {"desk"},
    "receive": {"desk"},
    "forward": {"holder"},
    "accept_handover": {"pending_to"},
    "assign": {"holder"},
    "request_supplement": {"holder"},
    "supply": {"holder"},
    "request_payment": {"holder"},
    "confirm_payment": {"holder"},
    "accept_withdrawal": {"holder"},
    "deny": {"holder"},
    "apologize": {"holder"},
    "resolve": {"holder"},
    "return_result": {"desk"},
    "reassign": {"holder"},
    "release": {"holder"},
}


def test_every_staff_action_declares_where_staff_may_take_it():
    from onestop.dossiers.states import CLERKS, TRANSITIONS, Action

    declared = {
        action.value: {p.value for p in TRANSITIONS[action].staff_at}
        for action in Action
        if action != Action.SUBMIT and TRANSITIONS[action].roles & CLERKS
    }
    assert declared == STAFF_PLACES

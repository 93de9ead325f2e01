"""The dossier lifecycle as a Hypothesis state machine driven through the HTTP API.

Random actors (the citizen who owns the dossier, a clerk and a manager of agency A, a clerk of
agency B) perform random actions with the current or a stale ETag while the clock moves by
random working and non-working amounts. After every step the stored dossier must agree with a
model built from the transition table alone (docs/security.md decision 2).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import func, select

from onestop.core.access import Role
from onestop.core.audit import AuditEvent
from onestop.dossiers.models import Dossier, DossierEvent
from onestop.dossiers.states import TRANSITIONS, Action, Place, State
from tests.dossiers.helpers import MARRIAGE_STATUS, submit
from tests.factories import AGENCY_A

# Cấp Giấy chứng nhận quyền sử dụng đất lần đầu: land law stops the clock while the applicant
# pays (payment_pauses_clock: true); the marriage-status certificate does not.
FIRST_LAND_CERTIFICATE = "1.013978"
PAYMENT_PAUSES = {MARRIAGE_STATUS: False, FIRST_LAND_CERTIFICATE: True}
ACTORS = {
    "citizen": Role.CITIZEN,
    "clerk_a": Role.CLERK,
    "manager_a": Role.MANAGER,
    "clerk_b": Role.CLERK,  # another commune: the dossier is out of scope, always 404
}
ACTIONS = [a for a in Action if a != Action.SUBMIT]
# Receiving units inside agency A's tree: its one-stop desk and the commune itself.
UNITS = ["000.31.01.H56", AGENCY_A]
# Actions that end the dossier or lead only to its end.
ENDINGS = {
    Action.REFUSE,
    Action.DENY,
    Action.REQUEST_WITHDRAWAL,
    Action.ACCEPT_WITHDRAWAL,
    Action.RETURN_RESULT,
}
START_TIMES = [
    datetime(2026, 3, 5, 2, 0, tzinfo=UTC),  # Thursday 09:00 in Hà Nội
    datetime(2026, 3, 6, 9, 30, tzinfo=UTC),  # Friday 16:30, just before the weekend
    datetime(2026, 3, 7, 3, 0, tzinfo=UTC),  # Saturday 10:00, outside working hours
    datetime(2026, 4, 24, 8, 0, tzinfo=UTC),  # Friday before the Hùng Kings and 30/4 holidays
]


@dataclass
class Model:
    """What the dossier should look like, from the transition table and the rules of Decree
    61/2018 art. 19 that the handlers enforce."""

    id: int
    etag: str
    payment_pauses: bool
    state: State = State.SUBMITTED
    version: int = 1
    received: bool = False
    supplements: int = 0
    apologies: int = 0
    pending_handovers: int = 0
    assignee: str | None = None  # "a2" after assign, "a" after reassign
    legal_due_at: str | None = None
    stale_etags: list[str] = field(default_factory=list)

    def expected(self, action: Action, actor: str, stale: bool) -> set[int]:
        """The status codes the API may answer with."""
        edge = TRANSITIONS[action]
        if ACTORS[actor] not in edge.roles:
            return {403}
        if actor == "clerk_b":
            return {404}
        if stale:
            return {412}
        if self.state not in edge.sources:
            return {409}
        if actor != "citizen" and edge.staff_at == {Place.HOLDER} and self.pending_handovers:
            return {409}  # on its way to the unit: it must be accepted first (all units are A's)
        if action == Action.RESUBMIT and self.received:
            return {409}  # after receipt the citizen supplies instead
        if action in (Action.SUPPLY, Action.DENY, Action.APOLOGIZE) and not self.received:
            return {409}
        if action == Action.SUPPLY and actor == "citizen":
            return {422}  # nothing uploaded since the request; clerks override (body_for)
        if action == Action.ACCEPT_HANDOVER and self.pending_handovers == 0:
            return {409}
        if action == Action.REQUEST_SUPPLEMENT and self.supplements >= 1:
            return {422}  # once, unless the sector's law says otherwise
        if action == Action.REASSIGN and self.assignee == "a":
            return {409}  # already that clerk's
        if action == Action.RELEASE:
            if self.assignee is None:
                return {409}
            if actor == "clerk_a" and self.assignee != "a":
                return {403}  # a clerk gives back only their own
        if action == Action.APOLOGIZE:
            if self.apologies >= 1:
                return {422}  # the new date may be set once
            return {200, 422}  # 422 when less than one working day is left
        return {200}

    @property
    def paused(self) -> bool:
        """docs/domain.md §3: the clock stops while the citizen supplements a received dossier, and
        while they pay where the procedure's law says so."""
        return (self.state == State.SUPPLEMENT_REQUESTED and self.received) or (
            self.state == State.AWAITING_PAYMENT and self.payment_pauses
        )


def body_for(
    action: Action,
    model: Model,
    assignee: str,
    unit: str,
    other: str = "",
    actor: str = "citizen",
) -> dict[str, Any]:
    """A valid body for each action."""
    if action in (Action.INTAKE_INCOMPLETE, Action.REQUEST_SUPPLEMENT):
        return {"missing": ["Bản sao Giấy khai sinh", "Tờ khai có chữ ký"]}
    if action in (Action.REFUSE, Action.DENY):
        return {"reason": "Không thuộc thẩm quyền giải quyết"}
    if action == Action.FORWARD:
        return {"to_unit": unit, "result": "Đã kiểm tra"}
    if action == Action.ASSIGN:
        return {"assignee": assignee}
    if action == Action.REASSIGN:
        return {"assignee": other, "reason": "Cán bộ nghỉ phép"}
    if action == Action.APOLOGIZE:
        base = datetime.fromisoformat(model.legal_due_at) if model.legal_due_at else START_TIMES[0]
        return {
            "reason": "Cần xác minh thêm tại nơi cư trú",
            "new_due_at": (base + timedelta(days=30)).isoformat(),
        }
    if action == Action.RESOLVE:
        return {"result": "Đã cấp kết quả"}
    if action == Action.RETURN_RESULT:
        return {"method": "desk"}
    if action in (Action.REQUEST_PAYMENT, Action.REQUEST_WITHDRAWAL):
        return {"reason": "Theo quy định"}
    if action == Action.SUPPLY and actor != "citizen":
        return {"note": "Đã bổ sung đủ giấy tờ", "override_reason": "Nhận bản giấy tại bộ phận"}
    if action in (Action.SUPPLY, Action.RESUBMIT):
        return {"note": "Đã bổ sung đủ giấy tờ"}
    return {}


def test_lifecycle_state_machine(app, world, frozen_clock, session):
    """Only table edges happen; version +1 per accepted transition; one ledger entry and one
    audit event per transition; the clock paused exactly while waiting for the citizen."""
    # Every example is one more submission by the same citizen in the same database: the
    # per-citizen limits (tests/dossiers/test_limits.py) would end the walk, not the machine.
    app.config.update(
        DOSSIER_SUBMIT_RATE_LIMIT_PER_ACCOUNT_PER_HOUR=100_000,
        DOSSIER_SUBMIT_RATE_LIMIT_PER_CLIENT_PER_HOUR=100_000,
        DOSSIER_MAX_OPEN_SUBMITTED_PER_CITIZEN=100_000,
    )
    client = world.client
    assignee = world.users["clerk_a2"].username
    other = world.users["clerk_a"].username
    stats: Counter[str] = Counter()

    class Lifecycle(RuleBasedStateMachine):
        model: Model

        @initialize(
            procedure=st.sampled_from(sorted(PAYMENT_PAUSES)), start=st.sampled_from(START_TIMES)
        )
        def new_dossier(self, procedure: str, start: datetime) -> None:
            # The outer transaction is shared by all examples: each starts a dossier of its own.
            frozen_clock.set(start)
            resp = submit(client, world["citizen"], procedure=procedure)
            assert resp.status_code == 201, resp.json
            self.model = Model(resp.json["id"], resp.headers["ETag"], PAYMENT_PAUSES[procedure])
            stats["examples"] += 1

        def perform(self, action: Action, actor: str, stale: bool, unit: str) -> None:
            m = self.model
            stale = stale and bool(m.stale_etags)
            expected = m.expected(action, actor, stale)
            resp = client.post(
                f"/api/v1/dossiers/{m.id}/{action.value.replace('_', '-')}",
                json=body_for(action, m, assignee, unit, other, actor),
                headers={**world[actor], "If-Match": m.stale_etags[-1] if stale else m.etag},
            )
            stats["steps"] += 1
            assert resp.status_code < 500, resp.get_data(as_text=True)
            assert resp.status_code in expected, (action, actor, stale, m, resp.json)
            if resp.status_code != 200:
                assert {"code", "status", "type", "message", "request_id"} <= set(resp.json)
                if action == Action.APOLOGIZE and resp.status_code == 422 and not m.apologies:
                    assert resp.json["type"] == "dossier.apology_too_late"
                return
            edge = TRANSITIONS[action]
            before = m.state
            m.state = edge.target or m.state
            m.version += 1
            m.stale_etags.append(m.etag)
            m.etag = resp.headers["ETag"]
            m.received = m.received or action == Action.RECEIVE
            m.supplements += action == Action.REQUEST_SUPPLEMENT
            m.apologies += action == Action.APOLOGIZE
            m.pending_handovers += (action == Action.FORWARD) - (action == Action.ACCEPT_HANDOVER)
            if action == Action.ASSIGN:
                m.assignee = "a2"
            elif action == Action.REASSIGN:
                m.assignee = "a"
            elif action in (Action.RELEASE, Action.FORWARD):
                m.assignee = None
            m.legal_due_at = resp.json["legal_due_at"]
            body = resp.json
            assert (body["state"], body["version"]) == (m.state.value, m.version)
            assert body["paused"] == m.paused, (before, action, m)
            stats[f"edge {before.value} --{action.value}--> {m.state.value}"] += 1

        @rule(
            action=st.sampled_from(ACTIONS),
            actor=st.sampled_from(sorted(ACTORS)),
            stale=st.booleans(),
            unit=st.sampled_from(UNITS),
        )
        def anything(self, action: Action, actor: str, stale: bool, unit: str) -> None:
            """Any action by anyone, mostly refused."""
            self.perform(action, actor, stale, unit)

        def plausible_step(self, data: st.DataObject) -> None:
            choices = [
                (action, actor)
                for action in ACTIONS
                for actor in sorted(ACTORS)
                if 200 in self.model.expected(action, actor, stale=False)
                # Endings are taken less often, so that most runs get deep into processing.
                for _ in range(1 if action in ENDINGS else 4)
            ]
            if not choices:  # a terminal state: nothing left to do
                return
            # sampled_from favours the first elements (intake_incomplete/resubmit would loop);
            # a drawn Random picks evenly and still shrinks.
            rnd = data.draw(st.randoms(use_true_random=False), label="random")
            action, actor = rnd.choice(choices)
            self.perform(action, actor, rnd.random() < 0.15, rnd.choice(UNITS))

        @rule(data=st.data())
        def plausible(self, data: st.DataObject) -> None:
            """An action the model expects to succeed (sometimes sent with a stale ETag): this
            is what walks the dossier deep into the lifecycle."""
            self.plausible_step(data)

        @rule(hours=st.integers(0, 80), minutes=st.sampled_from([0, 5, 30, 45]), data=st.data())
        def time_passes(self, hours: int, minutes: int, data: st.DataObject) -> None:
            """Working hours, nights, weekends or holidays go by, then someone acts."""
            frozen_clock.advance(hours=hours, minutes=minutes)
            self.plausible_step(data)

        @invariant()
        def stored_dossier_agrees_with_the_model(self) -> None:
            m = self.model
            state, version, paused_since = session.execute(
                select(Dossier.state, Dossier.version, Dossier.paused_since).where(
                    Dossier.id == m.id
                )
            ).one()
            assert (state, version) == (m.state.value, m.version)
            assert (paused_since is not None) == m.paused, (m, paused_since)
            transitions = session.scalar(
                select(func.count())
                .select_from(DossierEvent)
                .where(DossierEvent.dossier_id == m.id, DossierEvent.kind == "transition")
            )
            changes = session.scalar(
                select(func.count())
                .select_from(AuditEvent)
                .where(
                    AuditEvent.stream == f"dossier:{m.id}", AuditEvent.action != "dossier.viewed"
                )
            )
            # The submission is the first transition, so each count equals the version.
            assert transitions == changes == m.version

    run_state_machine_as_test(
        Lifecycle,
        settings=settings(
            max_examples=60,
            stateful_step_count=30,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
    edges = sorted(k for k in stats if k.startswith("edge "))
    table = {(s, a) for a, e in TRANSITIONS.items() if a != Action.SUBMIT for s in e.sources}
    print(
        f"\nstate machine: {stats['examples']} examples, {stats['steps']} actions, "
        f"{sum(stats[k] for k in edges)} accepted; "
        f"{len(edges)} of {len(table)} (state, action) edges of the table taken"
    )

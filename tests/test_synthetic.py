"""The synthetic province: a history consistent with the state machine and the clock ledger,
realistic shares, and full queues for the clerks of the province."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select

from onestop import synthetic
from onestop.dossiers import ledger
from onestop.dossiers.models import Dossier, DossierEvent
from tests.dossiers.helpers import make_world

NOW = datetime(2026, 11, 30, 3, 0, tzinfo=UTC)  # Monday 10:00 in Hà Nội


def test_ten_thousand_generated_dossiers_replay_to_their_columns(client, session):
    """Every one of 10,000 dossiers: its transitions are edges of the state machine, in order,
    and replaying its clock ledger gives exactly the columns stored on the row."""
    world = make_world(client, session)
    # Read before generating: the generator's batches expire what the session holds.
    clerk_a = world.users["clerk_a"].id
    synthetic.ensure_province(session, communes=30, now=NOW)
    first = (session.scalar(select(func.max(Dossier.id))) or 0) + 1
    summary = synthetic.generate(
        session, synthetic.Plan(dossiers=10_000, years=3, seed=7, batch=4000), now=NOW
    )
    assert summary.dossiers == 10_000
    ids = list(session.scalars(select(Dossier.id).where(Dossier.id >= first)))
    assert len(ids) == 10_000
    assert ledger.check(session, ids) == []

    # Shares a province would recognise.
    online = summary.channels["online"] / summary.dossiers
    assert 0.35 < online < 0.55, summary.channels
    finished = session.scalar(
        select(func.count()).where(Dossier.id >= first, Dossier.finished_at.is_not(None))
    )
    late = session.scalar(
        select(func.count()).where(
            Dossier.id >= first,
            Dossier.finished_at.is_not(None),
            Dossier.finished_at > Dossier.legal_due_at,
        )
    )
    assert 0.005 < late / finished < 0.03, (late, finished)
    assert summary.states["returned"] > 0.85 * summary.dossiers
    for state in ("submitted", "received", "processing", "supplement_requested", "resolved"):
        assert summary.states[state] > 0, summary.states  # open work at "now"
    supplements = session.scalar(
        select(func.count()).where(
            DossierEvent.dossier_id >= first,
            DossierEvent.action == "request_supplement",
            DossierEvent.kind == "transition",
        )
    )
    assert 0.04 < supplements / summary.dossiers < 0.12
    months = session.execute(
        select(
            func.count(func.distinct(Dossier.procedure_code)),
            func.count(func.distinct(Dossier.agency_id)),
        ).where(Dossier.id >= first)
    ).one()
    assert months[0] >= 20 and months[1] >= 25

    # The same seed gives the same history (benchmarks and statistics compare runs).
    again = synthetic.Generator(session, synthetic.Plan(dossiers=1, seed=7), now=NOW)
    assert again.dossier(first).c["procedure_code"] == session.get(Dossier, first).procedure_code

    # Codes continue after the generated ones: a dossier received today gets a fresh number.
    codes = session.scalars(select(Dossier.code).where(Dossier.code.is_not(None)))
    assert len(set(codes.all())) == session.scalar(
        select(func.count()).where(Dossier.code.is_not(None))
    )
    assert clerk_a in set(
        session.scalars(select(Dossier.assigned_to_id).where(Dossier.id >= first))
    )


def test_the_clerks_of_a_generated_province_see_full_queues(client, session, frozen_clock):
    frozen_clock.set(NOW)
    world = make_world(client, session)
    synthetic.ensure_province(session, communes=6, now=NOW)
    synthetic.generate(session, synthetic.Plan(dossiers=3000, years=1, seed=3), now=NOW)
    session.commit()  # the requests below begin their own units of work
    tabs = client.get("/api/v1/queues", headers=world["clerk_a"]).json["tabs"]
    counts = {t["view"]: t["count"] for t in tabs}
    assert sum(counts.values()) > 5, counts
    own = {"000.21.01.H56", "000.31.01.H56"}
    for view, n in counts.items():
        if n:
            page = client.get(f"/api/v1/queues/{view}", headers=world["clerk_a"]).json
            units = {r["current_unit_code"] for r in page["items"]}
            receiving = {r["agency_code"] for r in page["items"]}
            assert (units if view != "to_return" else receiving) <= own, (view, units)
            open_rows = [r for r in page["items"] if r["received_at"] and r["state"] != "resolved"]
            assert all(r["time_left_text"] for r in open_rows)
    assert client.get("/api/v1/queues", headers=world["clerk_b"]).json["tabs"] != tabs

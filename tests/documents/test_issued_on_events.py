"""Forms follow the transition wherever it is fired: the API, the command line, a job."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from onestop.core.clock import now
from onestop.core.tx import unit_of_work
from onestop.documents.models import IssuedDocument
from onestop.dossiers import services
from onestop.dossiers.cli import principal_for
from onestop.dossiers.models import Dossier
from onestop.dossiers.states import Action, State
from tests.dossiers.helpers import World, make_world, ok, submit


@pytest.fixture
def world(client, session) -> World:
    return make_world(client, session)


def issued(session, dossier_id: int) -> list[str]:
    return list(
        session.scalars(
            select(IssuedDocument.form_code)
            .where(IssuedDocument.dossier_id == dossier_id)
            .order_by(IssuedDocument.id)
        )
    )


def test_a_reception_from_the_command_line_issues_the_receipt(world, app, session, text_of):
    d = ok(submit(world.client, world["citizen"]), 201)
    clerk = world.users["clerk_a"].username
    result = app.test_cli_runner().invoke(
        args=["onestop", "dossiers", "act", str(d["id"]), "receive", "--as", clerk]
    )
    assert result.exit_code == 0, result.output
    assert "received" in result.output
    docs = ok(world.client.get(f"/api/v1/dossiers/{d['id']}/documents", headers=world["clerk_a"]))
    assert [x["form_code"] for x in docs] == ["01"]
    pdf = world.client.get(docs[0]["download_url"], headers=world["clerk_a"]).data
    code = session.get(Dossier, d["id"]).code
    assert code and code in text_of(pdf)


def test_the_command_line_refuses_an_action_the_state_does_not_allow(world, app, session):
    d = ok(submit(world.client, world["citizen"]), 201)
    result = app.test_cli_runner().invoke(
        args=["onestop", "dossiers", "act", str(d["id"]), "resolve", "--as",
              world.users["clerk_a"].username, "--data", '{"result": "Đã cấp"}']
    )  # fmt: skip
    assert result.exit_code == 1
    assert "Không thể" in result.output
    assert issued(session, d["id"]) == []


def test_a_service_call_in_a_unit_of_work_issues_its_form(world, session):
    """A scheduler job or a script calls the service, not the view: the refusal notice (form
    03) is issued all the same once its unit of work commits."""
    d = ok(submit(world.client, world["citizen"]), 201)
    actor = principal_for(session, world.users["clerk_a"].username)
    assert actor is not None
    with unit_of_work():
        services.transition(
            session,
            d["id"],
            Action.REFUSE,
            actor=actor,
            expected_version=None,
            now=now(),
            params={"reason": "Thủ tục không thuộc thẩm quyền của Ủy ban nhân dân phường."},
        )
    assert issued(session, d["id"]) == ["03"]


def test_a_rolled_back_transition_issues_nothing(world, session):
    d = ok(submit(world.client, world["citizen"]), 201)
    actor = principal_for(session, world.users["clerk_a"].username)
    assert actor is not None

    def receive_then_fail() -> None:
        with unit_of_work():
            services.transition(
                session, d["id"], Action.RECEIVE, actor=actor, expected_version=None,
                now=now(),
            )  # fmt: skip
            raise RuntimeError("something failed after the transition, in the same transaction")

    with pytest.raises(RuntimeError, match="after the transition"):
        receive_then_fail()
    assert session.get(Dossier, d["id"]).state == State.SUBMITTED.value
    assert issued(session, d["id"]) == []
    # The next unit of work does not run what the rolled-back one had queued.
    with unit_of_work():
        pass
    assert issued(session, d["id"]) == []

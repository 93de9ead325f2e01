"""What happens to a dossier, as domain events (``onestop.core.events``) emitted by its services.

Features react by subscribing in their ``init_app`` — documents issue the form a transition
calls for after it commits; an outbox, statistics and notifications subscribe the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from onestop.core.access import Principal
from onestop.core.events import Event
from onestop.dossiers.states import Action, State


@dataclass(frozen=True)
class DossierChanged(Event):
    """Something happened to one dossier (subscribe to this for every change)."""

    dossier_id: int
    agency_id: int
    at: datetime
    actor: Principal | None
    request_id: str | None


@dataclass(frozen=True)
class Submitted(DossierChanged):
    """A dossier was submitted (online, at the desk or by post); it has no code yet."""

    procedure_code: str


@dataclass(frozen=True)
class Transitioned(DossierChanged):
    """A transition committed in the unit of work: ``action`` took the dossier from
    ``from_state`` to ``to_state`` (equal for actions that keep the state) at ``version``."""

    action: Action
    from_state: State
    to_state: State
    version: int


@dataclass(frozen=True)
class Received(Transitioned):
    """The dossier was received: it now has its code and the date promised on the receipt."""

    code: str
    promised_due_at: datetime


@dataclass(frozen=True)
class Reprojected(Event):
    """Open dossiers' legal due dates moved onto a changed calendar (the promised date never
    moves). One event per re-projected group."""

    dossier_ids: tuple[int, ...]
    agency_id: int
    calendar_before: str
    calendar_after: str
    at: datetime

"""What happens to issued documents, as domain events (``onestop.core.events``)."""

from __future__ import annotations

from dataclasses import dataclass

from onestop.core.events import Event


@dataclass(frozen=True)
class DocumentIssued(Event):
    """A form was stored and recorded (``services.record``), by whichever path issued it: after
    a transition, on demand, or by the repair job. A retry that finds the document already
    issued emits nothing."""

    document_id: int
    dossier_id: int | None
    agency_id: int
    form_code: str

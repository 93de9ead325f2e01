"""The indexes the queue views read: partial indexes on the dossiers where they currently sit.

The rows belong to ``dossiers``; only the access paths are the queues' own, so they are declared
here on the dossiers' tables (and created by the migration ``0013_queues``). Each index holds
only the dossiers of one tab (open, unassigned, submitted, resolved…), keyed by the unit or the
assignee and the legal due date, so that a page is an index range scan of at most 50 entries
whatever the size of the history (docs/queues.md has the plans).
"""

from __future__ import annotations

from sqlalchemy import Index, text

from onestop.dossiers.models import Dossier, Handover

OPEN_SQL = (
    "state IN ('received', 'processing', 'supplement_requested', 'awaiting_payment', "
    "'withdrawal_requested')"
)
UNASSIGNED_SQL = "state IN ('received', 'processing') AND assigned_to_id IS NULL"
RUNNING_SQL = f"{OPEN_SQL} AND paused_since IS NULL"
WAITING_SQL = "state IN ('supplement_requested', 'awaiting_payment') AND received_at IS NOT NULL"
SUBMITTED_SQL = "state = 'submitted'"
RESOLVED_SQL = "state = 'resolved'"
PENDING_HANDOVER_SQL = "accepted_at IS NULL"


def _partial(name: str, where: str, *columns) -> Index:
    return Index(name, *columns, postgresql_where=text(where), sqlite_where=text(where))


D = Dossier
QUEUE_INDEXES = [
    _partial("ix_queue_open", OPEN_SQL, D.current_unit_id, D.legal_due_at, D.id),
    _partial("ix_queue_assignee", OPEN_SQL, D.assigned_to_id, D.legal_due_at, D.id),
    _partial("ix_queue_unassigned", UNASSIGNED_SQL, D.current_unit_id, D.legal_due_at, D.id),
    _partial("ix_queue_running", RUNNING_SQL, D.current_unit_id, D.legal_due_at, D.id),
    _partial("ix_queue_waiting", WAITING_SQL, D.current_unit_id, D.legal_due_at, D.id),
    _partial("ix_queue_reception", SUBMITTED_SQL, D.current_unit_id, D.submitted_at, D.id),
    _partial("ix_queue_to_return", RESOLVED_SQL, D.agency_id, D.legal_due_at, D.id),
    _partial(
        "ix_queue_pending_handovers",
        PENDING_HANDOVER_SQL,
        Handover.to_unit_id,
        Handover.dossier_id,
    ),
    _partial("ix_queue_pending_handover_dossier", PENDING_HANDOVER_SQL, Handover.dossier_id),
]

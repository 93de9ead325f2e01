"""Queues: partial indexes for the clerk work queues (open dossiers by unit, assignee, due date).

Revision ID: 0013_queues
Revises: 0012_idempotency_retention
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0013_queues"
down_revision = "0012_idempotency_retention"
branch_labels = None
depends_on = None

OPEN = (
    "state IN ('received', 'processing', 'supplement_requested', 'awaiting_payment', "
    "'withdrawal_requested')"
)
# (name, table, columns, WHERE): each index holds only the rows of one queue tab.
INDEXES = [
    ("ix_queue_open", "dossiers", ["current_unit_id", "legal_due_at", "id"], OPEN),
    ("ix_queue_assignee", "dossiers", ["assigned_to_id", "legal_due_at", "id"], OPEN),
    (
        "ix_queue_unassigned",
        "dossiers",
        ["current_unit_id", "legal_due_at", "id"],
        "state IN ('received', 'processing') AND assigned_to_id IS NULL",
    ),
    (
        "ix_queue_running",
        "dossiers",
        ["current_unit_id", "legal_due_at", "id"],
        f"{OPEN} AND paused_since IS NULL",
    ),
    (
        "ix_queue_waiting",
        "dossiers",
        ["current_unit_id", "legal_due_at", "id"],
        "state IN ('supplement_requested', 'awaiting_payment') AND received_at IS NOT NULL",
    ),
    (
        "ix_queue_reception",
        "dossiers",
        ["current_unit_id", "submitted_at", "id"],
        "state = 'submitted'",
    ),
    ("ix_queue_to_return", "dossiers", ["agency_id", "legal_due_at", "id"], "state = 'resolved'"),
    (
        "ix_queue_pending_handovers",
        "dossier_handovers",
        ["to_unit_id", "dossier_id"],
        "accepted_at IS NULL",
    ),
    (
        "ix_queue_pending_handover_dossier",
        "dossier_handovers",
        ["dossier_id"],
        "accepted_at IS NULL",
    ),
]


def upgrade() -> None:
    for name, table, columns, where in INDEXES:
        op.create_index(
            name,
            table,
            columns,
            unique=False,
            postgresql_where=sa.text(where),
            sqlite_where=sa.text(where),
        )


def downgrade() -> None:
    for name, table, _columns, _where in reversed(INDEXES):
        op.drop_index(name, table_name=table)

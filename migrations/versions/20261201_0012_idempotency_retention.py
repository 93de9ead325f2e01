"""Idempotency records: keyed hashes and sealed replies, purged after a retention period.

Records written before this revision hold the client's key and the reply body in clear (a
dossier with the applicant's name and CCCD); they only serve retries, so they are deleted.

Revision ID: 0012_idempotency_retention
Revises: 0011_audit_keys
Create Date: 2026-12-01
"""

from alembic import op

revision = "0012_idempotency_retention"
down_revision = "0011_audit_keys"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("DELETE FROM idempotency_records")
    op.create_index(
        op.f("ix_idempotency_records_created_at"), "idempotency_records", ["created_at"]
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_idempotency_records_created_at"), table_name="idempotency_records")

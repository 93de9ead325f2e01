"""Keyed audit chain: the key id of each event's HMAC; TRUNCATE refused on the clock ledger.

Rows already present keep ``key_id`` NULL: they are legacy rows, verified as plain SHA-256 and
anchored by the keyed ``audit.sealed`` event that ``flask onestop audit checkpoint`` (and the
scheduled checkpoint job) appends to each of their streams (docs/security.md, "Audit trail").

Revision ID: 0011_audit_keys
Revises: 0010_citizen_upload_budget
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0011_audit_keys"
down_revision = "0010_citizen_upload_budget"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ALTER TABLE on both databases: a batch copy on SQLite would drop the table's
    # append-only triggers.
    op.add_column("audit_events", sa.Column("key_id", sa.String(length=16), nullable=True))
    if op.get_bind().dialect.name == "postgresql":
        # 0004 refused UPDATE and DELETE on the ledger but not TRUNCATE (audit_events had both).
        op.execute(
            "CREATE TRIGGER tr_dossier_events_no_truncate BEFORE TRUNCATE ON dossier_events "
            "FOR EACH STATEMENT EXECUTE FUNCTION refuse_change_dossier_events()"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS tr_dossier_events_no_truncate ON dossier_events")
    op.drop_column("audit_events", "key_id")

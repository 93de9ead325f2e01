"""Dossiers: the dossier table, the append-only clock ledger, control-slip handovers, code
sequences, and idempotency records.

Revision ID: 0004_dossiers
Revises: 0003_calendars
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0004_dossiers"
down_revision = "0003_calendars"
branch_labels = None
depends_on = None


def _append_only(table: str) -> None:
    """Refuse UPDATE and DELETE on ``table`` (the ledger is the source of truth)."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            f"""CREATE OR REPLACE FUNCTION refuse_change_{table}() RETURNS trigger
            LANGUAGE plpgsql AS $$ BEGIN
              RAISE EXCEPTION '{table} is append-only' USING ERRCODE = 'insufficient_privilege';
            END $$"""
        )
        op.execute(
            f"CREATE TRIGGER tr_{table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION refuse_change_{table}()"
        )
    else:
        for event in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER tr_{table}_no_{event.lower()} BEFORE {event} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"
            )


def upgrade() -> None:
    op.create_table(
        "idempotency_records",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("principal", sa.String(length=40), nullable=False),
        sa.Column("key", sa.String(length=100), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("body", sa.String(), nullable=False),
        sa.Column(
            "headers", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_idempotency_records")),
        sa.UniqueConstraint("principal", "key", name=op.f("uq_idempotency_records_principal_key")),
    )
    op.create_table(
        "dossier_code_sequences",
        sa.Column("agency_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("last_value", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["agency_id"],
            ["agencies.id"],
            name=op.f("fk_dossier_code_sequences_agency_id_agencies"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("agency_id", "day", name=op.f("pk_dossier_code_sequences")),
    )
    op.create_table(
        "dossiers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("submission_no", sa.String(length=20), nullable=False),
        sa.Column("code", sa.String(length=60), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=30), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("procedure_code", sa.String(length=40), nullable=False),
        sa.Column("procedure_version_id", sa.Integer(), nullable=False),
        sa.Column("agency_id", sa.Integer(), nullable=False),
        sa.Column("current_unit_id", sa.Integer(), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=True),
        sa.Column("created_by_id", sa.Integer(), nullable=False),
        sa.Column("assigned_to_id", sa.Integer(), nullable=True),
        sa.Column("applicant_kind", sa.String(length=20), nullable=False),
        sa.Column("applicant_name", sa.String(length=200), nullable=False),
        sa.Column("applicant_name_search", sa.String(length=200), nullable=False),
        sa.Column("applicant_id_number", sa.String(length=12), nullable=True),
        sa.Column("applicant_tax_code", sa.String(length=14), nullable=True),
        sa.Column("applicant_birth_date", sa.Date(), nullable=True),
        sa.Column("applicant_address", sa.String(length=500), nullable=False),
        sa.Column("applicant_phone", sa.String(length=20), nullable=True),
        sa.Column("applicant_email", sa.String(length=254), nullable=True),
        sa.Column("sets_count", sa.Integer(), nullable=False),
        sa.Column("result_delivery", sa.String(length=20), nullable=False),
        sa.Column("delivery_address", sa.String(length=500), nullable=False),
        sa.Column("note", sa.String(length=2000), nullable=False),
        sa.Column("lookup_token", sa.String(length=64), nullable=False),
        sa.Column("check_code", sa.String(length=8), nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("clock_start_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("duration_amount", sa.Integer(), nullable=True),
        sa.Column("duration_unit", sa.String(length=20), nullable=True),
        sa.Column("calendar_key", sa.String(length=80), nullable=True),
        sa.Column("payment_pauses_clock", sa.Boolean(), nullable=False),
        sa.Column("max_supplement_requests", sa.Integer(), nullable=False),
        sa.Column("promised_due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("legal_due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("extended_due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("paused_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("paused_seconds", sa.Integer(), nullable=False),
        sa.Column("supplement_count", sa.Integer(), nullable=False),
        sa.Column("apology_count", sa.Integer(), nullable=False),
        sa.Column("current_step", sa.String(length=40), nullable=True),
        sa.Column("step_due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("returned_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("stopped_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("result_summary", sa.String(length=2000), nullable=False),
        sa.Column("return_method", sa.String(length=20), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "applicant_kind IN ('person', 'organisation')", name=op.f("ck_dossiers_applicant_kind")
        ),
        sa.CheckConstraint(
            "channel IN ('in_person', 'online', 'postal')", name=op.f("ck_dossiers_channel_known")
        ),
        sa.CheckConstraint(
            "state IN ('submitted', 'received', 'refused', 'processing', 'supplement_requested', 'awaiting_payment', 'withdrawal_requested', 'stopped', 'resolved', 'returned')",
            name=op.f("ck_dossiers_state_known"),
        ),
        sa.CheckConstraint(
            "supplement_count >= 0 AND apology_count <= 1", name=op.f("ck_dossiers_counters")
        ),
        sa.CheckConstraint("version >= 1", name=op.f("ck_dossiers_version_positive")),
        sa.ForeignKeyConstraint(
            ["agency_id"],
            ["agencies.id"],
            name=op.f("fk_dossiers_agency_id_agencies"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["assigned_to_id"],
            ["users.id"],
            name=op.f("fk_dossiers_assigned_to_id_users"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["users.id"],
            name=op.f("fk_dossiers_created_by_id_users"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["current_unit_id"],
            ["agencies.id"],
            name=op.f("fk_dossiers_current_unit_id_agencies"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["users.id"], name=op.f("fk_dossiers_owner_id_users"), ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(
            ["procedure_version_id"],
            ["procedure_versions.id"],
            name=op.f("fk_dossiers_procedure_version_id_procedure_versions"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dossiers")),
        sa.UniqueConstraint("code", name=op.f("uq_dossiers_code")),
        sa.UniqueConstraint("lookup_token", name=op.f("uq_dossiers_lookup_token")),
        sa.UniqueConstraint("submission_no", name=op.f("uq_dossiers_submission_no")),
    )
    op.create_index("ix_dossiers_agency_state", "dossiers", ["agency_id", "state"], unique=False)
    op.create_index("ix_dossiers_finished", "dossiers", ["agency_id", "finished_at"], unique=False)
    op.create_index("ix_dossiers_owner_id", "dossiers", ["owner_id"], unique=False)
    op.create_index(
        "ix_dossiers_queue",
        "dossiers",
        ["agency_id", "legal_due_at"],
        unique=False,
        postgresql_where=sa.text(
            "state IN ('received', 'processing', 'supplement_requested', 'awaiting_payment', 'withdrawal_requested')"
        ),
        sqlite_where=sa.text(
            "state IN ('received', 'processing', 'supplement_requested', 'awaiting_payment', 'withdrawal_requested')"
        ),
    )
    op.create_table(
        "dossier_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dossier_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("from_state", sa.String(length=30), nullable=True),
        sa.Column("to_state", sa.String(length=30), nullable=True),
        sa.Column("data", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False),
        sa.ForeignKeyConstraint(
            ["actor_id"],
            ["users.id"],
            name=op.f("fk_dossier_events_actor_id_users"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["dossier_id"],
            ["dossiers.id"],
            name=op.f("fk_dossier_events_dossier_id_dossiers"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dossier_events")),
        sa.UniqueConstraint("dossier_id", "seq", name=op.f("uq_dossier_events_dossier_id_seq")),
    )
    op.create_table(
        "dossier_handovers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dossier_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("from_unit_id", sa.Integer(), nullable=False),
        sa.Column("to_unit_id", sa.Integer(), nullable=False),
        sa.Column("handed_by_id", sa.Integer(), nullable=False),
        sa.Column("handed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("accepted_by_id", sa.Integer(), nullable=True),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("step_code", sa.String(length=40), nullable=True),
        sa.Column("step_name", sa.String(length=300), nullable=False),
        sa.Column("step_due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("step_result", sa.String(length=1000), nullable=False),
        sa.ForeignKeyConstraint(
            ["accepted_by_id"],
            ["users.id"],
            name=op.f("fk_dossier_handovers_accepted_by_id_users"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["dossier_id"],
            ["dossiers.id"],
            name=op.f("fk_dossier_handovers_dossier_id_dossiers"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["from_unit_id"],
            ["agencies.id"],
            name=op.f("fk_dossier_handovers_from_unit_id_agencies"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["handed_by_id"],
            ["users.id"],
            name=op.f("fk_dossier_handovers_handed_by_id_users"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["to_unit_id"],
            ["agencies.id"],
            name=op.f("fk_dossier_handovers_to_unit_id_agencies"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dossier_handovers")),
        sa.UniqueConstraint("dossier_id", "seq", name=op.f("uq_dossier_handovers_dossier_id_seq")),
    )

    _append_only("dossier_events")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS tr_dossier_events_append_only ON dossier_events")
        op.execute("DROP FUNCTION IF EXISTS refuse_change_dossier_events()")
    op.drop_table("dossier_handovers")
    op.drop_table("dossier_events")
    op.drop_table("dossier_code_sequences")
    op.drop_table("dossiers")
    op.drop_table("idempotency_records")

"""Documents the repair job could not issue: reported and set aside instead of retried first.

Revision ID: 0014_issue_failures
Revises: 0013_queues
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0014_issue_failures"
down_revision = "0013_queues"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "document_issue_failures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("occasion", sa.String(length=120), nullable=False),
        sa.Column("dossier_id", sa.Integer(), nullable=False),
        sa.Column("form_code", sa.String(length=2), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("first_failed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_failed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("error", sa.String(length=500), nullable=False),
        sa.CheckConstraint(
            "attempts > 0", name=op.f("ck_document_issue_failures_attempts_positive")
        ),
        sa.ForeignKeyConstraint(
            ["dossier_id"],
            ["dossiers.id"],
            name=op.f("fk_document_issue_failures_dossier_id_dossiers"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_document_issue_failures")),
        sa.UniqueConstraint("occasion", name=op.f("uq_document_issue_failures_occasion")),
    )
    op.create_index(
        op.f("ix_document_issue_failures_dossier_id"),
        "document_issue_failures",
        ["dossier_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(
        op.f("ix_document_issue_failures_dossier_id"), table_name="document_issue_failures"
    )
    op.drop_table("document_issue_failures")

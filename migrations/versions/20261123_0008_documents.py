"""Issued documents: the PDF forms the desk issued (bytes in the content-addressed store).

Revision ID: 0008_documents
Revises: 0007_scheduler
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0008_documents"
down_revision = "0007_scheduler"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "issued_documents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dossier_id", sa.Integer(), nullable=True),
        sa.Column("agency_id", sa.Integer(), nullable=False),
        sa.Column("form_code", sa.String(length=2), nullable=False),
        sa.Column("template_version", sa.String(length=20), nullable=False),
        sa.Column("occasion", sa.String(length=120), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("storage_key", sa.String(length=200), nullable=False),
        sa.Column(
            "snapshot",
            sa.JSON().with_variant(postgresql.JSONB(), "postgresql"),
            nullable=False,
        ),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("issued_by_id", sa.Integer(), nullable=True),
        sa.Column("signed", sa.Boolean(), nullable=False),
        sa.Column("supersedes_id", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            "form_code IN ('01', '02', '03', '04', '05', '06', '07')",
            name=op.f("ck_issued_documents_form_code_known"),
        ),
        sa.CheckConstraint("size > 0", name=op.f("ck_issued_documents_size_positive")),
        sa.CheckConstraint("length(sha256) = 64", name=op.f("ck_issued_documents_sha256_length")),
        sa.CheckConstraint(
            "dossier_id IS NOT NULL OR form_code = '07'",
            name=op.f("ck_issued_documents_dossier_required"),
        ),
        sa.ForeignKeyConstraint(
            ["dossier_id"],
            ["dossiers.id"],
            name=op.f("fk_issued_documents_dossier_id_dossiers"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["agency_id"],
            ["agencies.id"],
            name=op.f("fk_issued_documents_agency_id_agencies"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["issued_by_id"],
            ["users.id"],
            name=op.f("fk_issued_documents_issued_by_id_users"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["supersedes_id"],
            ["issued_documents.id"],
            name=op.f("fk_issued_documents_supersedes_id_issued_documents"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_issued_documents")),
        sa.UniqueConstraint("occasion", name=op.f("uq_issued_documents_occasion")),
        sa.UniqueConstraint("sha256", name=op.f("uq_issued_documents_sha256")),
    )
    op.create_index(
        "ix_issued_documents_dossier_id",
        "issued_documents",
        ["dossier_id", "form_code"],
        unique=False,
    )
    op.create_index(
        "ix_issued_documents_agency_id",
        "issued_documents",
        ["agency_id", "form_code"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_issued_documents_agency_id", table_name="issued_documents")
    op.drop_index("ix_issued_documents_dossier_id", table_name="issued_documents")
    op.drop_table("issued_documents")

"""Attachments: the documents uploaded to dossiers (bytes live in the content-addressed store).

Revision ID: 0005_attachments
Revises: 0004_dossiers
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0005_attachments"
down_revision = "0004_dossiers"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "dossier_files",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dossier_id", sa.Integer(), nullable=False),
        sa.Column("slot", sa.String(length=48), nullable=False),
        sa.Column("display_name", sa.String(length=200), nullable=False),
        sa.Column("media_type", sa.String(length=40), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("uploaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("uploaded_by_id", sa.Integer(), nullable=False),
        sa.Column("uploaded_by_role", sa.String(length=20), nullable=False),
        sa.Column("superseded_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "media_type IN ('application/pdf', 'image/jpeg', 'image/png')",
            name=op.f("ck_dossier_files_media_type_allowed"),
        ),
        sa.CheckConstraint("size_bytes > 0", name=op.f("ck_dossier_files_size_positive")),
        sa.CheckConstraint("length(sha256) = 64", name=op.f("ck_dossier_files_sha256_length")),
        sa.ForeignKeyConstraint(
            ["dossier_id"],
            ["dossiers.id"],
            name=op.f("fk_dossier_files_dossier_id_dossiers"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["uploaded_by_id"],
            ["users.id"],
            name=op.f("fk_dossier_files_uploaded_by_id_users"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dossier_files")),
    )
    # One current file per slot; superseded files stay as history.
    op.create_index(
        "uq_dossier_files_current_slot",
        "dossier_files",
        ["dossier_id", "slot"],
        unique=True,
        postgresql_where=sa.text("superseded_at IS NULL"),
        sqlite_where=sa.text("superseded_at IS NULL"),
    )
    op.create_index("ix_dossier_files_sha256", "dossier_files", ["sha256"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_dossier_files_sha256", table_name="dossier_files")
    op.drop_index("uq_dossier_files_current_slot", table_name="dossier_files")
    op.drop_table("dossier_files")

"""Catalogue: procedures, their versions and the agencies offering province-level versions.

Revision ID: 0002_catalogue
Revises: 0001_foundation
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002_catalogue"
down_revision = "0001_foundation"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "procedures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=20), nullable=False),
        sa.Column("current_version", sa.Integer(), nullable=False),
        sa.Column("source_file", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("current_version >= 1", name=op.f("ck_procedures_current_version")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_procedures")),
        sa.UniqueConstraint("code", name=op.f("uq_procedures_code")),
    )
    op.create_table(
        "procedure_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("procedure_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column(
            "definition", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False
        ),
        sa.Column("name", sa.String(length=500), nullable=False),
        sa.Column("name_search", sa.String(length=1000), nullable=False),
        sa.Column("level", sa.String(length=20), nullable=False),
        sa.Column("sector_code", sa.String(length=20), nullable=True),
        sa.Column("sector_name", sa.String(length=200), nullable=False),
        sa.Column("sector_search", sa.String(length=200), nullable=False),
        sa.Column("online_level", sa.String(length=10), nullable=False),
        sa.Column("full_online_eligible", sa.Boolean(), nullable=False),
        sa.Column("all_communes", sa.Boolean(), nullable=False),
        sa.Column("used_by_dossier", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("version >= 1", name=op.f("ck_procedure_versions_version")),
        sa.CheckConstraint(
            "level IN ('province', 'commune')", name=op.f("ck_procedure_versions_level")
        ),
        sa.CheckConstraint(
            "online_level IN ('full', 'partial')", name=op.f("ck_procedure_versions_online_level")
        ),
        sa.ForeignKeyConstraint(
            ["procedure_id"],
            ["procedures.id"],
            name=op.f("fk_procedure_versions_procedure_id_procedures"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_procedure_versions")),
        sa.UniqueConstraint(
            "procedure_id", "version", name=op.f("uq_procedure_versions_procedure_id_version")
        ),
    )
    op.create_table(
        "procedure_agencies",
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("agency_code", sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["procedure_versions.id"],
            name=op.f("fk_procedure_agencies_version_id_procedure_versions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("version_id", "agency_code", name=op.f("pk_procedure_agencies")),
    )
    op.create_index(
        "ix_procedure_agencies_agency_code", "procedure_agencies", ["agency_code"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_procedure_agencies_agency_code", table_name="procedure_agencies")
    op.drop_table("procedure_agencies")
    op.drop_table("procedure_versions")
    op.drop_table("procedures")

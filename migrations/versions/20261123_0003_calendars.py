"""Calendars: stored overrides, agency working hours, the change counter, version snapshots.

Revision ID: 0003_calendars
Revises: 0002_catalogue
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0003_calendars"
down_revision = "0002_catalogue"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "calendar_overrides",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("agency_id", sa.Integer(), nullable=True),
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("source", sa.String(length=300), nullable=False),
        sa.Column("swapped_with", sa.Date(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_version", sa.Integer(), nullable=False),
        sa.Column("removed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("removed_by_id", sa.Integer(), nullable=True),
        sa.Column("removed_version", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            "kind IN ('day_off', 'working_day', 'remove_holiday')",
            name=op.f("ck_calendar_overrides_kind_known"),
        ),
        sa.CheckConstraint(
            "swapped_with IS NULL OR kind = 'working_day'",
            name=op.f("ck_calendar_overrides_swap_only_for_working_day"),
        ),
        sa.CheckConstraint(
            "(removed_at IS NULL) = (removed_version IS NULL)",
            name=op.f("ck_calendar_overrides_removal_complete"),
        ),
        sa.ForeignKeyConstraint(
            ["agency_id"],
            ["agencies.id"],
            name=op.f("fk_calendar_overrides_agency_id_agencies"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["users.id"],
            name=op.f("fk_calendar_overrides_created_by_id_users"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["removed_by_id"],
            ["users.id"],
            name=op.f("fk_calendar_overrides_removed_by_id_users"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_calendar_overrides")),
    )
    op.create_index(
        "ix_calendar_overrides_agency_date",
        "calendar_overrides",
        ["agency_id", "date"],
        unique=False,
    )
    op.create_table(
        "agency_working_hours",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("agency_id", sa.Integer(), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("periods", JSON, nullable=False),
        sa.Column("source", sa.String(length=300), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by_id", sa.Integer(), nullable=True),
        sa.Column("updated_version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["agency_id"],
            ["agencies.id"],
            name=op.f("fk_agency_working_hours_agency_id_agencies"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["updated_by_id"],
            ["users.id"],
            name=op.f("fk_agency_working_hours_updated_by_id_users"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agency_working_hours")),
        sa.UniqueConstraint(
            "agency_id", "valid_from", name=op.f("uq_agency_working_hours_agency_id_valid_from")
        ),
    )
    counter = op.create_table(
        "calendar_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("token", sa.String(length=32), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_calendar_changes_single_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_calendar_changes")),
    )
    # The single counter row every calendar change updates (and locks): version 0, no change yet.
    op.execute(
        counter.insert().values(
            id=1,
            version=0,
            token="initial",  # noqa: S106  # a cache token, not a secret
            changed_at=sa.func.now(),
        )
    )
    op.create_table(
        "calendar_versions",
        sa.Column("key", sa.String(length=80), nullable=False),
        sa.Column("spec", JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_calendar_versions")),
    )


def downgrade() -> None:
    op.drop_table("calendar_versions")
    op.drop_table("calendar_changes")
    op.drop_table("agency_working_hours")
    op.drop_index("ix_calendar_overrides_agency_date", table_name="calendar_overrides")
    op.drop_table("calendar_overrides")

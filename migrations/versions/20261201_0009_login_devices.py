"""Login throttling per account and per known device: the device of a failed attempt, and an
index to count an account's failures from every client.

Revision ID: 0009_login_devices
Revises: 0008_documents
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0009_login_devices"
down_revision = "0008_documents"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("login_failures") as batch:
        batch.add_column(sa.Column("device", sa.String(length=32), nullable=True))
    op.create_index(
        "ix_login_failures_username_at", "login_failures", ["username", "at"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_login_failures_username_at", table_name="login_failures")
    with op.batch_alter_table("login_failures") as batch:
        batch.drop_column("device")

"""A citizen's 24-hour upload allowance sums their recent uploads: index them by uploader.

Revision ID: 0010_citizen_upload_budget
Revises: 0009_login_devices
Create Date: 2026-12-01
"""

from alembic import op

revision = "0010_citizen_upload_budget"
down_revision = "0009_login_devices"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_dossier_files_uploaded_by_id_uploaded_at",
        "dossier_files",
        ["uploaded_by_id", "uploaded_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_dossier_files_uploaded_by_id_uploaded_at", table_name="dossier_files")

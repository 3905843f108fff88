"""Indexes for every Packages API order_by

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

INDEXES = {
    "ix_packages_project_created": ["project_id", "created_at"],
    "ix_packages_project_name": ["project_id", "name"],
    "ix_packages_project_version": ["project_id", "version"],
    "ix_packages_project_type": ["project_id", "package_type"],
}


def upgrade() -> None:
    for name, columns in INDEXES.items():
        op.create_index(name, "packages", columns)


def downgrade() -> None:
    for name in INDEXES:
        op.drop_index(name, "packages")

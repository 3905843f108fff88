"""Indexes for the case-insensitive lookups of project and namespace paths and usernames

``:id`` in every API path may be a full path, compared case-insensitively as GitLab
routes do; without these, each such request scanned the projects table.

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

INDEXES = [
    ("ix_projects_full_path_lower", "projects", "full_path"),
    ("ix_namespaces_full_path_lower", "namespaces", "full_path"),
    ("ix_users_username_lower", "users", "username"),
]


def upgrade() -> None:
    for name, table, column in INDEXES:
        op.create_index(name, table, [sa.text(f"lower({column})")])


def downgrade() -> None:
    for name, table, _column in INDEXES:
        op.drop_index(name, table_name=table)

"""Download counts: on packages and package files, and per package and UTC day
(beyond-gitlab §7.1)

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table in ("packages", "package_files"):
        op.add_column(
            table, sa.Column("download_count", sa.BigInteger(), server_default="0", nullable=False)
        )
    op.create_table(
        "package_download_days",
        sa.Column("package_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["package_id"],
            ["packages.id"],
            name=op.f("fk_package_download_days_package_id_packages"),
        ),
        sa.PrimaryKeyConstraint("package_id", "day", name=op.f("pk_package_download_days")),
    )


def downgrade() -> None:
    op.drop_table("package_download_days")
    for table in ("package_files", "packages"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("download_count")

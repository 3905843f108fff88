"""Where a blob's bytes live, for stores that cannot name an object by its sha256

An S3 multipart upload fixes the object key before the first byte is sent, and the
sha256 is only known after the last one: the object gets a unique key and the blob row
records it. NULL means the location derives from the sha256 (the local store).

Revision ID: 0003_blob_storage_key
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_blob_storage_key"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("blobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("storage_key", sa.String(length=1024), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("blobs", schema=None) as batch_op:
        batch_op.drop_column("storage_key")

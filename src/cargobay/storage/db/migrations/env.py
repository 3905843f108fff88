"""Alembic environment: migrations run on a connection handed in by migrate.py."""

from __future__ import annotations

from alembic import context

from cargobay.storage.db.tables import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through cargobay (cargobay db upgrade)")

context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()

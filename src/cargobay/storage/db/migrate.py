"""Run Alembic migrations programmatically (``cargobay db upgrade``, first ``serve``, tests)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection

from cargobay.storage.db.database import Database, lock_exclusively

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


async def upgrade_async(database: Database, revision: str = "head") -> None:
    def run(connection: Connection) -> None:
        command.upgrade(alembic_config(connection), revision)

    async with database.engine.begin() as conn:
        # Several nodes starting at once on one PostgreSQL migrate one after the other
        # (the later ones find nothing to do); DDL is transactional there.
        await lock_exclusively(conn, "migrations")
        await conn.run_sync(run)


def upgrade(url: str, revision: str = "head") -> None:
    """Bring the database at ``url`` to ``revision``. Safe to run on every start."""

    async def main() -> None:
        database = Database(url)
        try:
            await upgrade_async(database, revision)
        finally:
            await database.dispose()

    asyncio.run(main())

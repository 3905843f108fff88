"""Engine construction and the two kinds of transaction services use.

SQLite: WAL, foreign keys, a busy timeout, and ``BEGIN IMMEDIATE`` for write
transactions. A deferred transaction that later wants to write can fail at once with
SQLITE_BUSY instead of waiting; taking the write lock up front makes concurrent writers
queue on the busy timeout instead.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry

ASYNC_DRIVERS = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+asyncpg"}


def async_url(url: str) -> str:
    parsed = make_url(url)
    driver = ASYNC_DRIVERS.get(parsed.get_backend_name())
    if driver is None:
        raise ValueError(f"unsupported database URL {url!r}: use sqlite:/// or postgresql://")
    return parsed.set(drivername=driver).render_as_string(hide_password=False)


class Database:
    def __init__(self, url: str, *, pool_size: int = 10) -> None:
        self.url = async_url(url)
        self.is_sqlite = self.url.startswith("sqlite")
        options: dict[str, Any] = {}
        if self.is_sqlite:
            options["connect_args"] = {"timeout": 30}
            database = make_url(self.url).database
            if database and database != ":memory:":
                Path(database).parent.mkdir(parents=True, exist_ok=True)
        else:
            options.update(pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True)
        self.engine: AsyncEngine = create_async_engine(self.url, **options)
        if self.is_sqlite:
            _configure_sqlite(self.engine)

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        """A read-only transaction (a consistent snapshot on both engines)."""
        async with self.engine.connect() as conn, conn.begin():
            yield conn

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncConnection]:
        """A write transaction, committed when the block exits without an exception."""
        async with self.engine.connect() as conn:
            conn = await conn.execution_options(cargobay_write=True)
            async with conn.begin():
                yield conn

    async def dispose(self) -> None:
        await self.engine.dispose()


def advisory_key(name: str) -> int:
    """A stable signed 64-bit key for a named PostgreSQL advisory lock."""
    return int.from_bytes(hashlib.sha256(f"cargobay:{name}".encode()).digest()[:8], signed=True)


async def lock_exclusively(conn: AsyncConnection, name: str, *, wait: bool = True) -> bool:
    """Take the transaction-scoped lock ``name``, for work that must not run twice at
    once across processes and machines (first-start bootstrap, migrations, scheduled
    work). PostgreSQL: an advisory lock released at commit or rollback; ``wait=False``
    returns False at once when another transaction holds it. SQLite: write transactions
    (``Database.write``) are already exclusive, so this is a no-op that returns True."""
    if conn.dialect.name != "postgresql":
        return True
    function = "pg_advisory_xact_lock" if wait else "pg_try_advisory_xact_lock"
    result = await conn.execute(text(f"SELECT {function}(:key)"), {"key": advisory_key(name)})
    return wait or bool(result.scalar())


def _configure_sqlite(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def on_connect(dbapi_conn: Any, _record: ConnectionPoolEntry) -> None:
        # Let us emit BEGIN ourselves (the pysqlite/aiosqlite default is wrong for us).
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")  # a 201 means the row survives power loss
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def on_begin(conn: Any) -> None:
        write = conn.get_execution_options().get("cargobay_write", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

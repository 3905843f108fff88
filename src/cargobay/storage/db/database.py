"""Engine construction and the ways services reach the database: ``read`` (a snapshot
for lookups by key), ``scan`` (a snapshot for statements that grow with the data),
``write``, and ``first`` (one prepared statement, for the download path); ``fetch`` runs
a ``Prepared`` statement inside any of them.

SQLite: WAL, foreign keys, and ``BEGIN IMMEDIATE`` for write transactions (a deferred
transaction that later wants to write can fail at once with SQLITE_BUSY instead of
waiting). Each process has one writer: one connection, behind a lock that queues the
process's write transactions in order. SQLite's busy handler is no queue: with a
connection per writer, 20 concurrent uploads polled it for the write lock and some lost
for 30 s, after their body had arrived (a 500 and a lost upload). The statements of a
short write run inline (holding the write lock, they never wait) and the commit, which
fsyncs, runs on a thread. Writers that queue meanwhile share the next commit (group
commit): each block runs in a savepoint of one transaction, which the last writer in
the queue commits, and each is answered once that commit is durable. A commit per block,
its thread hop and fsync under the lock, had capped uploads at one per hop (~200/s with
8 clients, most of each request spent waiting for the lock). Only when another process
holds the write lock does ``BEGIN IMMEDIATE`` wait, on a thread, on SQLite's busy
handler, so several processes on one file still take turns.

SQLite reads run inline, on the event loop's own thread, through a synchronous
connection pool: a WAL reader never waits for a lock, and an indexed lookup takes
microseconds, far less than a hop to aiosqlite's connection thread and back (under 64
concurrent requests those hops, and the GIL hand-offs behind them, cost milliseconds
each). Writes, which may wait on the write lock and fsync, stay on aiosqlite's thread.
Inline connections are ``query_only``: a read transaction that tries to write fails
instead of blocking the loop.
"""

from __future__ import annotations

import asyncio
import hashlib
import sqlite3
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from time import perf_counter
from typing import Any, Protocol, TypeVarTuple, overload

import anyio.to_thread
from sqlalchemy import Connection as SyncConnection
from sqlalchemy import (
    CursorResult,
    Dialect,
    Engine,
    Executable,
    Select,
    create_engine,
    event,
    text,
)
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import make_url
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry, PoolProxiedConnection
from sqlalchemy.sql.dml import UpdateBase
from sqlalchemy.sql.selectable import TypedReturnsRows

from cargobay.errors import unavailable

ASYNC_DRIVERS = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+asyncpg"}
_Ts = TypeVarTuple("_Ts")


class Connection(Protocol):
    """What services and repositories use of a transaction's connection: an
    ``AsyncConnection``, or an ``InlineConnection`` for SQLite reads."""

    @property
    def dialect(self) -> Dialect: ...

    @overload
    async def execute(
        self, statement: TypedReturnsRows[*_Ts], parameters: Any = None
    ) -> CursorResult[*_Ts]: ...

    @overload
    async def execute(
        self, statement: Executable, parameters: Any = None
    ) -> CursorResult[*tuple[Any, ...]]: ...


class InlineConnection:
    """A synchronous connection behind the awaitable ``execute`` of ``AsyncConnection``:
    the statement runs at once, on the calling thread."""

    def __init__(self, conn: SyncConnection) -> None:
        self._conn = conn

    @property
    def dialect(self) -> Dialect:
        return self._conn.dialect

    async def execute(self, statement: Executable, parameters: Any = None) -> CursorResult[Any]:
        return self._conn.execute(statement, parameters)

    async def fetch(self, prepared: Prepared, values: dict[str, Any]) -> list[dict[str, Any]]:
        return self.fetch_now(prepared, values)

    def fetch_now(self, prepared: Prepared, values: dict[str, Any]) -> list[dict[str, Any]]:
        driver: Any = self._conn.connection.driver_connection  # sqlite3.Connection
        return _on_driver(driver, prepared.form(self._conn.dialect, values), values)


class ThreadedConnection(InlineConnection):
    """The same, each statement on a worker thread: for write transactions whose
    statements grow with the data (cleanup, garbage collection, copies)."""

    async def execute(self, statement: Executable, parameters: Any = None) -> CursorResult[Any]:
        return await anyio.to_thread.run_sync(self._conn.execute, statement, parameters)

    async def fetch(self, prepared: Prepared, values: dict[str, Any]) -> list[dict[str, Any]]:
        return await anyio.to_thread.run_sync(self.fetch_now, prepared, values)


class Prepared:
    """A statement for the path of every upload and download (a SELECT, or an INSERT
    with RETURNING), which SQLite runs straight on the driver: there SQLAlchemy's
    per-execution work (finding the statement's compiled form, building its execution
    context, processing each parameter and column into a Row) costs several times what
    SQLite's does. Compiled once per dialect; parameters and columns go through the type
    processors SQLAlchemy would apply, so values look the same as from ``execute``.

    An INSERT's column values are given at execution, and it is compiled for the keys
    given, as SQLAlchemy does. Python-side column defaults and expanding IN lists need
    SQLAlchemy's execution; a statement with them is refused when compiled."""

    def __init__(self, statement: Select[Any] | UpdateBase) -> None:
        self.statement = statement
        self._dml = isinstance(statement, UpdateBase)
        self._forms: dict[tuple[str, tuple[str, ...]], _Form] = {}

    def form(self, dialect: Dialect, values: dict[str, Any] | None = None) -> _Form:
        key = (dialect.name, tuple(values) if self._dml and values else ())
        form = self._forms.get(key)
        if form is None:
            form = self._forms[key] = _Form(self.statement, dialect, list(key[1]))
        return form


class _Form:
    def __init__(self, statement: Any, dialect: Dialect, column_keys: list[str]) -> None:
        compiled: Any = statement.compile(dialect=dialect, column_keys=column_keys or None)
        if compiled.insert_prefetch or compiled.update_prefetch:
            raise ValueError("a prepared statement's columns have Python-side defaults")
        if any(bind.expanding for bind in compiled.binds.values()):
            raise ValueError("a prepared statement cannot expand IN lists")
        self.sql = str(compiled)
        self.names = tuple(compiled.positiontup or ())
        self.defaults = {
            name: bind.value for name, bind in compiled.binds.items() if not bind.required
        }
        self.binders = [
            compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect)
            for name in self.names
        ]
        columns = list(statement.exported_columns)
        self.keys = [str(column.key) for column in columns]
        self.readers = [
            column.type.dialect_impl(dialect).result_processor(dialect, None) for column in columns
        ]

    def parameters(self, values: dict[str, Any]) -> list[Any]:
        merged = {**self.defaults, **values}
        return [
            merged[name] if binder is None else binder(merged[name])
            for name, binder in zip(self.names, self.binders, strict=True)
        ]

    def row(self, raw: Sequence[Any]) -> dict[str, Any]:
        return {
            key: value if reader is None or value is None else reader(value)
            for key, reader, value in zip(self.keys, self.readers, raw, strict=True)
        }


def _on_driver(driver: Any, form: _Form, values: dict[str, Any]) -> list[dict[str, Any]]:
    """Run ``form`` on a sqlite3 connection, in whatever transaction it is in. Its errors
    reach callers as SQLAlchemy's, as from ``execute``."""
    parameters = form.parameters(values)
    try:
        cursor = driver.execute(form.sql, parameters)
        try:
            raw = cursor.fetchall()
        finally:
            cursor.close()  # reset the statement: no read snapshot may outlive the call
    except sqlite3.Error as exc:
        raise sa_exc.DBAPIError.instance(form.sql, parameters, exc, sqlite3.Error) from exc
    return [form.row(r) for r in raw]


async def fetch(
    conn: Connection, prepared: Prepared, values: dict[str, Any]
) -> list[dict[str, Any]]:
    """The rows of ``prepared`` in the caller's transaction, by column key: on SQLite
    straight on the driver, elsewhere through SQLAlchemy (a round trip to PostgreSQL
    costs far more than SQLAlchemy's own work)."""
    if isinstance(conn, InlineConnection):
        return await conn.fetch(prepared, values)
    return [dict(row._mapping) for row in await conn.execute(prepared.statement, values)]


async def fetch_one(
    conn: Connection, prepared: Prepared, values: dict[str, Any]
) -> dict[str, Any] | None:
    """The first row of ``prepared``, or None."""
    rows = await fetch(conn, prepared, values)
    return rows[0] if rows else None


# What a bad, unreachable or failing database raises, for the CLI to report in one line.
DATABASE_ERRORS: tuple[type[Exception], ...] = (
    sa_exc.DBAPIError,
    sa_exc.ArgumentError,
    sa_exc.NoSuchModuleError,
)


def database_error_text(exc: BaseException) -> str:
    """What went wrong reaching or using a database, on one line, without the SQL."""
    cause: BaseException = exc
    if isinstance(exc, sa_exc.DBAPIError) and exc.orig is not None:
        cause = exc.orig
    lines = str(cause).strip().splitlines()
    return f"database error: {lines[0] if lines else type(cause).__name__}"


def async_url(url: str) -> str:
    parsed = make_url(url)
    driver = ASYNC_DRIVERS.get(parsed.get_backend_name())
    if driver is None:
        raise ValueError(f"unsupported database URL {url!r}: use sqlite:/// or postgresql://")
    return parsed.set(drivername=driver).render_as_string(hide_password=False)


# How long a writer waits for another process's SQLite write lock, and a request for a
# pooled connection, before it fails: far beyond any transaction, so under load work
# waits its turn instead of failing.
LOCK_WAIT_SECONDS = 120


class Database:
    def __init__(self, url: str, *, pool_size: int = 10) -> None:
        self.url = async_url(url)
        self.is_sqlite = self.url.startswith("sqlite")
        # A connection returned to a full pool is closed: size it for the concurrency
        # expected, or every burst reopens connections (and, on SQLite, threads).
        # Requests beyond it wait for a connection rather than fail.
        options: dict[str, Any] = {
            "pool_size": pool_size,
            "max_overflow": pool_size,
            "pool_timeout": LOCK_WAIT_SECONDS,
        }
        self.inline: Engine | None = None
        self._held: PoolProxiedConnection | None = None  # first()'s SQLite connection
        self._writer: Engine | None = None
        self._writer_conn: SyncConnection | None = None
        self._write_turn: asyncio.Lock | None = None
        self._queued = 0  # writers waiting for their turn
        self._group: _Group | None = None  # the transaction the next writer joins
        self._flushes: set[asyncio.Future[None]] = set()
        # Told how long each read, scan, first() and write took, by op ("read", "write"):
        # the metrics (services/registry.py sets it).
        self.timed: Callable[[str, float], None] | None = None
        if self.is_sqlite:
            options["connect_args"] = {"timeout": LOCK_WAIT_SECONDS}
            database = make_url(self.url).database
            if database and database != ":memory:":
                Path(database).parent.mkdir(parents=True, exist_ok=True)
                sync_url = make_url(self.url).set(drivername="sqlite+pysqlite")
                # Never blocks on checkout (unbounded overflow): blocking would stall
                # the event loop. Only reads that suspend mid-transaction hold more
                # than one connection at a time.
                self.inline = create_engine(
                    sync_url,
                    pool_size=pool_size,
                    max_overflow=-1,
                    connect_args={"timeout": LOCK_WAIT_SECONDS, "check_same_thread": False},
                )
                _configure_sqlite(self.inline, query_only=True)
                # The one writer: its BEGIN IMMEDIATE first tries without waiting
                # (timeout 0), inline; see write().
                self._writer = create_engine(
                    sync_url,
                    pool_size=1,
                    max_overflow=0,
                    connect_args={"timeout": 0, "check_same_thread": False},
                )
                _configure_sqlite(
                    self._writer, query_only=False, busy_timeout_ms=0, emits_begin=False
                )
        else:
            options["pool_pre_ping"] = True
        self.engine: AsyncEngine = create_async_engine(self.url, **options)
        if self.is_sqlite:
            _configure_sqlite(self.engine.sync_engine, query_only=False)

    @asynccontextmanager
    async def _pooled(self) -> AsyncIterator[AsyncConnection]:
        """A connection from the pool. A wait past the pool's timeout is the server
        overloaded, not a bug: 503 with Retry-After."""
        conn = self.engine.connect()
        try:
            await conn.start()
        except PoolTimeout:
            raise unavailable("the database is busy", retry_after=5) from None
        try:
            yield conn
        finally:
            await conn.close()

    @asynccontextmanager
    async def read(self) -> AsyncIterator[Connection]:
        """A read-only transaction (a consistent snapshot on both engines), for lookups
        by key: on SQLite it runs inline, on the event loop's thread."""
        start = perf_counter()
        try:
            if self.inline is not None:
                with self.inline.connect() as sync_conn, sync_conn.begin():
                    yield InlineConnection(sync_conn)
                return
            async with self._pooled() as conn, conn.begin():
                yield conn
        finally:
            if self.timed is not None:
                self.timed("read", perf_counter() - start)

    @asynccontextmanager
    async def scan(self) -> AsyncIterator[Connection]:
        """A read-only transaction for statements whose cost grows with the data (list
        pages and their counts, previews): on SQLite it runs on aiosqlite's thread, so
        a count over 100,000 rows does not hold up every other request of the process."""
        start = perf_counter()
        try:
            async with self._pooled() as conn, conn.begin():
                yield conn
        finally:
            if self.timed is not None:
                self.timed("read", perf_counter() - start)

    async def first(self, prepared: Prepared, values: dict[str, Any]) -> dict[str, Any] | None:
        """The first row of one prepared SELECT, by column key, in a snapshot of its own
        (one statement needs no transaction around it): no thread hop on SQLite, one
        round trip on PostgreSQL."""
        start = perf_counter()
        try:
            if self.inline is not None:
                form = prepared.form(self.inline.dialect)
                if self._held is None:
                    # The statement runs to its end without suspending: one connection,
                    # taken from the pool once and kept, serves every call.
                    self._held = self.inline.raw_connection()
                rows = _on_driver(self._held.driver_connection, form, values)
                return rows[0] if rows else None
            async with self._pooled() as conn:
                form = prepared.form(conn.dialect)
                asyncpg: Any = (await conn.get_raw_connection()).driver_connection
                found = await asyncpg.fetchrow(form.sql, *form.parameters(values))
            return None if found is None else form.row(found)
        finally:
            if self.timed is not None:
                self.timed("read", perf_counter() - start)

    @asynccontextmanager
    async def write(self, *, bulk: bool = False) -> AsyncIterator[Connection]:
        """A write transaction, committed when the block exits without an exception
        (on SQLite together with the blocks queued behind it) and durable when the
        ``async with`` is left. Keep it short: on SQLite it holds the database's only
        write lock, and its statements run inline on the event loop unless ``bulk``
        (statements whose cost grows with the data) sends each to a thread."""
        start = perf_counter()
        try:
            async with self._write(bulk) as conn:
                yield conn
        finally:
            if self.timed is not None:
                self.timed("write", perf_counter() - start)

    @asynccontextmanager
    async def _write(self, bulk: bool) -> AsyncIterator[Connection]:
        if self._writer is None:
            async with self._pooled() as conn:
                conn = await conn.execution_options(cargobay_write=True)
                async with conn.begin():
                    yield conn
            return
        if self._write_turn is None:
            self._write_turn = asyncio.Lock()
        self._queued += 1
        try:
            await self._write_turn.acquire()  # the process's writers queue here, in order
        except BaseException:
            self._queued -= 1
            if self._group is not None:
                # Writers before us may have left their commit to us: see it done.
                flush = asyncio.ensure_future(self._commit_left())
                self._flushes.add(flush)
                flush.add_done_callback(self._flushes.discard)
            raise
        self._queued -= 1
        group: _Group | None = None
        joined = False
        try:
            group = self._group or await self._open_group()
            driver = group.driver
            driver.execute("SAVEPOINT cargobay_write")
            try:
                yield ThreadedConnection(group.writer) if bulk else InlineConnection(group.writer)
            except BaseException as exc:
                if driver.in_transaction:
                    driver.execute("ROLLBACK TO cargobay_write")
                    driver.execute("RELEASE cargobay_write")
                else:  # SQLite gave up the whole transaction (a full disk, an I/O error)
                    self._abandon(group, exc)
                raise
            driver.execute("RELEASE cargobay_write")
            group.members += 1
            joined = True
        finally:
            try:
                # The last writer in the queue commits the group, this block with it.
                if (
                    group is not None
                    and self._group is group
                    and (self._queued == 0 or group.members >= GROUP_LIMIT)
                ):
                    self._group = None
                    await self._commit(group)
            finally:
                self._write_turn.release()
        if joined:
            # Answered once durable. A cancelled caller stops waiting; the commit goes on.
            await asyncio.shield(group.committed)

    async def _commit_left(self) -> None:
        """Commit the open group unless a writer queued behind it will."""
        assert self._write_turn is not None
        async with self._write_turn:
            group = self._group
            if group is not None and self._queued == 0:
                self._group = None
                await self._commit(group)

    async def _open_group(self) -> _Group:
        assert self._writer is not None
        writer = self._writer_conn
        if writer is None or writer.closed or writer.invalidated:
            writer = self._writer_conn = self._writer.connect()
        driver: Any = writer.connection.dbapi_connection  # sqlite3.Connection
        await _begin_immediate(driver)
        self._group = _Group(writer, driver)
        return self._group

    async def _commit(self, group: _Group) -> None:
        """Commit the group's transaction, on a thread (it fsyncs), and tell its writers.
        Not cancellable: a transaction that reached its commit completes."""
        if not group.members:
            _roll_back(group)
            return
        try:
            await anyio.to_thread.run_sync(group.transaction.commit)
        except BaseException as exc:
            _roll_back(group)
            group.committed.set_exception(_as_error(exc))
            if not isinstance(exc, Exception):
                raise
        else:
            group.committed.set_result(None)

    def _abandon(self, group: _Group, exc: BaseException) -> None:
        self._group = None
        _roll_back(group)
        if group.members:
            group.committed.set_exception(_as_error(exc))

    async def dispose(self) -> None:
        if self._held is not None:
            self._held.close()
            self._held = None
        if self._writer_conn is not None:
            self._writer_conn.close()
            self._writer_conn = None
        if self._writer is not None:
            self._writer.dispose()
        if self.inline is not None:
            self.inline.dispose()
        await self.engine.dispose()


def advisory_key(name: str) -> int:
    """A stable signed 64-bit key for a named PostgreSQL advisory lock."""
    return int.from_bytes(hashlib.sha256(f"cargobay:{name}".encode()).digest()[:8], signed=True)


async def lock_exclusively(conn: Connection, name: str, *, wait: bool = True) -> bool:
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


# At most this many write blocks share a commit, so that a steady stream of writers still
# commits regularly.
GROUP_LIMIT = 64


class _Group:
    """Write blocks that share one SQLite transaction and its commit (group commit):
    each runs inside a savepoint, so one that fails undoes only its own statements."""

    def __init__(self, writer: SyncConnection, driver: Any) -> None:
        self.writer = writer
        self.driver = driver  # sqlite3.Connection, in the transaction BEGIN IMMEDIATE opened
        self.transaction = writer.begin()  # SQLAlchemy's side of it (emits nothing)
        self.members = 0  # blocks whose changes the transaction holds
        self.committed: asyncio.Future[None] = asyncio.get_running_loop().create_future()


def _roll_back(group: _Group) -> None:
    group.transaction.rollback()  # also after a failed commit, which leaves it inactive
    if group.driver.in_transaction:
        group.driver.rollback()


def _as_error(exc: BaseException) -> Exception:
    """What the group's writers raise when its commit failed."""
    if isinstance(exc, Exception):
        return exc
    return RuntimeError(f"the write transaction was interrupted ({type(exc).__name__})")


async def _begin_immediate(driver: Any) -> None:
    """Take SQLite's write lock: inline when it is free (microseconds), else on a thread
    that waits on SQLite's busy handler while another process writes."""
    try:
        driver.execute("BEGIN IMMEDIATE")
        return
    except sqlite3.OperationalError as exc:
        if not _is_busy(exc):
            raise

    def wait_for_lock() -> None:
        driver.execute(f"PRAGMA busy_timeout={LOCK_WAIT_SECONDS * 1000}")
        try:
            driver.execute("BEGIN IMMEDIATE")
        finally:
            driver.execute("PRAGMA busy_timeout=0")

    await anyio.to_thread.run_sync(wait_for_lock)


def _is_busy(exc: sqlite3.OperationalError) -> bool:
    return getattr(exc, "sqlite_errorcode", None) in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)


def _configure_sqlite(
    engine: Engine,
    *,
    query_only: bool,
    busy_timeout_ms: int = LOCK_WAIT_SECONDS * 1000,
    emits_begin: bool = True,
) -> None:
    @event.listens_for(engine, "connect")
    def on_connect(dbapi_conn: Any, _record: ConnectionPoolEntry) -> None:
        # Let us emit BEGIN ourselves (the pysqlite/aiosqlite default is wrong for us).
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")  # a 201 means the row survives power loss
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={busy_timeout_ms}")
        if query_only:
            cursor.execute("PRAGMA query_only=ON")
        cursor.close()

    if not emits_begin:
        return  # the caller emits BEGIN IMMEDIATE itself

    @event.listens_for(engine, "begin")
    def on_begin(conn: Any) -> None:
        write = conn.get_execution_options().get("cargobay_write", False)
        # Straight to the driver: SQLAlchemy's statement machinery costs more than BEGIN.
        cursor = conn.connection.dbapi_connection.cursor()
        cursor.execute("BEGIN IMMEDIATE" if write else "BEGIN")
        cursor.close()

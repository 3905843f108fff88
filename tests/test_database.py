"""storage/db/database.py: prepared statements give what SQLAlchemy's execution gives,
on both engines, and SQLite's write blocks share commits (group commit) without one
writer's failure reaching another's changes, and without a writer being answered before
its changes are durable."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import datetime

import pytest
from sqlalchemy import bindparam, insert, literal, select, text

from cargobay.services.registry import Registry
from cargobay.storage.db.database import Prepared, fetch, fetch_one
from cargobay.storage.db.errors import IntegrityError
from cargobay.storage.db.tables import blobs, package_files

pytestmark = pytest.mark.anyio

MOMENT = datetime(2026, 12, 3, 18, 30, 15, 123456)


def blob_row(n: int) -> dict[str, object]:
    return {
        "sha256": f"{n:064x}",
        "size": n,
        "md5": "0" * 32,
        "sha1": "0" * 40,
        "created_at": MOMENT,
        "storage_key": None,
    }


_INSERT = Prepared(insert(blobs).returning(blobs))
_BY_SIZE = Prepared(
    select(blobs, literal(7).label("seven"))
    .where(blobs.c.size >= bindparam("size"))
    .order_by(blobs.c.size)
)


async def stored(registry: Registry) -> list[int]:
    async with registry.db.read() as conn:
        return list((await conn.execute(select(blobs.c.size).order_by(blobs.c.size))).scalars())


async def test_a_prepared_statement_reads_and_writes_what_execute_would(
    registry: Registry,
) -> None:
    async with registry.db.write() as conn:
        inserted = [(await fetch(conn, _INSERT, blob_row(n)))[0] for n in (1, 2, 3)]
    assert inserted[0] == blob_row(1)  # the datetime comes back as it went in
    async with registry.db.read() as conn:
        prepared = await fetch(conn, _BY_SIZE, {"size": 2})
        executed = [
            dict(row._mapping) for row in await conn.execute(_BY_SIZE.statement, {"size": 2})
        ]
        missing = await fetch_one(conn, _BY_SIZE, {"size": 4})
    assert prepared == executed == [{**blob_row(n), "seven": 7} for n in (2, 3)]
    assert missing is None


async def test_a_prepared_statement_refused_by_the_database_raises_sqlalchemys_error(
    registry: Registry,
) -> None:
    async with registry.db.write() as conn:
        await fetch(conn, _INSERT, blob_row(1))
    with pytest.raises(IntegrityError):
        async with registry.db.write() as conn:
            await fetch(conn, _INSERT, blob_row(1))
    assert await stored(registry) == [1]


@pytest.mark.backends("sqlite-local")
async def test_concurrent_writers_share_commits_and_a_failing_one_undoes_only_its_own(
    registry: Registry,
) -> None:
    commits: list[str] = []
    async with registry.db.write():  # opens the writer's connection
        pass
    writer = registry.db._writer_conn
    assert writer is not None
    driver: sqlite3.Connection = writer.connection.dbapi_connection  # type: ignore[assignment]
    driver.set_trace_callback(lambda sql: commits.append(sql) if sql == "COMMIT" else None)

    async def write(n: int) -> int:
        async with registry.db.write() as conn:
            await fetch(conn, _INSERT, blob_row(n))
            await asyncio.sleep(0)  # the others queue meanwhile
            if n % 5 == 0:
                raise ValueError(n)
        # Answered: committed, and visible to every other connection.
        assert n in await stored(registry)
        return n

    results = await asyncio.gather(*(write(n) for n in range(1, 31)), return_exceptions=True)
    driver.set_trace_callback(None)

    refused = [r for r in results if isinstance(r, ValueError)]
    assert sorted(e.args[0] for e in refused) == [5, 10, 15, 20, 25, 30]
    assert await stored(registry) == [n for n in range(1, 31) if n % 5]
    assert 1 <= len(commits) < 24  # 24 writers committed, in fewer commits


@pytest.mark.backends("sqlite-local")
async def test_a_failed_commit_reaches_every_writer_of_the_group_and_keeps_nothing(
    registry: Registry,
) -> None:
    async def write(n: int, *, dangling: bool = False) -> None:
        async with registry.db.write() as conn:
            await fetch(conn, _INSERT, blob_row(n))
            if dangling:
                # A deferred foreign key: SQLite refuses it at COMMIT, not before.
                await conn.execute(text("PRAGMA defer_foreign_keys=ON"))
                await conn.execute(
                    insert(package_files).values(
                        package_id=999_999,
                        file_name="orphan",
                        size=1,
                        file_md5="0" * 32,
                        file_sha1="0" * 40,
                        file_sha256=f"{n:064x}",
                        status=0,
                        created_at=MOMENT,
                        updated_at=MOMENT,
                    )
                )
            await asyncio.sleep(0)  # the others queue meanwhile

    results = await asyncio.gather(
        write(1), write(2, dangling=True), write(3), return_exceptions=True
    )
    assert all(isinstance(r, IntegrityError) for r in results), results
    assert await stored(registry) == []
    await write(4)  # the writer works on
    assert await stored(registry) == [4]


@pytest.mark.backends("sqlite-local")
async def test_a_writer_cancelled_while_waiting_for_its_commit_is_committed_still(
    registry: Registry,
) -> None:
    second_inside, release_second = asyncio.Event(), asyncio.Event()

    async def first() -> None:
        async with registry.db.write() as conn:
            await fetch(conn, _INSERT, blob_row(1))
            await asyncio.sleep(0.01)  # the second writer queues meanwhile

    async def second() -> None:
        async with registry.db.write() as conn:
            second_inside.set()
            await fetch(conn, _INSERT, blob_row(2))
            await release_second.wait()

    waiting = asyncio.create_task(first())
    committing = asyncio.create_task(second())
    await second_inside.wait()  # the first block is done, its commit left to the second
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    release_second.set()
    await committing
    assert await stored(registry) == [1, 2]


@pytest.mark.backends("sqlite-local")
async def test_a_writer_that_gives_up_its_turn_does_not_leave_the_group_uncommitted(
    registry: Registry,
) -> None:
    go = asyncio.Event()

    async def first() -> None:
        async with registry.db.write() as conn:
            await fetch(conn, _INSERT, blob_row(1))
            await go.wait()

    async def second() -> None:
        async with registry.db.write() as conn:
            await fetch(conn, _INSERT, blob_row(2))

    leaving = asyncio.create_task(first())
    await asyncio.sleep(0)
    queued = asyncio.create_task(second())
    await asyncio.sleep(0)  # queued for its turn
    go.set()
    await asyncio.sleep(0)  # the first block ends, leaving the commit to the queued writer
    queued.cancel()  # which gives up before its turn comes
    with pytest.raises(asyncio.CancelledError):
        await queued
    await asyncio.wait_for(leaving, 5)
    assert await stored(registry) == [1]


async def test_every_kind_of_block_is_timed_for_the_metrics(registry: Registry) -> None:
    """cargobay_db_query_duration_seconds (beyond-gitlab §6.2): reads, scans, first()
    and writes, those that fail included, reach Database.timed, by op."""
    seen: list[tuple[str, float]] = []
    registry.db.timed = lambda op, seconds: seen.append((op, seconds))
    one = Prepared(select(literal(1).label("one")))
    async with registry.db.read() as conn:
        await conn.execute(select(literal(1)))
    async with registry.db.scan() as conn:
        await conn.execute(select(literal(1)))
    assert await registry.db.first(one, {}) == {"one": 1}
    async with registry.db.write() as conn:
        await conn.execute(insert(blobs).values(blob_row(1)))
    with pytest.raises(IntegrityError):
        async with registry.db.write() as conn:
            await conn.execute(insert(blobs).values(blob_row(1)))  # the same key again
    assert [op for op, _ in seen] == ["read", "read", "read", "write", "write"]
    assert all(0 <= seconds < 5 for _, seconds in seen)


async def test_the_registry_writes_its_database_timings_to_the_histogram(
    registry: Registry,
) -> None:
    async with registry.db.read() as conn:
        await conn.execute(select(literal(1)))
    registry.metrics.tally.flush()
    count = registry.metrics.registry.get_sample_value(
        "cargobay_db_query_duration_seconds_count", {"op": "read"}
    )
    assert count is not None and count >= 1

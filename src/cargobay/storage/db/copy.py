"""Make one database's rows equal to another's, table by table, ids preserved (``cargobay
migrate database``: SQLite to PostgreSQL).

A sync, not a one-shot copy: rows missing from the target are inserted, rows that differ
are updated, rows the source no longer has are deleted. Running it again after a partial
run, or after the source changed, converges; on an unchanged source it writes nothing.
Deletions go children first, inserts parents first (metadata.sorted_tables), each batch
in its own target transaction. The caller reads the source in one transaction, so the
target receives one consistent snapshot even while the source keeps serving.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Column, Table, delete, insert, select, text, tuple_, update

from cargobay.storage.db.database import Connection, Database
from cargobay.storage.db.tables import metadata

BATCH = 1000


@dataclass(slots=True)
class TableSync:
    table: str
    rows: int = 0
    inserted: int = 0
    updated: int = 0
    deleted: int = 0


def _key_columns(table: Table) -> list[Column[Any]]:
    return list(table.primary_key.columns)


def _key(table: Table) -> Any:
    columns = _key_columns(table)
    return columns[0] if len(columns) == 1 else tuple_(*columns)


def _key_of(table: Table, row: Any) -> tuple[Any, ...]:
    return tuple(row._mapping[c.name] for c in _key_columns(table))


async def _batches(
    conn: Connection, table: Table, columns: Sequence[Any]
) -> AsyncIterator[list[Any]]:
    """All rows of ``columns``, in key order, BATCH at a time (keyset pagination)."""
    key_columns = _key_columns(table)
    last: tuple[Any, ...] | None = None
    while True:
        query = select(*columns).order_by(*key_columns).limit(BATCH)
        if last is not None:
            bound = last[0] if len(last) == 1 else tuple_(*last)
            query = query.where(_key(table) > bound)
        rows = list(await conn.execute(query))
        if not rows:
            return
        yield rows
        last = _key_of(table, rows[-1])


def _matching(table: Table, keys: Sequence[tuple[Any, ...]]) -> Any:
    if len(_key_columns(table)) == 1:
        return _key(table).in_([k[0] for k in keys])
    return _key(table).in_(keys)


async def sync_tables(
    source: Connection, target: Database, say: Callable[[str], None]
) -> list[TableSync]:
    tables = list(metadata.sorted_tables)
    report = {t.name: TableSync(t.name) for t in tables}
    for table in reversed(tables):  # deletions: children before parents
        async with target.read() as conn:
            gone: list[tuple[Any, ...]] = []
            async for rows in _batches(conn, table, _key_columns(table)):
                keys = [_key_of(table, r) for r in rows]
                present = {
                    _key_of(table, r)
                    for r in await source.execute(
                        select(*_key_columns(table)).where(_matching(table, keys))
                    )
                }
                gone.extend(k for k in keys if k not in present)
        for start in range(0, len(gone), BATCH):
            async with target.write() as conn:
                doomed = gone[start : start + BATCH]
                await conn.execute(delete(table).where(_matching(table, doomed)))
        report[table.name].deleted = len(gone)
    for table in tables:  # inserts and updates: parents before children
        sync = report[table.name]
        async for rows in _batches(source, table, list(table.columns)):
            sync.rows += len(rows)
            wanted = {_key_of(table, r): dict(r._mapping) for r in rows}
            async with target.write() as conn:
                have = {
                    _key_of(table, r): dict(r._mapping)
                    for r in await conn.execute(select(table).where(_matching(table, list(wanted))))
                }
                missing = [row for key, row in wanted.items() if key not in have]
                if missing:
                    await conn.execute(insert(table), missing)
                for key, row in wanted.items():
                    if key in have and have[key] != row:
                        where = [c == v for c, v in zip(_key_columns(table), key, strict=True)]
                        await conn.execute(update(table).where(*where).values(row))
                        sync.updated += 1
                sync.inserted += len(missing)
        say(
            f"{table.name}: {sync.rows} rows, {sync.inserted} inserted, "
            f"{sync.updated} updated, {sync.deleted} deleted"
        )
    return [report[t.name] for t in tables]


async def reset_sequences(target: Database) -> None:
    """After explicit ids, PostgreSQL's sequences must continue past the largest id."""
    async with target.write() as conn:
        if conn.dialect.name != "postgresql":
            return  # SQLite's AUTOINCREMENT follows explicit ids by itself
        for table in metadata.sorted_tables:
            if "id" not in table.c or not table.c.id.primary_key:
                continue
            await conn.execute(
                text(
                    f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "  # noqa: S608
                    f"COALESCE((SELECT MAX(id) FROM {table.name}), 0) + 1, false)"
                )
            )


async def table_digest(conn: Connection, table: Table) -> tuple[int, str]:
    """(rows, sha256 over every row in key order): equal on both sides when the copy is
    complete, whatever the engine."""
    digest = hashlib.sha256()
    count = 0
    async for rows in _batches(conn, table, list(table.columns)):
        for row in rows:
            digest.update(repr(tuple(row)).encode())
            count += 1
    return count, digest.hexdigest()


async def differences(source: Connection, target: Database) -> list[str]:
    """Tables whose rows differ between the source and the target."""
    found = []
    async with target.read() as conn:
        for table in metadata.sorted_tables:
            mine, theirs = await table_digest(source, table), await table_digest(conn, table)
            if mine != theirs:
                found.append(f"{table.name}: {mine[0]} rows in the source, {theirs[0]} in the copy")
    return found

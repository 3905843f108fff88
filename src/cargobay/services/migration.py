"""Move an embedded install (SQLite + local blobs) to the scale-out setup (PostgreSQL +
S3), while it keeps serving (``cargobay migrate``, docs/deployment.md).

Both steps are re-runnable and converge: run them while the old server runs (the bulk),
stop it, run them again (what changed since), start the new nodes.

- ``copy_database``: the target is migrated to head, then made equal to one consistent
  snapshot of the source, table by table, ids preserved, sequences moved past them; then
  both sides are compared row by row (a digest per table).
- ``copy_blobs``: every blob a row names is streamed from the local store into the bucket
  under its digest, hashed on the way and completed only when its sha256 matches the row;
  one already there with that size and digest is skipped. Rows need no change: on S3 a
  row without a storage key names the object ``<prefix>sha256/<ab>/<sha256>``.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import anyio

from cargobay.storage.blobs.base import BlobLocation
from cargobay.storage.blobs.local import LocalBlobStore
from cargobay.storage.blobs.s3 import BlobCorrupt, S3BlobStore
from cargobay.storage.db import collect, copy
from cargobay.storage.db.database import Database
from cargobay.storage.db.migrate import upgrade_async

READ_CHUNK = 1024 * 1024


@dataclass(slots=True)
class DatabaseCopy:
    tables: list[copy.TableSync]
    differences: list[str]

    @property
    def rows(self) -> int:
        return sum(t.rows for t in self.tables)

    @property
    def written(self) -> int:
        return sum(t.inserted + t.updated + t.deleted for t in self.tables)


async def copy_database(
    source: Database, target: Database, say: Callable[[str], None] = lambda _: None
) -> DatabaseCopy:
    if source.url == target.url:
        raise ValueError("the source and the target are the same database")
    await upgrade_async(source)
    await upgrade_async(target)
    async with source.read() as snapshot:
        tables = await copy.sync_tables(snapshot, target, say)
        await copy.reset_sequences(target)
        say("verifying: comparing every row")
        differences = await copy.differences(snapshot, target)
    return DatabaseCopy(tables, differences)


@dataclass(slots=True)
class BlobCopy:
    copied: int = 0
    skipped: int = 0
    bytes_copied: int = 0
    missing: list[str] = field(default_factory=list)  # no local file, or a short one
    corrupt: list[str] = field(default_factory=list)  # the local bytes do not hash right

    @property
    def complete(self) -> bool:
        return not self.missing and not self.corrupt


async def copy_blobs(
    database: Database,
    source: LocalBlobStore,
    target: S3BlobStore,
    *,
    jobs: int = 4,
    say: Callable[[str], None] = lambda _: None,
) -> BlobCopy:
    async with database.read() as conn:
        # Rows with a storage key were uploaded to a bucket already.
        rows = await collect.blobs_without_key(conn)
    report = BlobCopy()
    limiter = anyio.CapacityLimiter(jobs)

    async def one(sha256: str, size: int) -> None:
        async with limiter:
            await _copy_blob(sha256, size, source, target, report)
            done = report.copied + report.skipped
            if done % 100 == 0:
                say(f"{done}/{len(rows)} blobs")

    async with anyio.create_task_group() as tasks:
        for sha256, size in rows:
            tasks.start_soon(one, sha256, size)
    say(
        f"{len(rows)} blobs: {report.copied} copied ({report.bytes_copied} bytes), "
        f"{report.skipped} already there, {len(report.missing)} missing, "
        f"{len(report.corrupt)} corrupt"
    )
    return report


async def _copy_blob(
    sha256: str, size: int, source: LocalBlobStore, target: S3BlobStore, report: BlobCopy
) -> None:
    key = target.key_of(BlobLocation(sha256))
    if await target.describe(key) == (size, sha256):
        report.skipped += 1
        return
    if await source.size(BlobLocation(sha256)) != size:
        report.missing.append(sha256)
        return
    try:
        stored = await target.put_at(key, _read(source, sha256), expect_sha256=sha256)
    except BlobCorrupt:
        report.corrupt.append(sha256)
        return
    if await target.describe(key) != (stored.size, sha256) or stored.size != size:
        report.missing.append(sha256)
        return
    report.copied += 1
    report.bytes_copied += size


async def _read(source: LocalBlobStore, sha256: str) -> AsyncIterator[bytes]:
    async with await anyio.open_file(source.path_for(sha256), "rb") as file:
        while chunk := await file.read(READ_CHUNK):
            yield chunk


async def close_quietly(*stores: LocalBlobStore | S3BlobStore) -> None:
    for store in stores:
        with contextlib.suppress(Exception):
            await store.close()

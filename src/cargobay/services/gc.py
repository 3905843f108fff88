"""Garbage collection: purge rows pending destruction, then delete the bytes nothing
references any more, once they are older than the grace period (design §3).

Order matters and every step is safe to interrupt or to run in several processes at once:
1. the store puts back what an interrupted collection had moved aside;
2. package file rows, then package rows, pending destruction are deleted;
3. blob rows no file row references are deleted, then their bytes;
4. bytes no blob row names are deleted (what step 3 left because it was still young,
   what a crash between step 3's two halves left, uploads whose row never committed);
5. unfinished uploads older than the grace period are removed.
A row is only ever deleted under a condition re-checked in the same statement, and
bytes only through the store's ``delete_unless_rewritten``, which keeps a blob an upload
wrote again after the collector judged it garbage. Killing a collection at any point
leaves either garbage (collected next time) or nothing to do; never a row whose bytes
are gone.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from cargobay.domain.models import utcnow
from cargobay.services.registry import Registry
from cargobay.storage.blobs.base import CollectableBlobStore
from cargobay.storage.db import collect as sql
from cargobay.storage.db.database import Connection
from cargobay.storage.db.errors import DBAPIError, IntegrityError

log = logging.getLogger("cargobay.gc")
BATCH = 500


@dataclass(slots=True)
class Report:
    restored: int = 0
    files_purged: int = 0
    packages_purged: int = 0
    blob_rows_deleted: int = 0
    blobs_deleted: int = 0
    bytes_freed: int = 0
    stale_uploads_removed: int = 0

    def freed(self, size: int | None) -> None:
        """Count what ``delete_unless_rewritten`` answered."""
        if size is not None:
            self.blobs_deleted += 1
            self.bytes_freed += size

    def summary(self) -> str:
        return ", ".join(f"{name.replace('_', ' ')}: {getattr(self, name)}" for name in FIELDS)


FIELDS = tuple(Report.__dataclass_fields__)


async def collect_garbage(
    registry: Registry,
    *,
    grace: timedelta | None = None,
    now: datetime | None = None,
    progress: Callable[[str], None] | None = None,
    stopping: Callable[[], bool] | None = None,
) -> Report:
    """``stopping`` is asked between batches; when it says so the collection ends early
    (a server shutting down). Whatever is left waits for the next run. Counted in the
    metrics (services/metrics.py), whoever runs it (the scheduler, the CLI)."""
    metrics = registry.metrics
    try:
        report = await _collect(registry, grace, now, progress, stopping)
    except BaseException:
        metrics.gc_runs.labels("failed").inc()
        raise
    metrics.gc_runs.labels("success").inc()
    metrics.gc_blobs_deleted.inc(report.blobs_deleted)
    metrics.gc_freed_bytes.inc(report.bytes_freed)
    metrics.gc_last_success.set_to_current_time()
    return report


async def _collect(
    registry: Registry,
    grace: timedelta | None,
    now: datetime | None,
    progress: Callable[[str], None] | None,
    stopping: Callable[[], bool] | None,
) -> Report:
    if grace is None:
        grace = timedelta(seconds=registry.settings.gc_grace_period_seconds)
    cutoff = (now or utcnow()) - grace
    say = progress or (lambda _text: None)
    report = Report()
    store = registry.blobs
    if not isinstance(store, CollectableBlobStore):
        log.warning("the %s blob store cannot collect garbage: rows only", type(store).__name__)

    if isinstance(store, CollectableBlobStore):
        say("restoring blobs an interrupted collection moved aside")
        report.restored = await store.recover_interrupted_deletes()

    say("purging rows pending destruction")
    report.files_purged = await _repeat(registry, sql.purge_pending_files)
    report.packages_purged = await _repeat(registry, sql.purge_pending_packages)
    if not isinstance(store, CollectableBlobStore):
        return report

    say("deleting blobs no package file references")
    while True:
        try:
            async with registry.db.write(bulk=True) as conn:
                gone = await sql.drop_unreferenced_blob_rows(conn, BATCH)
        except (IntegrityError, DBAPIError) as exc:
            # An upload referenced one of these blobs while we deleted it (PostgreSQL
            # refuses through the foreign key). Nothing was deleted; try next run.
            log.info("blob rows in use concurrently, left for the next run: %s", exc)
            break
        report.blob_rows_deleted += len(gone)
        for location in gone:
            report.freed(await store.delete_unless_rewritten(location, cutoff))
        if len(gone) < BATCH or (stopping is not None and stopping()):
            break

    say("deleting stored blobs no row names")
    async for batch in store.stored_before(cutoff):
        if stopping is not None and stopping():
            break
        async with registry.db.read() as conn:
            known = await sql.known_locations(conn, batch)
        for location in batch:
            if location not in known:
                report.freed(await store.delete_unless_rewritten(location, cutoff))

    say("removing unfinished uploads")
    report.stale_uploads_removed = await store.remove_stale_uploads(cutoff)
    say(f"done: {report.summary()}")
    return report


async def _repeat(registry: Registry, purge: Callable[[Connection, int], Awaitable[int]]) -> int:
    """Run a purge in short transactions of BATCH rows until it finds no more."""
    total = 0
    while True:
        async with registry.db.write(bulk=True) as conn:
            count = await purge(conn, BATCH)
        total += count
        if count < BATCH:
            return total

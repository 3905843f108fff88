"""Scheduled work inside each server process: due cleanup policies and the garbage
collector.

Every process polls; the database decides who runs what. A due cleanup policy is claimed
by a conditional UPDATE of its next_run_at in the same transaction as its run, and the
collector's turn by one on the ``gc`` row of scheduled_tasks, so with N processes (or N
machines on one PostgreSQL) each due run happens once. No lock files, no leader: a
process that dies loses at most the run it had claimed, which comes round again.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime, timedelta

import anyio

from cargobay.domain.models import utcnow
from cargobay.services import cleanup, gc
from cargobay.services.registry import Registry
from cargobay.storage.db import collect as sql

log = logging.getLogger("cargobay.scheduler")
GC_TASK = "gc"
Stopping = Callable[[], bool] | None  # asked between steps: time to stop?


async def tick(registry: Registry, now: datetime | None = None, stopping: Stopping = None) -> None:
    """One pass: run what is due now."""
    now = now or utcnow()
    for run in await cleanup.run_due(registry, now, stopping=stopping):
        if run.removals:
            log.info(
                "cleanup policy of %s removed %d items", run.project.full_path, len(run.removals)
            )
    if stopping is None or not stopping():
        await run_gc_if_due(registry, now, stopping)


async def run_gc_if_due(
    registry: Registry, now: datetime, stopping: Stopping = None
) -> gc.Report | None:
    interval = timedelta(seconds=registry.settings.gc_interval_seconds)
    async with registry.db.write() as conn:
        await sql.ensure_task(conn, GC_TASK, now + interval)
        claimed = await sql.claim_task(conn, GC_TASK, now, now + interval)
    if not claimed:
        return None
    try:
        report = await gc.collect_garbage(registry, now=now, stopping=stopping)
    except Exception as exc:
        async with registry.db.write() as conn:
            await sql.finish_task(conn, GC_TASK, utcnow(), f"failed: {exc!r}")
        raise
    async with registry.db.write() as conn:
        await sql.finish_task(conn, GC_TASK, utcnow(), report.summary())
    log.info("garbage collection: %s", report.summary())
    return report


async def run_until(registry: Registry, stop: anyio.Event) -> None:
    poll = registry.settings.scheduler_poll_seconds
    while True:
        with anyio.move_on_after(poll):
            await stop.wait()
        if stop.is_set():
            return
        try:
            await tick(registry, stopping=stop.is_set)
        except Exception:
            # A failed pass (database restarting, disk full) must not end the scheduler.
            log.exception("scheduled work failed; retrying in %s s", poll)


@asynccontextmanager
async def scheduler(registry: Registry) -> AsyncIterator[None]:
    """Run the scheduler for as long as the block lasts (the app's lifespan). On the way
    out it asks the scheduler to stop and waits for the step under way: cancelling in the
    middle of a transaction could leave a connection holding the database's write lock."""
    if not registry.settings.scheduler_enabled:
        yield
        return
    stop = anyio.Event()
    async with anyio.create_task_group() as tasks:
        tasks.start_soon(run_until, registry, stop)
        try:
            yield
        finally:
            stop.set()

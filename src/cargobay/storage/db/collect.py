"""SQL for the garbage collector and the scheduler's instance-wide tasks.

The database decides what is garbage: a package file row is gone once purged, a blob row
once no file row references it, and the bytes once no blob row names them. Every
statement re-checks its condition where it deletes, so concurrent collectors and uploads
never remove something that became referenced in between; the foreign key from
package_files to blobs refuses the rest (the collector skips that batch).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, exists, select, update

from cargobay.domain.models import FileStatus, PackageStatus
from cargobay.storage.blobs.base import BlobLocation
from cargobay.storage.db.database import Connection
from cargobay.storage.db.expressions import insert_ignoring_conflicts
from cargobay.storage.db.tables import (
    blobs,
    package_build_infos,
    package_download_days,
    package_files,
    packages,
    scheduled_tasks,
)

# ---------------------------------------------------------------- purging rows


async def purge_pending_files(conn: Connection, limit: int) -> int:
    ids = (
        select(package_files.c.id)
        .where(package_files.c.status == FileStatus.pending_destruction)
        .limit(limit)
        .scalar_subquery()
    )
    result = await conn.execute(
        delete(package_files).where(
            package_files.c.id.in_(ids),
            package_files.c.status == FileStatus.pending_destruction,
        )
    )
    return int(result.rowcount)


def _no_files() -> Any:
    return ~exists().where(package_files.c.package_id == packages.c.id)


async def purge_pending_packages(conn: Connection, limit: int) -> int:
    """Packages pending destruction that no file row references any more."""
    gone = packages.c.status == PackageStatus.pending_destruction
    ids = [
        r[0]
        for r in await conn.execute(select(packages.c.id).where(gone, _no_files()).limit(limit))
    ]
    if not ids:
        return 0
    await conn.execute(delete(package_build_infos).where(package_build_infos.c.package_id.in_(ids)))
    days = package_download_days.c.package_id.in_(ids)
    await conn.execute(delete(package_download_days).where(days))
    result = await conn.execute(delete(packages).where(packages.c.id.in_(ids), gone, _no_files()))
    return int(result.rowcount)


async def drop_unreferenced_blob_rows(conn: Connection, limit: int) -> list[BlobLocation]:
    """Delete up to ``limit`` blob rows no file references; return where their bytes are."""
    unreferenced = ~exists().where(package_files.c.file_sha256 == blobs.c.sha256)
    ids = select(blobs.c.sha256).where(unreferenced).limit(limit).scalar_subquery()
    result = await conn.execute(
        delete(blobs)
        .where(blobs.c.sha256.in_(ids), unreferenced)
        .returning(blobs.c.sha256, blobs.c.storage_key)
    )
    return [BlobLocation(r.sha256, r.storage_key) for r in result]


async def known_locations(conn: Connection, locations: Sequence[BlobLocation]) -> set[BlobLocation]:
    """Which of these locations a blob row names (so their bytes are not garbage)."""
    found: set[BlobLocation] = set()
    by_digest = [loc.sha256 for loc in locations if loc.key is None]
    by_key = [loc.key for loc in locations if loc.key is not None]
    if by_digest:
        rows = await conn.execute(
            select(blobs.c.sha256).where(
                blobs.c.sha256.in_(by_digest), blobs.c.storage_key.is_(None)
            )
        )
        found.update(BlobLocation(r[0]) for r in rows)
    if by_key:
        rows = await conn.execute(
            select(blobs.c.sha256, blobs.c.storage_key).where(blobs.c.storage_key.in_(by_key))
        )
        keys = {r[1] for r in rows}
        found.update(loc for loc in locations if loc.key in keys)
    return found


# ---------------------------------------------------------------- scheduled tasks


async def ensure_task(conn: Connection, name: str, first_run_at: datetime) -> None:
    await conn.execute(
        insert_ignoring_conflicts(conn, scheduled_tasks)
        .values(name=name, next_run_at=first_run_at)
        .on_conflict_do_nothing()
    )


async def claim_task(conn: Connection, name: str, now: datetime, next_run_at: datetime) -> bool:
    """Take a due task: of several processes racing, one moves next_run_at on."""
    result = await conn.execute(
        update(scheduled_tasks)
        .where(scheduled_tasks.c.name == name, scheduled_tasks.c.next_run_at <= now)
        .values(next_run_at=next_run_at, last_started_at=now)
    )
    return result.rowcount == 1


async def finish_task(conn: Connection, name: str, now: datetime, result: str) -> None:
    await conn.execute(
        update(scheduled_tasks)
        .where(scheduled_tasks.c.name == name)
        .values(last_finished_at=now, last_result=result)
    )


async def blobs_without_key(conn: Connection) -> list[tuple[str, int]]:
    """(sha256, size) of the blobs a local store holds (rows with a storage key were
    uploaded to a bucket already), in sha256 order."""
    rows = await conn.execute(
        select(blobs.c.sha256, blobs.c.size)
        .where(blobs.c.storage_key.is_(None))
        .order_by(blobs.c.sha256)
    )
    return [(sha256, int(size)) for sha256, size in rows]

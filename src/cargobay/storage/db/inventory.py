"""What the registry holds, for the inventory gauges of /-/metrics (services/metrics.py):
packages by status, live files, the bytes of distinct blobs and of live files. Four
aggregate statements, run at most once a minute per worker."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select

from cargobay.domain.models import FileStatus, PackageStatus
from cargobay.storage.db.database import Connection
from cargobay.storage.db.tables import blobs, package_files, packages


@dataclass(frozen=True, slots=True)
class Inventory:
    packages: dict[str, int]  # by status name, every status present (0 when none)
    package_files: int  # live files of packages that are not pending destruction
    stored_bytes: int  # sum of the sizes of distinct blobs (what the store holds)
    logical_bytes: int  # sum of the sizes of live files (what clients can download)


async def inventory(conn: Connection) -> Inventory:
    by_status = {status.name: 0 for status in PackageStatus}
    rows = await conn.execute(select(packages.c.status, func.count()).group_by(packages.c.status))
    for status, count in rows:
        by_status[PackageStatus(status).name] = int(count)
    live = (
        select(func.count(), func.coalesce(func.sum(package_files.c.size), 0))
        .select_from(package_files.join(packages, packages.c.id == package_files.c.package_id))
        .where(package_files.c.status == FileStatus.default)
        .where(packages.c.status != PackageStatus.pending_destruction)
    )
    files, logical = (await conn.execute(live)).one()
    stored = (await conn.execute(select(func.coalesce(func.sum(blobs.c.size), 0)))).scalar_one()
    return Inventory(by_status, int(files), int(stored), int(logical))

"""SQL for packages and their files: lookups, status changes, build infos, and the
summaries the web pages show. The upload's checks and record: uploads.py; the download's
lookups: downloads.py."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, or_, select, text, update

from cargobay.domain.models import (
    DISPLAYABLE,
    INSTALLABLE,
    FileStatus,
    Package,
    PackageFile,
    PackageStatus,
    PackageType,
)
from cargobay.storage.db.database import Connection
from cargobay.storage.db.records import to_file, to_package
from cargobay.storage.db.tables import (
    blobs,
    package_build_infos,
    package_files,
    packages,
)

# ---------------------------------------------------------------- packages and files


def not_pending_destruction(table: Any) -> Any:
    """The predicate of the partial unique index on (project, type, name, version), as
    literal SQL: with it in a lookup's WHERE, SQLite and PostgreSQL can prove the index
    applies (a bound parameter would not do), instead of scanning the project's packages.
    ``table``: packages or an alias of it."""
    return text(f"{table.name}.status != {int(PackageStatus.pending_destruction)}")


async def find_package(
    conn: Connection,
    project_id: int,
    name: str,
    version: str,
    statuses: Sequence[PackageStatus] = INSTALLABLE,
) -> Package | None:
    """The newest package with this exact name and version (names are case-sensitive)."""
    query = (
        select(packages)
        .where(
            packages.c.project_id == project_id,
            packages.c.package_type == PackageType.generic,
            packages.c.name == name,
            packages.c.version == version,
            packages.c.status.in_([int(s) for s in statuses]),
        )
        .order_by(packages.c.id.desc())
        .limit(1)
    )
    if PackageStatus.pending_destruction not in statuses:
        query = query.where(not_pending_destruction(packages))
    row = (await conn.execute(query)).first()
    return to_package(row) if row else None


async def release_candidates(conn: Connection, project_id: int, name: str) -> list[tuple[int, str]]:
    """(id, version) of the packages ``~latest`` and ``~newest`` choose from: generic,
    this exact name, status default (hidden, deprecated and the rest never)."""
    rows = await conn.execute(
        select(packages.c.id, packages.c.version).where(
            packages.c.project_id == project_id,
            packages.c.package_type == PackageType.generic,
            packages.c.name == name,
            packages.c.status == PackageStatus.default,
        )
    )
    return [(row.id, row.version) for row in rows]


async def live_files(conn: Connection, package_id: int) -> list[PackageFile]:
    """The package's servable files, oldest first, with their blobs' storage keys."""
    rows = await conn.execute(
        select(package_files, blobs.c.storage_key)
        .join(blobs, blobs.c.sha256 == package_files.c.file_sha256)
        .where(
            package_files.c.package_id == package_id, package_files.c.status == FileStatus.default
        )
        .order_by(package_files.c.id)
    )
    return [to_file(r) for r in rows]


async def set_package_status(
    conn: Connection, package_id: int, status: PackageStatus, now: datetime
) -> None:
    await conn.execute(
        update(packages).where(packages.c.id == package_id).values(status=status, updated_at=now)
    )


async def add_build_info(conn: Connection, package_id: int, pipeline_id: int) -> None:
    await conn.execute(
        insert(package_build_infos).values(package_id=package_id, pipeline_id=pipeline_id)
    )


async def mark_downloaded(
    conn: Connection, package_id: int, now: datetime, not_after: datetime
) -> None:
    """Set last_downloaded_at unless another request already did so since ``not_after``."""
    await conn.execute(
        update(packages)
        .where(
            packages.c.id == package_id,
            or_(
                packages.c.last_downloaded_at.is_(None),
                packages.c.last_downloaded_at < not_after,
            ),
        )
        .values(last_downloaded_at=now)
    )


async def displayable_package(
    conn: Connection,
    project_id: int,
    package_id: int,
    statuses: Sequence[PackageStatus] = DISPLAYABLE,
) -> Package | None:
    """The package, if its status is one of ``statuses`` (the Packages API's are
    DISPLAYABLE; the web interface manages every LIVE one)."""
    row = await conn.execute(
        packages.select().where(
            packages.c.id == package_id,
            packages.c.project_id == project_id,
            packages.c.status.in_([int(s) for s in statuses]),
        )
    )
    found = row.first()
    return to_package(found) if found else None


async def find_live_file(conn: Connection, package_id: int, file_id: int) -> PackageFile | None:
    """A servable file of the package, with its blob's storage key."""
    row = (
        await conn.execute(
            select(package_files, blobs.c.storage_key)
            .join(blobs, blobs.c.sha256 == package_files.c.file_sha256)
            .where(
                package_files.c.id == file_id,
                package_files.c.package_id == package_id,
                package_files.c.status == FileStatus.default,
            )
        )
    ).first()
    return to_file(row) if row else None


async def mark_package_pending(conn: Connection, package_id: int, now: datetime) -> None:
    """Mark a package and its live files for destruction (the collector purges them)."""
    await set_package_status(conn, package_id, PackageStatus.pending_destruction, now)
    await conn.execute(
        update(package_files)
        .where(package_files.c.package_id == package_id)
        .values(status=FileStatus.pending_destruction, updated_at=now)
    )


async def mark_file_pending(conn: Connection, file_id: int, now: datetime) -> None:
    await conn.execute(
        update(package_files)
        .where(package_files.c.id == file_id)
        .values(status=FileStatus.pending_destruction, updated_at=now)
    )


async def mark_files_named_pending(
    conn: Connection, package_id: int, file_name: str, now: datetime
) -> list[PackageFile]:
    """Mark every live file of the package with this stored name for destruction; the
    files marked."""
    rows = await conn.execute(
        update(package_files)
        .where(
            package_files.c.package_id == package_id,
            package_files.c.file_name == file_name,
            package_files.c.status == FileStatus.default,
        )
        .values(status=FileStatus.pending_destruction, updated_at=now)
        .returning(*package_files.c)
    )
    return sorted((to_file(r) for r in rows), key=lambda f: f.id)


# ---------------------------------------------------------------- for the web pages


async def package_counts(conn: Connection, project_ids: Sequence[int]) -> dict[int, int]:
    """Displayable packages per project (what the project's registry page lists)."""
    if not project_ids:
        return {}
    rows = await conn.execute(
        select(packages.c.project_id, func.count())
        .where(
            packages.c.project_id.in_(list(project_ids)),
            packages.c.status.in_([int(s) for s in DISPLAYABLE]),
            packages.c.version.is_not(None),
        )
        .group_by(packages.c.project_id)
    )
    return {project_id: count for project_id, count in rows}


async def recent_versions(
    conn: Connection, package: Package, limit: int
) -> tuple[list[Package], int]:
    """The newest ``limit`` other displayable versions of a package, and how many there
    are in all (a nightly build can have thousands)."""
    same = (
        packages.c.project_id == package.project_id,
        packages.c.name == package.name,
        packages.c.package_type == package.package_type,
        packages.c.id != package.id,
        packages.c.status.in_([int(s) for s in DISPLAYABLE]),
        packages.c.version.is_not(None),
    )
    rows = await conn.execute(
        select(packages)
        .where(*same)
        .order_by(packages.c.created_at.desc(), packages.c.id.desc())
        .limit(limit)
    )
    total = (await conn.execute(select(func.count()).where(*same))).scalar_one()
    return [to_package(r) for r in rows], int(total)

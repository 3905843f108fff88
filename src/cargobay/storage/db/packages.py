"""SQL for packages and their files: the upload's write path (blob rows, get-or-create
under the partial unique index, file rows, build infos), status changes, and the
summaries the web pages show. The download's lookups: downloads.py."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, or_, select, text, update

from cargobay.domain.models import (
    DETAILED,
    DISPLAYABLE,
    INSTALLABLE,
    LIVE,
    FileStatus,
    Package,
    PackageFile,
    PackageStatus,
    PackageType,
)
from cargobay.storage.blobs.base import StoredBlob
from cargobay.storage.db.database import Connection
from cargobay.storage.db.expressions import (
    insert_ignoring_conflicts as _insert_ignoring_conflicts,  # the name record_blob uses
)
from cargobay.storage.db.records import to_file, to_package
from cargobay.storage.db.tables import (
    blobs,
    namespaces,
    package_build_infos,
    package_files,
    packages,
)


async def namespace_duplicate_settings(conn: Connection, namespace_id: int) -> tuple[bool, str]:
    row = (
        await conn.execute(
            select(
                namespaces.c.generic_duplicates_allowed,
                namespaces.c.generic_duplicate_exception_regex,
            ).where(namespaces.c.id == namespace_id)
        )
    ).one()
    return bool(row[0]), str(row[1])


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
    *,
    for_update: bool = False,
) -> Package | None:
    """The newest package with this exact name and version (names are case-sensitive).
    ``for_update`` locks its row until the transaction ends (PostgreSQL; SQLite's write
    transactions are serialised already)."""
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
    if for_update:
        query = query.with_for_update()
    row = (await conn.execute(query)).first()
    return to_package(row) if row else None


async def live_files(conn: Connection, package_id: int) -> list[PackageFile]:
    rows = await conn.execute(
        select(package_files)
        .where(
            package_files.c.package_id == package_id, package_files.c.status == FileStatus.default
        )
        .order_by(package_files.c.id)
    )
    return [to_file(r) for r in rows]


async def get_or_create_package(
    conn: Connection,
    *,
    project_id: int,
    name: str,
    version: str,
    status: PackageStatus,
    creator_id: int | None,
    now: datetime,
) -> tuple[Package, bool]:
    """Find the live generic package or create it, and lock its row for the rest of the
    transaction. Parallel first uploads race on the partial unique index: the loser's
    insert waits for the winner's commit (PostgreSQL) or its turn (SQLite), does nothing
    and reads the winner's row. The lock makes concurrent uploads into one package take
    turns, so the duplicate check that follows sees every file committed before it."""
    statement = (
        _insert_ignoring_conflicts(conn, packages)
        .values(
            project_id=project_id,
            name=name,
            version=version,
            package_type=PackageType.generic,
            status=status,
            creator_id=creator_id,
            created_at=now,
            updated_at=now,
        )
        .on_conflict_do_nothing()
        .returning(packages.c.id)
    )
    created = (await conn.execute(statement)).first() is not None
    package = await find_package(conn, project_id, name, version, LIVE, for_update=True)
    assert package is not None
    return package, created


async def set_package_status(
    conn: Connection, package_id: int, status: PackageStatus, now: datetime
) -> None:
    await conn.execute(
        update(packages).where(packages.c.id == package_id).values(status=status, updated_at=now)
    )


async def has_live_file_named(conn: Connection, package_id: int, stored_name: str) -> bool:
    row = await conn.execute(
        select(package_files.c.id)
        .where(
            package_files.c.package_id == package_id,
            package_files.c.file_name == stored_name,
            package_files.c.status != FileStatus.pending_destruction,
        )
        .limit(1)
    )
    return row.first() is not None


async def record_blob(conn: Connection, blob: StoredBlob, now: datetime) -> str | None:
    """Record a stored blob unless its content is known already; return the storage key
    the row holds. A key other than ``blob.key`` means this copy is redundant."""
    statement = (
        _insert_ignoring_conflicts(conn, blobs)
        .values(
            sha256=blob.sha256,
            size=blob.size,
            md5=blob.md5,
            sha1=blob.sha1,
            created_at=now,
            storage_key=blob.key,
        )
        .on_conflict_do_nothing()
        .returning(blobs.c.storage_key)
    )
    for _ in range(3):
        if (await conn.execute(statement)).first() is not None:
            return blob.key
        # Known content: keep the row from the garbage collector until this transaction
        # references it (PostgreSQL; SQLite's write transactions exclude the collector).
        # If the collector deleted it in between, insert it afresh.
        kept = await conn.execute(
            select(blobs.c.storage_key)
            .where(blobs.c.sha256 == blob.sha256)
            .with_for_update(key_share=True)
        )
        row = kept.first()
        if row is not None:
            return row[0]  # type: ignore[no-any-return]
    raise RuntimeError(f"blob {blob.sha256} kept vanishing while being recorded")


async def insert_file(
    conn: Connection,
    *,
    package_id: int,
    stored_name: str,
    blob: StoredBlob,
    pipeline_id: int | None,
    now: datetime,
) -> PackageFile:
    result = await conn.execute(
        insert(package_files)
        .values(
            package_id=package_id,
            file_name=stored_name,
            size=blob.size,
            file_md5=blob.md5,
            file_sha1=blob.sha1,
            file_sha256=blob.sha256,
            status=FileStatus.default,
            pipeline_id=pipeline_id,
            created_at=now,
            updated_at=now,
        )
        .returning(package_files)
    )
    return to_file(result.one())


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


async def displayable_package(conn: Connection, project_id: int, package_id: int) -> Package | None:
    row = await conn.execute(
        packages.select().where(
            packages.c.id == package_id,
            packages.c.project_id == project_id,
            packages.c.status.in_([int(s) for s in DISPLAYABLE]),
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


async def detailed_package(conn: Connection, project_id: int, package_id: int) -> Package | None:
    """The package if it has a page of its own (status default or deprecated, spec §10)."""
    row = (
        await conn.execute(
            select(packages).where(
                packages.c.id == package_id,
                packages.c.project_id == project_id,
                packages.c.status.in_([int(s) for s in DETAILED]),
            )
        )
    ).first()
    return to_package(row) if row else None


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

"""SQL for cleanup policies: the policy rows, claiming due runs, the rows a plan is made
from, and marking what a plan removes ``pending_destruction``."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, and_, func, select, update

from cargobay.domain.cleanup import FileRow, PackageRow, Policy
from cargobay.domain.models import INSTALLABLE, FileStatus, PackageStatus, PackageType
from cargobay.storage.db.database import Connection
from cargobay.storage.db.expressions import insert_ignoring_conflicts
from cargobay.storage.db.policies import protection_applies
from cargobay.storage.db.tables import package_files, packages, packages_cleanup_policies

policies = packages_cleanup_policies
POLICY_FIELDS = (
    "keep_n_duplicated_package_files",
    "keep_n_latest_versions",
    "remove_older_than_days",
    "remove_not_downloaded_days",
    "keep_pattern",
)
BATCH = 500  # ids per IN (...) list


def to_policy(row: Row[Any] | None) -> Policy:
    if row is None:
        return Policy()
    m = row._mapping
    return Policy(**{name: m[name] for name in POLICY_FIELDS})


async def find_policy(conn: Connection, project_id: int) -> Row[Any] | None:
    query = select(policies).where(policies.c.project_id == project_id)
    return (await conn.execute(query)).first()


async def save_policy(
    conn: Connection,
    project_id: int,
    policy: Policy,
    *,
    next_run_at: datetime | None,
    now: datetime,
) -> Row[Any]:
    values = {name: getattr(policy, name) for name in POLICY_FIELDS}
    statement = (
        insert_ignoring_conflicts(conn, policies)
        .values(
            project_id=project_id, next_run_at=next_run_at, created_at=now, updated_at=now, **values
        )
        .on_conflict_do_update(
            index_elements=["project_id"],
            set_={**values, "next_run_at": next_run_at, "updated_at": now},
        )
    )
    await conn.execute(statement)
    row = await find_policy(conn, project_id)
    assert row is not None
    return row


async def due_projects(conn: Connection, now: datetime, limit: int) -> list[int]:
    rows = await conn.execute(
        select(policies.c.project_id)
        .where(policies.c.next_run_at <= now)
        .order_by(policies.c.next_run_at)
        .limit(limit)
    )
    return [r[0] for r in rows]


async def claim(conn: Connection, project_id: int, now: datetime, next_run_at: datetime) -> bool:
    """Take a due run: moves next_run_at on only if it is still due. Of several processes
    racing, exactly one updates the row (PostgreSQL re-checks the condition after the
    first committer releases the row lock; SQLite runs one writer at a time)."""
    result = await conn.execute(
        update(policies)
        .where(policies.c.project_id == project_id, policies.c.next_run_at <= now)
        .values(next_run_at=next_run_at, last_run_at=now)
    )
    return result.rowcount == 1


async def projects_with_active_policy(conn: Connection) -> list[int]:
    rows = await conn.execute(
        select(policies.c.project_id)
        .where(policies.c.next_run_at.is_not(None))
        .order_by(policies.c.project_id)
    )
    return [r[0] for r in rows]


# ---------------------------------------------------------------- what a plan is made of


def _installable(project_id: int) -> Any:
    return and_(
        packages.c.project_id == project_id,
        packages.c.package_type == PackageType.generic,
        packages.c.status.in_([int(s) for s in INSTALLABLE]),
    )


async def candidate_packages(conn: Connection, project_id: int) -> list[PackageRow]:
    protected = protection_applies(
        packages.c.project_id, packages.c.name, action="delete", below=None
    ).label("delete_protected")
    rows = await conn.execute(
        select(
            packages.c.id,
            packages.c.name,
            packages.c.version,
            packages.c.created_at,
            packages.c.last_downloaded_at,
            protected,
        )
        .where(_installable(project_id))
        .order_by(packages.c.id)
    )
    return [
        PackageRow(r.id, r.name, r.version, r.created_at, r.last_downloaded_at, bool(r[5]))
        for r in rows
    ]


async def duplicated_files(conn: Connection, project_id: int, keep_n: int) -> list[FileRow]:
    """Live files of the project's installable packages in (package, file name) groups
    of more than ``keep_n`` files: the only ones keep_n_duplicated can touch."""
    live = and_(package_files.c.status == FileStatus.default, _installable(project_id))
    crowded = (
        select(package_files.c.package_id, package_files.c.file_name)
        .join(packages, packages.c.id == package_files.c.package_id)
        .where(live)
        .group_by(package_files.c.package_id, package_files.c.file_name)
        .having(func.count() > keep_n)
        .subquery()
    )
    rows = await conn.execute(
        select(package_files.c.id, package_files.c.package_id, package_files.c.file_name)
        .join(
            crowded,
            and_(
                crowded.c.package_id == package_files.c.package_id,
                crowded.c.file_name == package_files.c.file_name,
            ),
        )
        .where(package_files.c.status == FileStatus.default)
        .order_by(package_files.c.id)
    )
    return [FileRow(r.id, r.package_id, r.file_name) for r in rows]


async def mark_packages(conn: Connection, package_ids: Sequence[int], now: datetime) -> int:
    """Mark packages and all their files pending destruction, as the Packages API delete
    does. Only packages still installable change (a run never resurrects or re-marks)."""
    marked = 0
    for start in range(0, len(package_ids), BATCH):
        batch = list(package_ids[start : start + BATCH])
        result = await conn.execute(
            update(packages)
            .where(packages.c.id.in_(batch), packages.c.status.in_([int(s) for s in INSTALLABLE]))
            .values(status=PackageStatus.pending_destruction, updated_at=now)
        )
        marked += result.rowcount
        await conn.execute(
            update(package_files)
            .where(
                package_files.c.package_id.in_(batch),
                package_files.c.status != FileStatus.pending_destruction,
            )
            .values(status=FileStatus.pending_destruction, updated_at=now)
        )
    return marked


async def mark_files(conn: Connection, file_ids: Sequence[int], now: datetime) -> int:
    marked = 0
    for start in range(0, len(file_ids), BATCH):
        result = await conn.execute(
            update(package_files)
            .where(
                package_files.c.id.in_(list(file_ids[start : start + BATCH])),
                package_files.c.status == FileStatus.default,
            )
            .values(status=FileStatus.pending_destruction, updated_at=now)
        )
        marked += result.rowcount
    return marked

"""The Packages API use cases: list, get, delete packages and files (spec §1 P1-P4, F1-F3,
GR1; statuses §10; listing §11)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import Any

from cargobay.auth.principal import Principal
from cargobay.domain import versions
from cargobay.domain.models import (
    DETAILED,
    DISPLAYABLE,
    Package,
    PackageFile,
    PackageStatus,
    utcnow,
)
from cargobay.domain.permissions import Abilities
from cargobay.errors import (
    NotFound,
    PreconditionFailed,
    bad_params,
    forbidden,
    message,
    not_found,
)
from cargobay.services import audit
from cargobay.services.access import (
    ProjectAccess,
    abilities_for,
    find_project_access,
    group_visible,
)
from cargobay.services.protection import check_delete_protection
from cargobay.services.registry import Registry
from cargobay.storage.db import downloads, listing
from cargobay.storage.db import members as member_sql
from cargobay.storage.db import namespaces as namespace_sql
from cargobay.storage.db import packages as package_sql
from cargobay.storage.db.database import Connection


@dataclass(frozen=True, slots=True)
class Listing:
    rows: list[Any]
    total: int | None
    has_next: bool
    pipelines: dict[int, Any] = field(default_factory=dict)
    abilities: dict[int, Abilities] = field(default_factory=dict)


async def api_project(
    conn: Connection, registry: Registry, principal: Principal, ref: str
) -> ProjectAccess:
    """The project as the Packages API sees it: 404 ``Project Not Found`` when missing or
    invisible (also for anonymous callers), 403 for a job token from another project."""
    access = await find_project_access(conn, principal, ref, registry.settings)
    if access is None:
        raise not_found("Project Not Found")
    project, can = access.project, access.can
    if not can.read_project:
        if principal.job is not None and principal.job.project_id != project.id:
            source = await namespace_sql.find_project(conn, str(principal.job.project_id))
            raise forbidden(
                "Authentication by CI/CD job token not allowed from "
                f"{source.full_path if source else principal.job.project_id} to "
                f"{project.full_path}."
            )
        raise not_found("Project Not Found")
    return access


async def _keyword_filter(
    conn: Connection, project_ids: Sequence[int], where: listing.PackageFilter
) -> listing.PackageFilter:
    """``package_version=~latest`` (or ``~newest``, Cargobay's own): the version each
    matching package name resolves to, as on the generic URL (domain/versions.py)."""
    if where.package_version not in versions.KEYWORDS:
        return where
    by_name: dict[tuple[int, str], list[tuple[int, str]]] = defaultdict(list)
    for row in await listing.version_candidates(conn, project_ids, where):
        by_name[(row.project_id, row.name)].append((row.id, row.version))
    chosen = [versions.resolve(where.package_version, found) for found in by_name.values()]
    return replace(where, package_version=None, package_ids=[c for c in chosen if c is not None])


def _require(allowed: bool) -> None:
    if not allowed:
        raise forbidden()


def _refuse(invalid: Sequence[str]) -> None:
    """Grape validates parameters after the endpoint's ``before`` block has found the
    project or group and authorized the caller, so a bad parameter never tells an
    outsider that a private project exists (404 first, then 400). Handlers parse the
    parameters and pass the reasons in as ``invalid``."""
    if invalid:
        raise bad_params(*invalid)


async def list_project_packages(
    registry: Registry,
    principal: Principal,
    ref: str,
    where: listing.PackageFilter,
    *,
    order_by: str,
    sort: str,
    offset: int,
    limit: int,
    invalid: Sequence[str] = (),
) -> tuple[ProjectAccess, Listing]:
    async with registry.db.scan() as conn:
        access = await api_project(conn, registry, principal, ref)
        _require(access.can.read_package)
        _refuse(invalid)
        where = await _keyword_filter(conn, [access.project.id], where)
        rows, total, has_next = await listing.packages_page(
            conn,
            [access.project.id],
            where,
            order_by=order_by,
            sort=sort,
            offset=offset,
            limit=limit,
        )
        pipelines = await listing.last_pipelines(conn, [r.id for r in rows])
    return access, Listing(rows, total, has_next, pipelines, {access.project.id: access.can})


async def list_group_packages(
    registry: Registry,
    principal: Principal,
    ref: str,
    where: listing.PackageFilter,
    *,
    exclude_subgroups: bool,
    order_by: str,
    sort: str,
    offset: int,
    limit: int,
    invalid: Sequence[str] = (),
) -> Listing:
    async with registry.db.scan() as conn:
        group = await namespace_sql.find_namespace(conn, ref)
        if group is None or group.kind != "group":
            raise not_found("Group Not Found")
        inside = await namespace_sql.projects_under(conn, group.full_path, include_subgroups=True)
        abilities = await abilities_for(conn, principal, inside, registry.settings)
        level = 0
        if principal.user is not None:
            mine = await member_sql.user_memberships(conn, principal.user.id, utcnow().date())
            level = mine.group_level(group.full_path)
        if not group_visible(
            group, principal, level, any(a.read_project for a in abilities.values())
        ):
            raise not_found("Group Not Found")
        _refuse(invalid)
        readable = [
            p.id
            for p in inside
            if abilities[p.id].read_package
            and (not exclude_subgroups or p.namespace_id == group.id)
        ]
        where = await _keyword_filter(conn, readable, where)
        rows, total, has_next = await listing.packages_page(
            conn,
            readable,
            where,
            order_by=order_by,
            sort=sort,
            offset=offset,
            limit=limit,
            group_order=True,
        )
        pipelines = await listing.last_pipelines(conn, [r.id for r in rows])
    return Listing(rows, total, has_next, pipelines, abilities)


async def _displayable_package(
    conn: Connection,
    project_id: int,
    package_id: int,
    statuses: Sequence[PackageStatus] = DISPLAYABLE,
) -> Package:
    found = await package_sql.displayable_package(conn, project_id, package_id, statuses)
    if found is None:
        raise not_found("Not found")
    return found


@dataclass(frozen=True, slots=True)
class PackageDetail:
    access: ProjectAccess
    package: Package
    pipeline: Any
    versions: list[Any]
    version_pipelines: dict[int, Any]


async def get_package(
    registry: Registry, principal: Principal, ref: str, package_id: int
) -> PackageDetail:
    async with registry.db.read() as conn:
        access = await api_project(conn, registry, principal, ref)
        _require(access.can.read_package)
        package = await _displayable_package(conn, access.project.id, package_id)
        if package.status not in DETAILED:
            raise NotFound({"message": "Package not found"})
        pipelines = await listing.last_pipelines(conn, [package.id])
        versions = await listing.other_versions(conn, package)
        version_pipelines = await listing.last_pipelines(conn, [v.id for v in versions])
    return PackageDetail(access, package, pipelines.get(package.id), versions, version_pipelines)


async def package_pipelines(
    registry: Registry,
    principal: Principal,
    ref: str,
    package_id: int,
    *,
    before: int | None,
    limit: int,
    invalid: Sequence[str] = (),
) -> tuple[ProjectAccess, list[Any]]:
    async with registry.db.read() as conn:
        access = await api_project(conn, registry, principal, ref)
        _require(access.can.read_package)
        _refuse(invalid)
        package = await _displayable_package(conn, access.project.id, package_id)
        if package.status not in DETAILED:
            raise NotFound(message(404, "Package not found Not Found"))
        rows = await listing.package_pipelines(conn, package.id, before=before, limit=limit + 1)
    return access, rows


async def package_download_days(
    registry: Registry,
    principal: Principal,
    ref: str,
    package_id: int,
    first: date,
    last: date,
    *,
    invalid: Sequence[str] = (),
) -> list[tuple[date, int]]:
    """Each day from ``first`` to ``last`` with the package's downloads that day (0 on
    days without): Cargobay's download_stats (beyond-gitlab §7.1). Counts lag by up to
    ``download_count_flush_seconds``."""
    async with registry.db.read() as conn:
        access = await api_project(conn, registry, principal, ref)
        _require(access.can.read_package)
        _refuse(invalid)
        package = await _displayable_package(conn, access.project.id, package_id)
        counted = dict(await downloads.download_days(conn, package.id, first, last))
    days = (first + timedelta(days=n) for n in range((last - first).days + 1))
    return [(day, counted.get(day, 0)) for day in days]


def check_unmodified_since(updated_at: datetime, if_unmodified_since: datetime | None) -> None:
    """``If-Unmodified-Since`` earlier than the record's last change: 412 (GitLab's
    destroy_conditionally!)."""
    if if_unmodified_since is not None and if_unmodified_since < updated_at.replace(microsecond=0):
        raise PreconditionFailed(message(412))


async def delete_package(
    registry: Registry,
    principal: Principal,
    ref: str,
    package_id: int,
    if_unmodified_since: datetime | None = None,
    ip_address: str | None = None,
    statuses: Sequence[PackageStatus] = DISPLAYABLE,
) -> None:
    """Mark the package and its files pending destruction: at once gone from lists,
    downloads and duplicate checks; the garbage collector removes them later."""
    async with registry.db.write() as conn:
        access = await api_project(conn, registry, principal, ref)
        _require(access.can.destroy_package)
        package = await _displayable_package(conn, access.project.id, package_id, statuses)
        await check_delete_protection(conn, principal, access, package.name)
        check_unmodified_since(package.updated_at, if_unmodified_since)
        now = utcnow()
        await package_sql.mark_package_pending(conn, package.id, now)
        await record_package_deleted(conn, audit.Actor(principal, ip_address), access, package, now)


async def record_package_deleted(
    conn: Connection,
    actor: audit.Actor,
    access: ProjectAccess,
    package: Package,
    now: datetime,
    **details: str,
) -> None:
    """The audit event of a package delete; ``details``: extra keys (where it came from)."""
    await audit.record(
        conn,
        actor,
        audit.project_entity(access.project),
        "package_deleted",
        f"Deleted package {package.name} {package.version}",
        target_type="Packages::Package",
        target_id=package.id,
        target_details=f"{package.name}/{package.version}",
        details={"package_name": package.name, "package_version": package.version, **details},
        now=now,
    )


async def record_file_deleted(
    conn: Connection,
    actor: audit.Actor,
    access: ProjectAccess,
    package: Package,
    file: PackageFile,
    now: datetime,
    **details: str,
) -> None:
    """The audit event of a package file delete."""
    await audit.record(
        conn,
        actor,
        audit.project_entity(access.project),
        "package_file_deleted",
        f"Deleted {file.file_name} from package {package.name} {package.version}",
        target_type="Packages::PackageFile",
        target_id=file.id,
        target_details=f"{package.name}/{package.version}/{file.file_name}",
        details={"package_id": package.id, "file_name": file.file_name, **details},
        now=now,
    )


async def list_files(
    registry: Registry,
    principal: Principal,
    ref: str,
    package_id: int,
    *,
    order_by: str,
    sort: str,
    offset: int,
    limit: int,
    invalid: Sequence[str] = (),
    statuses: Sequence[PackageStatus] = DISPLAYABLE,
) -> tuple[ProjectAccess, Listing]:
    async with registry.db.scan() as conn:
        access = await api_project(conn, registry, principal, ref)
        _require(access.can.read_package)
        _refuse(invalid)
        package = await _displayable_package(conn, access.project.id, package_id, statuses)
        rows, total, has_next = await listing.files_page(
            conn, package.id, order_by=order_by, sort=sort, offset=offset, limit=limit
        )
        pipelines = await listing.pipelines_by_id(
            conn, [r.pipeline_id for r in rows if r.pipeline_id is not None]
        )
    return access, Listing(rows, total, has_next, pipelines)


async def _live_file(conn: Connection, package: Package, file_id: int) -> PackageFile:
    found = await package_sql.find_live_file(conn, package.id, file_id)
    if found is None:
        raise NotFound(message(404))
    return found


async def delete_file(
    registry: Registry,
    principal: Principal,
    ref: str,
    package_id: int,
    file_id: int,
    if_unmodified_since: datetime | None = None,
    ip_address: str | None = None,
    statuses: Sequence[PackageStatus] = DISPLAYABLE,
) -> None:
    async with registry.db.write() as conn:
        access = await api_project(conn, registry, principal, ref)
        package = await _displayable_package(conn, access.project.id, package_id, statuses)
        _require(access.can.destroy_package)
        file = await _live_file(conn, package, file_id)
        await check_delete_protection(conn, principal, access, package.name)
        check_unmodified_since(file.updated_at, if_unmodified_since)
        now = utcnow()
        await package_sql.mark_file_pending(conn, file.id, now)
        actor = audit.Actor(principal, ip_address)
        await record_file_deleted(conn, actor, access, package, file, now)


async def file_for_download(
    registry: Registry,
    principal: Principal,
    ref: str,
    package_id: int,
    file_id: int,
    statuses: Sequence[PackageStatus] = DISPLAYABLE,
) -> PackageFile:
    async with registry.db.read() as conn:
        access = await api_project(conn, registry, principal, ref)
        _require(access.can.read_package)
        package = await _displayable_package(conn, access.project.id, package_id, statuses)
        return await _live_file(conn, package, file_id)

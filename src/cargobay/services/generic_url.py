"""Cargobay's own use cases on the generic URL (docs/extensions.md): the version resource
``…/generic/:name/:version`` (GET as JSON, DELETE), DELETE of a file by its URL, and
``~latest``/``~newest`` in the version position of a GET.

GitLab serves neither (a two-segment generic URL is a 404 route there, and the file URL
knows only PUT and GET), so no GitLab client sees them. Deletes take the Packages API's
rules (destroy_package, deletion protection, audit events) with the generic route's
credentials (design: shared/spec/beyond-gitlab.md §5).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cargobay.auth.principal import Principal
from cargobay.domain import versions
from cargobay.domain.models import Package, PackageFile, newest_per_name, utcnow
from cargobay.domain.names import FileCoordinates
from cargobay.domain.preconditions import UNCONDITIONAL, Preconditions
from cargobay.domain.versions import KEYWORDS
from cargobay.errors import not_found
from cargobay.services import audit
from cargobay.services.access import (
    ProjectAccess,
    generic_forbidden,
    generic_project_denied,
    project_access,
)
from cargobay.services.catalog import (
    check_unmodified_since,
    record_file_deleted,
    record_package_deleted,
)
from cargobay.services.protection import check_delete_protection, generic_disabled, generic_on
from cargobay.services.registry import Registry
from cargobay.storage.db import downloads, listing
from cargobay.storage.db import packages as package_sql
from cargobay.storage.db.database import Connection


@dataclass(frozen=True, slots=True)
class Version:
    access: ProjectAccess
    package: Package
    files: list[PackageFile]  # the newest of each name, in name order
    pipeline: Any


async def get_version(
    registry: Registry, principal: Principal, ref: str, name: str, version: str
) -> Version:
    """The version as a download finds it: hidden ones too, when named exactly."""
    async with registry.db.read() as conn:
        access = await generic_access(conn, registry, principal, ref)
        if not access.can.read_package:
            raise generic_forbidden(principal)
        package = await package_named(conn, access, name, version)
        files = newest_per_name(await package_sql.live_files(conn, package.id))
        pipelines = await listing.last_pipelines(conn, [package.id])
    return Version(access, package, files, pipelines.get(package.id))


async def delete_version(
    registry: Registry,
    principal: Principal,
    ref: str,
    name: str,
    version: str,
    *,
    if_unmodified_since: datetime | None = None,
    ip_address: str | None = None,
) -> None:
    """The Packages API's package delete, by name and version."""
    async with registry.db.write() as conn:
        access = await _destroyable(conn, registry, principal, ref)
        package = await package_named(conn, access, name, version)
        await check_delete_protection(conn, principal, access, package.name)
        check_unmodified_since(package.updated_at, if_unmodified_since)
        now = utcnow()
        await package_sql.mark_package_pending(conn, package.id, now)
        actor = audit.Actor(principal, ip_address)
        await record_package_deleted(conn, actor, access, package, now, via=VIA)


async def delete_file(
    registry: Registry,
    principal: Principal,
    ref: str,
    where: FileCoordinates,
    *,
    conditions: Preconditions = UNCONDITIONAL,
    if_unmodified_since: datetime | None = None,
    ip_address: str | None = None,
) -> None:
    """Every live file with this stored name, so that a download of it then answers 404
    (deleting only the newest would bring back the one before). The last live file
    takes its version with it."""
    async with registry.db.write() as conn:
        access = await _destroyable(conn, registry, principal, ref)
        found = await downloads.find_download(
            conn, access.project.id, where.package_name, where.package_version, where.stored_name
        )
        if found is None:
            raise not_found("Not found")
        package, newest = found
        await check_delete_protection(conn, principal, access, package.name)
        conditions.check(newest.file_sha256)
        check_unmodified_since(newest.updated_at, if_unmodified_since)
        now = utcnow()
        actor = audit.Actor(principal, ip_address)
        for file in await package_sql.mark_files_named_pending(
            conn, package.id, where.stored_name, now
        ):
            await record_file_deleted(conn, actor, access, package, file, now, via=VIA)
        if not await package_sql.live_files(conn, package.id):
            await package_sql.mark_package_pending(conn, package.id, now)
            await record_package_deleted(conn, actor, access, package, now, via=VIA)


# Where a delete came from, in its audit event's details.
VIA = "generic_url"


async def generic_access(
    conn: Connection, registry: Registry, principal: Principal, ref: str
) -> ProjectAccess:
    """The project as the generic route sees it (spec §3 steps 4-5)."""
    access = await project_access(conn, principal, ref, registry.settings)
    if access is None:
        raise generic_project_denied(principal)
    if not generic_on(access.generic_gate):
        raise generic_disabled()
    return access


async def _destroyable(
    conn: Connection, registry: Registry, principal: Principal, ref: str
) -> ProjectAccess:
    access = await generic_access(conn, registry, principal, ref)
    if not access.can.destroy_package:
        raise generic_forbidden(principal)
    return access


async def resolve_version(
    registry: Registry, principal: Principal, ref: str, name: str, version: str
) -> str:
    """The concrete version a GET names (``~latest``, ``~newest`` or itself), for a caller
    who may download from the project: 404 ``Version Not Found`` when no version fits."""
    async with registry.db.read() as conn:
        access = await generic_access(conn, registry, principal, ref)
        if not access.can.read_package:
            raise generic_forbidden(principal)
        package = await package_named(conn, access, name, version)
    return package.version or version


async def package_named(
    conn: Connection, access: ProjectAccess, name: str, version: str
) -> Package:
    """The package a download of ``name``/``version`` finds (installable statuses),
    ``version`` may be ``~latest`` or ``~newest``. 404 when there is none."""
    if version in KEYWORDS:
        candidates = await package_sql.release_candidates(conn, access.project.id, name)
        chosen = versions.resolve(version, candidates)
        if chosen is None:
            raise not_found("Version Not Found")
        version = dict(candidates)[chosen]
    package = await package_sql.find_package(conn, access.project.id, name, version)
    if package is None:
        raise not_found("Not found")
    return package

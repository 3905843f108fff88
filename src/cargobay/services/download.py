"""Resolve a generic download to the file to send (spec §3)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from cargobay.auth.principal import Principal
from cargobay.domain.models import Package, PackageFile, utcnow
from cargobay.domain.names import FileCoordinates
from cargobay.errors import not_found
from cargobay.services.access import generic_forbidden, generic_project_denied, project_access
from cargobay.services.protection import check_generic_enabled
from cargobay.services.registry import Registry
from cargobay.storage.db import repository as repo

# Newest GitLab writes last_downloaded_at at most once a minute per package.
DOWNLOAD_MARK_INTERVAL = timedelta(minutes=1)


@dataclass(frozen=True, slots=True)
class Resolved:
    package: Package
    file: PackageFile | None  # None: the compatibility `files` listing was asked for
    files: list[PackageFile]


async def resolve_download(
    registry: Registry,
    principal: Principal,
    project_ref: str,
    where: FileCoordinates,
    *,
    allow_listing: bool = False,
) -> Resolved:
    """``allow_listing``: ``.../:version/files`` with no file of that name answers with
    the package's file list (the docs' "download an entire package" script, spec §0)."""
    async with registry.db.read() as conn:
        access = await project_access(conn, principal, project_ref, registry.settings)
        if access is None:
            raise generic_project_denied(principal)
        await check_generic_enabled(conn, access.project)  # the generic_packages flag
        if not access.can.read_package:
            raise generic_forbidden(principal)
        package = await repo.find_package(
            conn, access.project.id, where.package_name, where.package_version
        )
        if package is None:
            raise not_found("Not found")
        file = await repo.find_live_file(conn, package.id, where.stored_name)
        files: list[PackageFile] = []
        if file is None:
            if not allow_listing:
                raise not_found("Not found")
            files = await repo.live_files(conn, package.id)
    now = utcnow()
    if (
        package.last_downloaded_at is None
        or package.last_downloaded_at < now - DOWNLOAD_MARK_INTERVAL
    ):
        async with registry.db.write() as conn:
            await repo.mark_downloaded(conn, package.id, now, now - DOWNLOAD_MARK_INTERVAL)
    return Resolved(package, file, files)

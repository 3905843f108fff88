"""Resolve a generic download to the file to send (spec §3).

``quick_download`` serves the common case, anonymous or one access token and a file that
is there, with one statement. Everything else, every refusal included, goes through
``resolve_download``, which decides the exact answer GitLab gives.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from cargobay.auth.authenticate import access_token_principal, sole_access_token
from cargobay.auth.credentials import Credentials
from cargobay.auth.principal import ANONYMOUS, Principal
from cargobay.auth.tokens import digest
from cargobay.domain.models import Package, PackageFile, utcnow
from cargobay.domain.names import FileCoordinates
from cargobay.domain.permissions import project_abilities
from cargobay.errors import CargobayError, not_found
from cargobay.services.access import generic_forbidden, generic_project_denied, project_access
from cargobay.services.protection import generic_disabled, generic_on
from cargobay.services.registry import Registry
from cargobay.storage.db import downloads
from cargobay.storage.db import packages as package_sql

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
        if not generic_on(access.generic_gate):  # the generic_packages feature flag
            raise generic_disabled()
        if not access.can.read_package:
            raise generic_forbidden(principal)
        found = await downloads.find_download(
            conn, access.project.id, where.package_name, where.package_version, where.stored_name
        )
        files: list[PackageFile] = []
        file: PackageFile | None = None
        if found is not None:
            package, file = found
        else:
            listed = await package_sql.find_package(
                conn, access.project.id, where.package_name, where.package_version
            )
            if listed is None or not allow_listing:
                raise not_found("Not found")
            package = listed
            files = await package_sql.live_files(conn, package.id)
    await note_download(registry, package.id, package.last_downloaded_at, utcnow())
    return Resolved(package, file, files)


async def quick_download(
    registry: Registry, creds: Credentials, method: str, project_ref: str, where: FileCoordinates
) -> PackageFile | None:
    """The download in one statement (token, project, role, feature gate, package and
    file), when the caller is anonymous or holds one access token and may read a file
    that is there. None otherwise: the caller then takes ``resolve_download``."""
    token = None if creds.empty else sole_access_token(creds)
    if token is None and not creds.empty:
        return None
    now = utcnow()
    facts = await downloads.download_lookup(
        registry.db,
        None if token is None else digest(token),
        project_ref,
        (where.package_name, where.package_version, where.stored_name),
        now.date(),
    )
    if facts is None or facts.package_id is None or facts.file is None:
        return None
    principal = ANONYMOUS
    if token is not None:
        if facts.token is None:
            return None
        try:
            principal = access_token_principal(facts.token, method=method, now=now)
        except CargobayError:
            return None
    can = project_abilities(
        facts.project.project,
        principal,
        access_level=facts.project.member_level,
        deploy_token_covers=False,
        guests_can_pull=registry.settings.guests_can_pull,
    )
    if not (can.read_project and can.read_package and generic_on(facts.project.generic_gate)):
        return None
    await note_download(registry, facts.package_id, facts.last_downloaded_at, now)
    return facts.file


async def note_download(
    registry: Registry, package_id: int, last_downloaded_at: datetime | None, now: datetime
) -> None:
    """Set the package's last_downloaded_at, at most once a minute. Of the concurrent
    downloads that all read an old value, only the first pays for the write."""
    since = now - DOWNLOAD_MARK_INTERVAL
    if last_downloaded_at is not None and last_downloaded_at >= since:
        return
    if package_id in registry.download_marks:
        return
    registry.download_marks.add(package_id)
    try:
        async with registry.db.write() as conn:
            await package_sql.mark_downloaded(conn, package_id, now, since)
    finally:
        registry.download_marks.discard(package_id)

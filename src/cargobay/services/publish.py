"""Publish one file into a generic package (spec §2, design §2).

Everything that can refuse the upload is checked before the first body byte is read, so
a refused upload costs the client nothing (``Expect: 100-continue`` gets the final answer
at once). The blob is durable before the transaction that references it commits.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Concatenate, ParamSpec

from cargobay.auth.principal import Principal
from cargobay.domain.checksums import NOTHING_ASSERTED, Asserted, ChecksumMismatch
from cargobay.domain.duplicates import duplicate_allowed
from cargobay.domain.models import PackageFile, PackageStatus, Project, utcnow
from cargobay.domain.names import FileCoordinates
from cargobay.domain.preconditions import UNCONDITIONAL, Preconditions
from cargobay.errors import (
    CargobayError,
    RequestTimeout,
    bad_params,
    bad_request,
    not_found,
)
from cargobay.services import audit
from cargobay.services.access import generic_forbidden, generic_project_denied, project_access
from cargobay.services.protection import (
    generic_disabled,
    generic_on,
    package_protected,
    role_for_rules,
)
from cargobay.services.registry import Registry
from cargobay.storage.blobs.base import StoredBlob
from cargobay.storage.blobs.hashing import too_large
from cargobay.storage.db import downloads, uploads
from cargobay.storage.db import packages as package_sql
from cargobay.storage.db.database import Connection

DUPLICATE = "Duplicate package is not allowed"
log = logging.getLogger("cargobay")

# What the write transaction records the file's content as: the blob row (and the
# storage key it holds, which may name an earlier copy of the same bytes).
ClaimBlob = Callable[[Connection, datetime], Awaitable[tuple[StoredBlob, str | None]]]


@dataclass(frozen=True, slots=True)
class Published:
    file: PackageFile
    project_id: int
    package_created: bool


P = ParamSpec("P")


def _counted(
    publish: Callable[Concatenate[Registry, P], Awaitable[Published]],
) -> Callable[Concatenate[Registry, P], Awaitable[Published]]:
    """Count each upload in the metrics (services/metrics.py) by result, with the bytes
    stored and the time it took."""

    async def counted(registry: Registry, /, *args: P.args, **kwargs: P.kwargs) -> Published:
        deploy = getattr(kwargs.get("asserted"), "deploy", False)
        started = time.perf_counter()
        result, size = "error", 0
        try:
            published = await publish(registry, *args, **kwargs)
            result = "created"
            size = 0 if deploy else published.file.size
            return published
        except BaseException as exc:
            result = upload_result(exc)
            raise
        finally:
            metrics = registry.metrics
            seconds = time.perf_counter() - started
            metrics.uploaded(registry.settings.blob_store, result, size, seconds)
            if deploy and result in ("created", "refused"):
                metrics.checksum_deploys.labels("hit" if result == "created" else "miss").inc()

    return counted


_TOO_LARGE = getattr(too_large(), "body", None)


def upload_result(exc: BaseException) -> str:
    """The ``result`` label of an upload that failed with ``exc``."""
    if isinstance(exc, ChecksumMismatch):
        return "checksum_mismatch"
    # Starlette's ClientDisconnect (api/bodies.py) by name: services do not import Starlette.
    if isinstance(exc, RequestTimeout | asyncio.CancelledError) or type(exc).__name__ == (
        "ClientDisconnect"
    ):
        return "client_aborted"
    if isinstance(exc, CargobayError):
        return "too_large" if exc.body == _TOO_LARGE else "refused"
    return "error"


@_counted
async def publish_file(
    registry: Registry,
    principal: Principal,
    project_ref: str,
    where: FileCoordinates,
    body: AsyncIterator[bytes],
    *,
    status: PackageStatus | None,
    content_length: int | None,
    ip_address: str | None = None,
    asserted: Asserted = NOTHING_ASSERTED,
    conditions: Preconditions = UNCONDITIONAL,
) -> Published:
    """``asserted``: the digests the client's headers assert (checked before anything is
    kept) or a checksum-deploy; ``conditions``: If-Match/If-None-Match on the file."""
    async with registry.db.read() as conn:
        access = await project_access(conn, principal, project_ref, registry.settings)
        if access is None:
            raise generic_project_denied(principal)
        project = access.project
        rule_level = role_for_rules(principal, access.can)
        checks = await _checks(conn, project, where, rule_level)
    if not generic_on(checks.generic_enabled):
        raise generic_disabled()
    if not access.can.create_package:
        raise generic_forbidden(principal)
    limit = checks.max_file_size
    if limit is None:
        limit = registry.settings.max_file_size
    if limit and content_length is not None and content_length >= limit:
        raise too_large()
    _refuse(checks, where)
    if conditions.present:
        async with registry.db.read() as conn:
            conditions.check(await _current_sha256(conn, project, where))
    record = _Record(registry, principal, project, where, status, rule_level, conditions)
    if asserted.deploy:
        if content_length:
            raise bad_params(DEPLOY_NEEDS_EMPTY_BODY)
        async for chunk in body:
            if chunk:
                raise bad_params(DEPLOY_NEEDS_EMPTY_BODY)
        sha256 = asserted.expected["sha256"]
        published, _ = await record.write(_deployed(project, sha256, limit), ip_address, True)
        return published

    def verify(blob: StoredBlob) -> None:
        wrong = asserted.mismatches({"sha256": blob.sha256, "sha1": blob.sha1, "md5": blob.md5})
        if wrong:
            raise ChecksumMismatch(wrong)

    admitted = registry.upload_slots.admit(body)
    try:
        blob = await registry.blobs.put(
            admitted.chunks(), limit=limit, verify=verify if asserted.expected else None
        )
    except ChecksumMismatch as exc:
        log.warning(
            "upload refused, checksum mismatch: project %s, %s %s %s: %s",
            project.id,
            where.package_name,
            where.package_version,
            where.stored_name,
            exc.body["checksums"],
        )
        raise
    finally:
        admitted.release()
    try:
        published, kept_key = await record.write(_uploaded(blob), ip_address, False)
    except CargobayError:
        # Refused after the body arrived (another upload won the duplicate race, a rule
        # appeared): the transaction rolled back, so no row will ever point at this copy.
        # Anything else may have struck after the commit: the garbage collector decides.
        await registry.blobs.discard(blob)
        raise
    if kept_key != blob.key:
        await registry.blobs.discard(blob)  # the same content was stored before
    return published


DEPLOY_NEEDS_EMPTY_BODY = "X-Checksum-Deploy needs an empty body"


def _uploaded(blob: StoredBlob) -> ClaimBlob:
    async def claim(conn: Connection, now: datetime) -> tuple[StoredBlob, str | None]:
        return blob, await uploads.record_blob(conn, blob, now)

    return claim


def _deployed(project: Project, sha256: str, limit: int) -> ClaimBlob:
    """Checksum-deploy: content the project already serves, or 404 so that the client
    sends the body (§4.4)."""

    async def claim(conn: Connection, now: datetime) -> tuple[StoredBlob, str | None]:
        blob = await uploads.readable_blob(conn, project.id, sha256)
        if blob is None:
            raise not_found("Checksum Not Found")
        if limit and blob.size >= limit:
            raise too_large()
        return blob, blob.key

    return claim


async def _current_sha256(conn: Connection, project: Project, where: FileCoordinates) -> str | None:
    found = await downloads.find_download(
        conn, project.id, where.package_name, where.package_version, where.stored_name
    )
    return None if found is None else found[1].file_sha256


async def _checks(
    conn: Connection, project: Project, where: FileCoordinates, rule_level: int
) -> uploads.UploadChecks:
    return await uploads.checks(
        conn,
        project_id=project.id,
        full_path=project.full_path,
        namespace_id=project.namespace_id,
        name=where.package_name,
        version=where.package_version,
        file_name=where.stored_name,
        push_level=rule_level,
    )


def _refuse(checks: uploads.UploadChecks, where: FileCoordinates) -> None:
    """Push protection, then the duplicate rule."""
    if checks.push_protected:
        raise package_protected()
    if checks.file_exists and not duplicate_allowed(
        checks.duplicates_allowed,
        checks.duplicate_exception_regex,
        where.package_name,
        where.package_version,
    ):
        raise bad_request(DUPLICATE)


@dataclass(frozen=True, slots=True)
class _Record:
    """The write transaction of one upload, with what it re-checks under the lock."""

    registry: Registry
    principal: Principal
    project: Project
    where: FileCoordinates
    status: PackageStatus | None
    rule_level: int
    conditions: Preconditions

    async def write(
        self, claim: ClaimBlob, ip_address: str | None, deployed: bool
    ) -> tuple[Published, str | None]:
        principal, project, where, status = self.principal, self.project, self.where, self.status
        now = utcnow()
        pipeline_id = principal.job.pipeline_id if principal.job else None
        async with self.registry.db.write() as conn:
            blob, kept_key = await claim(conn, now)
            package, created = await uploads.live_package(
                conn,
                project_id=project.id,
                name=where.package_name,
                version=where.package_version,
                status=status or PackageStatus.default,
                creator_id=principal.user.id if principal.user else None,
                now=now,
            )
            # Checked again under the write lock: another upload may have won meanwhile,
            # or a protection rule been created while the body streamed in.
            _refuse(await _checks(conn, project, where, self.rule_level), where)
            if self.conditions.present:
                self.conditions.check(await _current_sha256(conn, project, where))
            if status is not None and status != package.status and not created:
                await package_sql.set_package_status(conn, package.id, status, now)
            if pipeline_id is not None:
                await package_sql.add_build_info(conn, package.id, pipeline_id)
            file = await uploads.insert_file(
                conn,
                package_id=package.id,
                stored_name=where.stored_name,
                blob=blob,
                pipeline_id=pipeline_id,
                now=now,
            )
            details = {
                "package_id": package.id,
                "package_name": where.package_name,
                "package_version": where.package_version,
                "file_name": where.stored_name,
                "size": file.size,
                "file_sha256": file.file_sha256,
            }
            if deployed:
                details["checksum_deploy"] = True
            await audit.record(
                conn,
                audit.Actor(principal, ip_address),
                audit.project_entity(project),
                "package_published",
                f"Published {where.stored_name} to {where.package_name} {where.package_version}",
                target_type="Packages::PackageFile",
                target_id=file.id,
                target_details=f"{where.package_name}/{where.package_version}/{where.stored_name}",
                details=details,
                now=now,
            )
        return Published(file, project.id, created), kept_key

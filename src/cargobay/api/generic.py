"""The generic package routes: PUT, GET and HEAD of a file (spec §2, §3), and Cargobay's
own (docs/extensions.md): DELETE of a file, GET and DELETE of a version. How a file is
sent: api/delivery.py; the one-statement lookup the download tries first: api/quick.py."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from cargobay.api import serializers
from cargobay.api.bodies import body_chunks
from cargobay.api.delivery import send_file
from cargobay.api.pagination import base_url
from cargobay.api.params import (
    check_values,
    client_address,
    if_unmodified_since,
    path_value,
    principal_of,
    registry_of,
)
from cargobay.api.quick import looked_up
from cargobay.api.responses import json
from cargobay.api.serializers import package_file, package_file_record
from cargobay.auth.authenticate import unauthorized
from cargobay.auth.principal import Principal
from cargobay.domain.checksums import WANT_DIGEST, read_assertions, repr_digest
from cargobay.domain.integers import ascii_digits, ascii_integer
from cargobay.domain.models import PackageStatus
from cargobay.domain.names import FileCoordinates, parse_coordinates, parse_version
from cargobay.domain.preconditions import Preconditions
from cargobay.errors import CargobayError, bad_params
from cargobay.services import generic_url
from cargobay.services.download import resolve_download
from cargobay.services.publish import publish_file


def _coordinates(request: Request, *extra_errors: str | None) -> FileCoordinates:
    try:
        where = parse_coordinates(
            path_value(request, "package_name"),
            path_value(request, "package_version"),
            path_value(request, "file_path"),
        )
    except CargobayError as exc:
        errors = [exc.body["error"], *(e for e in extra_errors if e)]
        raise bad_params(*errors) from None
    if any(extra_errors):
        raise bad_params(*(e for e in extra_errors if e))
    return where


async def _writer(request: Request) -> Principal:
    """The caller of a PUT or DELETE: generic routes authenticate every non-GET request
    first, before validation, even on public projects (authenticate_non_get!)."""
    principal = await principal_of(request, generic=True)
    if principal.anonymous:
        raise unauthorized(generic=True)
    return principal


async def upload(request: Request) -> Response:
    principal = await _writer(request)
    status, status_error = check_values(request, "status", ("default", "hidden"))
    select, select_error = check_values(request, "select", ("package_file",))
    where = _coordinates(request, status_error, select_error)
    length = request.headers.get("content-length")
    registry = registry_of(request)
    asserted = read_assertions(request.headers, verify=registry.settings.verify_upload_checksums)
    published = await publish_file(
        registry,
        principal,
        path_value(request, "id"),
        where,
        body_chunks(request, idle_seconds=registry.settings.upload_idle_seconds),
        status=PackageStatus[status] if status else None,
        content_length=ascii_integer(length) if length and ascii_digits(length) else None,
        ip_address=client_address(request),
        asserted=asserted,
        conditions=Preconditions.read(request.headers),
    )
    if select == "package_file":
        response = json(package_file_record(published.file, published.project_id), 200)
    else:
        response = json({"message": "201 Created"}, 201)
    # What was stored, so that any client can check it (Cargobay's own headers).
    response.headers["X-Checksum-Sha256"] = published.file.file_sha256
    response.headers["Repr-Digest"] = repr_digest(published.file.file_sha256)
    for header in asserted.unsupported:
        response.headers[f"Want-{header.title()}"] = WANT_DIGEST
    return response


async def download(request: Request) -> Response:
    if not path_value(request, "file_path"):
        return await get_version(request)  # …/:version/ is the version itself
    registry = registry_of(request)
    # The one-statement path first (services/download.py); None sends the request the
    # general way, which authenticates before it validates.
    quick = await looked_up(
        request.scope,
        registry,
        request.method,
        request.path_params,
        request.headers,
        request.query_params,
    )
    if quick is not None:
        return await send_file(request, quick)
    principal = await principal_of(request, generic=True)
    where = _coordinates(request)
    resolved = await resolve_download(
        registry,
        principal,
        path_value(request, "id"),
        where,
        allow_listing=where.stored_name == "files",
    )
    if resolved.file is None:
        return json([package_file(f) for f in resolved.files])
    return await send_file(request, resolved.file)


async def delete_file(request: Request) -> Response:
    """DELETE …/:name/:version/(*path/):file: every live file of that name."""
    principal = await _writer(request)
    if not path_value(request, "file_path"):
        return await delete_version(request)  # …/:version/ is the version itself
    await generic_url.delete_file(
        registry_of(request),
        principal,
        path_value(request, "id"),
        _coordinates(request),
        conditions=Preconditions.read(request.headers),
        if_unmodified_since=if_unmodified_since(request),
        ip_address=client_address(request),
    )
    return Response(status_code=204)


def _version(request: Request) -> tuple[str, str]:
    return parse_version(
        path_value(request, "package_name"), path_value(request, "package_version")
    )


async def get_version(request: Request) -> Response:
    """GET …/:name/:version: the package, with the newest file of each name."""
    principal = await principal_of(request, generic=True)
    name, version = _version(request)
    found = await generic_url.get_version(
        registry_of(request), principal, path_value(request, "id"), name, version
    )
    entity = serializers.package(
        found.package,
        base_url=base_url(request),
        project_path=found.access.project.full_path,
        can_destroy=found.access.can.destroy_package,
        last_pipeline=found.pipeline,
    )
    entity["files"] = [package_file(f) for f in found.files]
    return json(entity)


async def delete_version(request: Request) -> Response:
    """DELETE …/:name/:version: the Packages API's package delete, by name."""
    principal = await _writer(request)
    name, version = _version(request)
    await generic_url.delete_version(
        registry_of(request),
        principal,
        path_value(request, "id"),
        name,
        version,
        if_unmodified_since=if_unmodified_since(request),
        ip_address=client_address(request),
    )
    return Response(status_code=204)

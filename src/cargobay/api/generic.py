"""The generic package file routes: PUT, GET and HEAD (spec §2, §3). How a file is sent:
api/delivery.py; the one-statement lookup the download tries first: api/quick.py."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from cargobay.api.bodies import body_chunks
from cargobay.api.delivery import send_file
from cargobay.api.params import (
    check_values,
    client_address,
    path_value,
    principal_of,
    registry_of,
)
from cargobay.api.quick import looked_up
from cargobay.api.responses import json
from cargobay.api.serializers import package_file, package_file_record
from cargobay.auth.authenticate import unauthorized
from cargobay.domain.integers import ascii_digits, ascii_integer
from cargobay.domain.models import PackageStatus
from cargobay.domain.names import FileCoordinates, parse_coordinates
from cargobay.errors import CargobayError, bad_params
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


async def upload(request: Request) -> Response:
    principal = await principal_of(request, generic=True)
    if principal.anonymous:
        raise unauthorized(generic=True)  # authenticate_non_get!, before validation
    status, status_error = check_values(request, "status", ("default", "hidden"))
    select, select_error = check_values(request, "select", ("package_file",))
    where = _coordinates(request, status_error, select_error)
    length = request.headers.get("content-length")
    registry = registry_of(request)
    published = await publish_file(
        registry,
        principal,
        path_value(request, "id"),
        where,
        body_chunks(request, idle_seconds=registry.settings.upload_idle_seconds),
        status=PackageStatus[status] if status else None,
        content_length=ascii_integer(length) if length and ascii_digits(length) else None,
        ip_address=client_address(request),
    )
    if select == "package_file":
        return json(package_file_record(published.file, published.project_id), 200)
    return json({"message": "201 Created"}, 201)


async def download(request: Request) -> Response:
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

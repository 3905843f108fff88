"""The generic package file routes: PUT, GET and HEAD (spec §2, §3)."""

from __future__ import annotations

import functools
import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import (
    FileResponse,
    MalformedRangeHeader,
    RangeNotSatisfiable,
    RedirectResponse,
    Response,
)

from cargobay.api.params import (
    check_values,
    client_address,
    decoded,
    path_value,
    principal_of,
    registry_of,
)
from cargobay.api.responses import json
from cargobay.api.serializers import package_file, package_file_record
from cargobay.api.streaming import StreamedBlobResponse, names_no_range
from cargobay.auth.authenticate import unauthorized
from cargobay.auth.credentials import read_credentials
from cargobay.domain.integers import ascii_digits, ascii_integer
from cargobay.domain.models import PackageFile, PackageStatus
from cargobay.domain.names import FileCoordinates, parse_coordinates
from cargobay.errors import CargobayError, bad_params
from cargobay.services.download import quick_download, resolve_download
from cargobay.services.publish import publish_file
from cargobay.services.registry import Registry
from cargobay.storage.blobs.base import (
    BlobLocation,
    BlobMissing,
    Delivery,
    LocalFile,
    Redirect,
)

log = logging.getLogger("cargobay")

# A local file up to this size is read and sent as the response body: for small files,
# handing the server a path to send costs more than the bytes (bench/: 1 KiB GETs).
IN_MEMORY_MAX = 64 * 1024
OCTET_STREAM = "application/octet-stream"


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
    published = await publish_file(
        registry_of(request),
        principal,
        path_value(request, "id"),
        where,
        request.stream(),
        status=PackageStatus[status] if status else None,
        content_length=ascii_integer(length) if length and ascii_digits(length) else None,
        ip_address=client_address(request),
    )
    if select == "package_file":
        return json(package_file_record(published.file, published.project_id), 200)
    return json({"message": "201 Created"}, 201)


async def download(request: Request) -> Response:
    registry = registry_of(request)
    quick = await _quick_download(request)
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


# Where api/fastlane.py leaves a file it found but does not send (too large, not local):
# the route sends it without looking it up a second time.
FOUND_FILE = "cargobay.found_file"


async def _quick_download(request: Request) -> PackageFile | None:
    """The file, when the one-statement path can serve it (services/download.py); None
    sends the request the general way, which authenticates before it validates."""
    found: PackageFile | None = request.scope.get(FOUND_FILE)
    if found is not None:
        return found
    return await quick_file(
        registry_of(request),
        request.method,
        request.path_params,
        request.headers,
        request.query_params,
    )


async def quick_file(
    registry: Registry,
    method: str,
    path_params: Mapping[str, str],
    headers: Mapping[str, str],
    query: Mapping[str, str],
) -> PackageFile | None:
    """``quick_download`` for a request's undecoded path parameters and credentials."""
    try:
        where = parse_coordinates(
            decoded(path_params["package_name"]),
            decoded(path_params["package_version"]),
            decoded(path_params["file_path"]),
        )
    except CargobayError:
        return None
    creds = read_credentials(headers, query)
    return await quick_download(registry, creds, method, decoded(path_params["id"]), where)


def file_headers(file: PackageFile) -> dict[str, str]:
    """The checksum, validator and disposition headers of every file response."""
    return {
        "Content-Disposition": content_disposition(file.file_name),
        "Content-Transfer-Encoding": "binary",
        "X-Checksum-SHA256": file.file_sha256,
        "ETag": f'"{file.file_sha256}"',
        "Last-Modified": http_date(file.created_at.replace(microsecond=0)),
        "Cache-Control": "max-age=0, private, must-revalidate",
    }


def small_body(file: PackageFile, delivery: Delivery) -> bytes | None:
    """A local file of at most IN_MEMORY_MAX bytes, read whole: for small files, handing
    the server a path to send costs more than the bytes. None: not such a file. Raises
    BlobMissing when the file on disk is not the size the row says."""
    if file.size > IN_MEMORY_MAX or not isinstance(delivery, LocalFile):
        return None
    with open(delivery.path, "rb") as blob:
        body = blob.read()
    if len(body) != file.size:
        raise BlobMissing(f"{file.file_sha256}: {len(body)} bytes read, expected {file.size}")
    return body


async def send_file(request: Request, file: PackageFile) -> Response:
    """Send a file's blob however its store can: from memory when small and local, from
    a local file by granian (or by nginx in front, X-Accel-Redirect), streamed from an
    object store, or as a redirect to a presigned URL. The checksum and disposition
    headers are there in every case."""
    registry = registry_of(request)
    headers = file_headers(file)
    try:
        delivery = await registry.blobs.delivery(
            BlobLocation(file.file_sha256, file.blob_key),
            size=file.size,
            file_name=file.file_name,
            disposition=headers["Content-Disposition"],
        )
        if _not_modified(request, headers["ETag"], file.created_at.replace(microsecond=0)):
            return Response(status_code=304, headers=headers)
        if request.method == "GET" and "range" not in request.headers:
            body = small_body(file, delivery)
            if body is not None:
                headers["Accept-Ranges"] = "bytes"
                return Response(body, headers=headers, media_type=OCTET_STREAM)
    except BlobMissing as exc:
        log.error("blob of package file %s is missing or short: %s", file.id, exc)
        return json({"message": "500 Internal Server Error"}, 500)
    if isinstance(delivery, LocalFile):
        accel = registry.settings.accel_redirect
        if accel and _nginx_sends(request):
            headers["X-Accel-Redirect"] = accel + delivery.name
            return Response(headers=headers, media_type=OCTET_STREAM)
        return LocalFileResponse(
            delivery.path, headers=headers, media_type=OCTET_STREAM, stat_result=delivery.stat
        )
    if isinstance(delivery, Redirect):
        if request.method == "HEAD":
            # A presigned URL is signed for GET: answer HEAD here, as a proxy would.
            headers["Content-Length"] = str(file.size)
            return Response(headers=headers, media_type=OCTET_STREAM)
        return RedirectResponse(delivery.url, status_code=302, headers=headers)
    return StreamedBlobResponse(
        delivery.read, file.size, headers, label=f"package file {file.id} ({file.file_sha256})"
    )


def _nginx_sends(request: Request) -> bool:
    """Whether nginx in front will send the file itself (settings.accel_redirect): it
    marks the requests it proxies, as Rack::Sendfile expects. A client that sets the
    header itself, bypassing nginx, gets only the headers it asked for. Range requests
    stay here, so that every Range gets the answers GitLab gives (LocalFileResponse)."""
    return (
        request.headers.get("x-sendfile-type") == "X-Accel-Redirect"
        and request.method == "GET"
        and "range" not in request.headers
    )


class LocalFileResponse(FileResponse):
    """Starlette's FileResponse with the Range answers GitLab gives (Workhorse serves files
    with Go's http.ServeContent): a Range header that cannot be parsed is a 416, like one
    past the end, where Starlette answers 400; one that names no range at all
    (``bytes=``) gets the whole file."""

    @classmethod
    def _parse_range_header(cls, http_range: str, file_size: int) -> list[tuple[int, int]]:
        try:
            return super()._parse_range_header(http_range, file_size)
        except MalformedRangeHeader:
            if names_no_range(http_range):
                return []  # the whole file
            raise RangeNotSatisfiable(file_size) from None


@functools.lru_cache(maxsize=4096)
def http_date(naive_utc: datetime) -> str:
    return format_datetime(naive_utc.replace(tzinfo=UTC), usegmt=True)


def _not_modified(request: Request, etag: str, modified: datetime) -> bool:
    if_none_match = request.headers.get("if-none-match")
    if if_none_match is not None:
        tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
        return "*" in tags or etag in tags
    if_modified_since = request.headers.get("if-modified-since")
    if if_modified_since:
        try:
            since = parsedate_to_datetime(if_modified_since)
        except (TypeError, ValueError):
            return False
        if since.tzinfo is not None:
            return modified <= since.astimezone(UTC).replace(tzinfo=None)
    return False


# Rails ActionDispatch::Http::ContentDisposition, which GitLab uses for send_file.
_TRADITIONAL_SAFE = " !#$+.^_`|~-"
_RFC5987_SAFE = "!#$&+.^_`|~-"


@functools.lru_cache(maxsize=4096)  # the same few names are downloaded again and again
def content_disposition(file_name: str) -> str:
    ascii_name = file_name.encode("ascii", "replace").decode("ascii")
    traditional = "".join(
        c if (c.isascii() and c.isalnum()) or c in _TRADITIONAL_SAFE else f"%{ord(c):02X}"
        for c in ascii_name
    )
    rfc5987 = quote(file_name, safe=_RFC5987_SAFE)
    return f"attachment; filename=\"{traditional}\"; filename*=UTF-8''{rfc5987}"

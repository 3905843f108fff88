"""The generic package routes: PUT, GET and HEAD of a file (spec §2, §3), and Cargobay's
own (docs/extensions.md): DELETE of a file, GET and DELETE of a version. How a file is
sent: api/delivery.py; the one-statement lookup the download tries first: api/quick.py."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.types import Message, Receive, Scope, Send

from cargobay.api import serializers
from cargobay.api.bodies import body_chunks
from cargobay.api.delivery import (
    StreamedBlobResponse,
    content_disposition,
    counts_as_download,
    http_date,
    not_modified,
    send_file,
)
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
from cargobay.domain import archives
from cargobay.domain.archives import FILE_KEYWORDS
from cargobay.domain.checksums import WANT_DIGEST, read_assertions, repr_digest
from cargobay.domain.integers import ascii_digits, ascii_integer
from cargobay.domain.models import PackageStatus
from cargobay.domain.names import FileCoordinates, parse_coordinates, parse_version
from cargobay.domain.preconditions import Preconditions
from cargobay.domain.versions import KEYWORDS
from cargobay.errors import CargobayError, bad_params
from cargobay.services import archives as archive_service
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
    file_path = path_value(request, "file_path")
    if not file_path:
        return await get_version(request)  # …/:version/ is the version itself
    if file_path in FILE_KEYWORDS or path_value(request, "package_version") in KEYWORDS:
        return await _download_extension(request, file_path)
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


def _version(request: Request, *, keywords: bool = False) -> tuple[str, str]:
    name, version = path_value(request, "package_name"), path_value(request, "package_version")
    return parse_version(name, version, keywords=keywords)


async def _download_extension(request: Request, file_path: str) -> Response:
    """GET or HEAD of ``~latest``/``~newest`` in the version position, or of a
    ``~archive.*``/``~sha256sums`` keyword as the file (docs/extensions.md)."""
    principal = await principal_of(request, generic=True)
    if file_path in FILE_KEYWORDS:
        name, version = _version(request, keywords=True)
        ref = path_value(request, "id")
        return await archive_response(request, principal, ref, name, version, file_path)
    name, keyword = _version(request, keywords=True)
    where = _coordinates_in(request, "0")  # the file's name, validated before the lookup
    registry = registry_of(request)
    ref = path_value(request, "id")
    version = await generic_url.resolve_version(registry, principal, ref, name, keyword)
    where = FileCoordinates(name, version, where.path, where.file_name)
    resolved = await resolve_download(
        registry, principal, ref, where, allow_listing=where.stored_name == "files"
    )
    if resolved.file is None:
        response = json([package_file(f) for f in resolved.files])
    else:
        response = await send_file(request, resolved.file)
    response.headers["Content-Location"] = _concrete(request, version)
    response.headers["X-Cargobay-Version-Resolved"] = version
    return response


def _coordinates_in(request: Request, version: str) -> FileCoordinates:
    try:
        return parse_coordinates(
            path_value(request, "package_name"), version, path_value(request, "file_path")
        )
    except CargobayError as exc:
        raise bad_params(exc.body["error"]) from None


def _concrete(request: Request, version: str) -> str:
    """The request's own path with the concrete version in place of the keyword: the
    immutable URL of what was served (RFC 9110 Content-Location)."""
    raw = request.path_params  # undecoded (app.RawPathRouting)
    path: str = request.scope["path"]
    named = f"/{raw['package_name']}/{raw['package_version']}"
    head = path[: path.index(named)]
    tail = f"/{raw['file_path']}" if raw.get("file_path") else ""
    return f"{head}/{raw['package_name']}/{quote(version)}{tail}"


async def archive_response(
    request: Request, principal: Principal, ref: str, name: str, version: str, keyword: str
) -> Response:
    """A ``~archive.*`` or ``~sha256sums`` of the version (the web's package page sends
    the same): ``?path=`` and ``?prefix=`` from the query."""
    under = archives.directory(request.query_params.get("path"), "path")
    prefix = archives.directory(request.query_params.get("prefix"), "prefix")
    registry = registry_of(request)
    found = await archive_service.contents(
        registry, principal, ref, name, version, under=under, prefix=prefix
    )
    concrete = found.package.version or version
    if keyword == archives.SHA256SUMS:
        kind, media_type, file_name = "sha256sums", "text/plain; charset=utf-8", None
    else:
        chosen = archives.FORMATS[keyword]
        kind, media_type = chosen.kind, chosen.media_type
        file_name = f"{name}-{concrete}.{chosen.extension}"
    etag = archives.etag(kind, found.members)
    modified = found.last_modified.replace(microsecond=0)
    headers = {
        "ETag": etag,
        "Last-Modified": http_date(modified),
        "Cache-Control": "max-age=0, private, must-revalidate",
        "Content-Type": media_type,
    }
    if file_name is not None:
        headers["Content-Disposition"] = content_disposition(file_name)
    if version in KEYWORDS and "package_version" in request.path_params:
        headers["Content-Location"] = _concrete(request, concrete)
        headers["X-Cargobay-Version-Resolved"] = concrete
    if not_modified(request, etag, modified):
        return Response(status_code=304, headers=headers)
    if kind == "sha256sums":
        return Response(archives.sha256sums(found.members), headers=headers)
    if counts_as_download(request.method, request.headers.get("range")):
        registry.download_counts.count(found.package.id)  # once, on the package
    label = f"{name} {concrete} ({kind})"
    if kind == "tar":
        read = archive_service.tar_reader(registry.blobs, found.members)
        length = archives.tar_length(found.members)
        response: Response = StreamedBlobResponse(read, length, headers, label=label)
        response.media_type = media_type
    elif request.method == "HEAD":
        return Response(headers=headers)  # streamed: the length is not known up front
    else:
        if kind == "zip":
            body = archive_service.zip_stream(registry.blobs, found.members)
        else:
            level = registry.settings.archive_gzip_level
            body = archive_service.tar_gz(registry.blobs, found.members, level)
        response = StreamingResponse(archive_service.logged(body, label), headers=headers)
    count = partial(registry.metrics.archive_sent, kind)
    return _Holding(response, registry.archive_slots.take(), count)


class _Holding(Response):
    """An archive's response: gives its archive slot back once it is sent (or cut
    short), and counts it in the metrics by how it ended."""

    def __init__(
        self, inner: Response, release: Callable[[], None], count: Callable[[str, int], None]
    ) -> None:
        self.inner = inner
        self.release = release
        self.count = count  # (result, bytes sent)
        self.status_code = inner.status_code
        self.background = None
        self.raw_headers = inner.raw_headers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        status, sent, ended = 0, 0, False

        async def counted(message: Message) -> None:
            nonlocal status, sent, ended
            await send(message)
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                sent += len(message.get("body", b""))
                ended = not message.get("more_body", False)

        try:
            await self.inner(scope, receive, counted)
        finally:
            self.release()
            if scope["method"] != "HEAD":
                result = "refused" if status >= 400 else "complete" if ended else "aborted"
                self.count(result, sent)


async def get_version(request: Request) -> Response:
    """GET …/:name/:version (or ~latest): the package, with the newest file of each name."""
    principal = await principal_of(request, generic=True)
    name, version = _version(request, keywords=True)

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
    # Cargobay's own URL, so also the download counts (docs/extensions.md), which the
    # Packages API's entities, GitLab's, leave out.
    entity["download_count"] = found.package.download_count
    entity["files"] = [{**package_file(f), "download_count": f.download_count} for f in found.files]
    response = json(entity)
    if version in KEYWORDS:
        response.headers["Content-Location"] = _concrete(request, found.package.version or "")
    return response


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

"""How a package file's blob is sent, for every route that sends one (the generic
download, the Packages API's file download, the web interface) and for the fast lane:
from memory when small and local, from a local file by granian (or by nginx in front,
X-Accel-Redirect), streamed from an object store, or as a redirect to a presigned URL,
with GitLab's checksum, validator and disposition headers every time.

Streamed blobs (S3 in proxy mode) get the HEAD, Range and If-Range behaviour local blobs
get (LocalFileResponse): one range is a 206, several are multipart/byteranges, a range
past the end or one that cannot be parsed is a 416 with ``Content-Range: bytes */size``,
and ``bytes=`` naming no range gets the whole file.
"""

from __future__ import annotations

import functools
import logging
import re
import secrets
from collections.abc import AsyncGenerator, Callable, Mapping
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from urllib.parse import quote

from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import (
    FileResponse,
    MalformedRangeHeader,
    PlainTextResponse,
    RangeNotSatisfiable,
    RedirectResponse,
    Response,
)
from starlette.types import Receive, Scope, Send

from cargobay.api.observability import EXCHANGE
from cargobay.api.params import registry_of
from cargobay.api.responses import json
from cargobay.domain.checksums import repr_digest
from cargobay.domain.models import PackageFile
from cargobay.domain.names import base_name
from cargobay.storage.blobs.base import BlobLocation, BlobMissing, Delivery, LocalFile, Redirect

_FROM_FIRST_BYTE = re.compile(r"\s*bytes\s*=\s*0*0\s*-", re.IGNORECASE)
log = logging.getLogger("cargobay")

# A local file up to this size is read and sent as the response body: for small files,
# handing the server a path to send costs more than the bytes (bench/: 1 KiB GETs).
IN_MEMORY_MAX = 64 * 1024
OCTET_STREAM = "application/octet-stream"


def file_headers(file: PackageFile) -> dict[str, str]:
    """The checksum, validator and disposition headers of every file response."""
    return {
        "Content-Disposition": content_disposition(file.file_name),
        "Content-Transfer-Encoding": "binary",
        "X-Checksum-SHA256": file.file_sha256,
        "Repr-Digest": repr_digest(file.file_sha256),  # RFC 9530, Cargobay's own
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
        if not_modified(request, headers["ETag"], file.created_at.replace(microsecond=0)):
            return Response(status_code=304, headers=headers)
        if request.method == "GET" and "range" not in request.headers:
            body = small_body(file, delivery)
            if body is not None:
                headers["Accept-Ranges"] = "bytes"
                _delivered(request, "memory")
                registry.download_counts.count(file.package_id, file.id)
                return Response(body, headers=headers, media_type=OCTET_STREAM)
    except BlobMissing as exc:
        log.error("blob of package file %s is missing or short: %s", file.id, exc)
        return json({"message": "500 Internal Server Error"}, 500)
    if counts_as_download(request.method, request.headers.get("range")):
        registry.download_counts.count(file.package_id, file.id)
    if isinstance(delivery, LocalFile):
        accel = registry.settings.accel_redirect
        if accel and _nginx_sends(request):
            headers["X-Accel-Redirect"] = accel + delivery.name
            _delivered(request, "accel", file.size)
            return Response(headers=headers, media_type=OCTET_STREAM)
        _delivered(request, "file")
        return LocalFileResponse(
            delivery.path, headers=headers, media_type=OCTET_STREAM, stat_result=delivery.stat
        )
    if isinstance(delivery, Redirect):
        if request.method == "HEAD":
            # A presigned URL is signed for GET: answer HEAD here, as a proxy would.
            headers["Content-Length"] = str(file.size)
            return Response(headers=headers, media_type=OCTET_STREAM)
        _delivered(request, "s3_redirect", file.size)
        return RedirectResponse(delivery.url, status_code=302, headers=headers)
    _delivered(request, "s3_proxy")
    return StreamedBlobResponse(
        delivery.read, file.size, headers, label=f"package file {file.id} ({file.file_sha256})"
    )


def counts_as_download(method: str, http_range: str | None) -> bool:
    """A GET of the whole body or of a range from its first byte (beyond-gitlab §7.1):
    resuming or seeking is not another download. Asked once 304 is ruled out."""
    return method == "GET" and (
        http_range is None or _FROM_FIRST_BYTE.match(http_range) is not None
    )


def _delivered(request: Request, how: str, delegated: int = 0) -> None:
    """Tell the metrics (api/observability.py) how a GET's file body goes out: the bytes
    are those of the answer's body, or ``delegated``, which nginx or the object store
    sends for us. HEAD sends no body and is no download."""
    exchange = request.scope.get(EXCHANGE)
    if exchange is not None and request.method == "GET":
        exchange.delivery = how
        exchange.delegated = delegated


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


def not_modified(request: Request, etag: str, modified: datetime) -> bool:
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
def content_disposition(stored_name: str) -> str:
    """Rails' escaping of the file's base name: a nested file's stored name
    (``dir%2Ff.txt``) would reach curl -OJ as ``dir%252Ff.txt`` (docs/compatibility.md)."""
    file_name = base_name(stored_name)
    ascii_name = file_name.encode("ascii", "replace").decode("ascii")
    traditional = "".join(
        c if (c.isascii() and c.isalnum()) or c in _TRADITIONAL_SAFE else f"%{ord(c):02X}"
        for c in ascii_name
    )
    rfc5987 = quote(file_name, safe=_RFC5987_SAFE)
    return f"attachment; filename=\"{traditional}\"; filename*=UTF-8''{rfc5987}"


# ---------------------------------------------------------------- streamed blobs


MAX_RANGES = 100


class Unsatisfiable(Exception):
    pass


class Malformed(Exception):
    pass


def names_no_range(http_range: str) -> bool:
    """``bytes=`` (or ``bytes=,``): Go's ServeContent, and so GitLab, sends the whole file
    for these; any other Range header that cannot be parsed is a 416."""
    unit, _, ranges = http_range.partition("=")
    return unit.strip() == "bytes" and not ranges.replace(",", "").strip()


def parse_ranges(header: str, size: int) -> list[tuple[int, int]]:
    """``Range: bytes=...`` as half-open intervals, merged; [] means "send it all".
    Same rules as Starlette's FileResponse, so both stores answer alike."""
    units, sep, spec = header.partition("=")
    if not sep:
        raise Malformed("Malformed range header.")
    if units.strip().lower() != "bytes":
        raise Malformed("Only support bytes range")
    if spec.count(",") + 1 > MAX_RANGES:
        return []
    ranges: list[tuple[int, int]] = []
    for raw in spec.split(","):
        part = raw.strip()
        if not part or part == "-" or "-" not in part:
            continue
        first, _, last = (s.strip() for s in part.partition("-"))
        try:
            start = int(first) if first else max(size - int(last), 0)
            end = int(last) + 1 if first and last and int(last) < size else size
        except ValueError:
            continue
        ranges.append((start, end))
    if not ranges:
        raise Malformed("Range header: range must be requested")
    if any(not 0 <= start < size for start, _ in ranges):
        raise Unsatisfiable()
    if any(start >= end for start, end in ranges):
        raise Malformed("Range header: start must be less than end")
    ranges.sort()
    merged = [ranges[0]]
    for start, end in ranges[1:]:
        if start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


class StreamedBlobResponse(Response):
    media_type = "application/octet-stream"

    def __init__(
        self,
        read: Callable[[int, int], AsyncGenerator[bytes, None]],
        size: int,
        headers: Mapping[str, str],
        *,
        label: str,
    ) -> None:
        self.read = read
        self.size = size
        self.label = label  # for the log line when the store lost the bytes
        self.status_code = 200
        self.background = None
        self.init_headers({**headers, "content-length": str(size), "accept-ranges": "bytes"})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request_headers = Headers(scope=scope)
        head_only = scope["method"].upper() == "HEAD"
        ranges: list[tuple[int, int]] = []
        http_range = request_headers.get("range")
        if http_range is not None and self._range_applies(request_headers.get("if-range")):
            try:
                ranges = parse_ranges(http_range, self.size)
            except (Malformed, Unsatisfiable) as exc:
                if isinstance(exc, Malformed) and names_no_range(http_range):
                    ranges = []  # the whole file, as LocalFileResponse
                else:
                    unsatisfiable = PlainTextResponse(
                        "", status_code=416, headers={"Content-Range": f"bytes */{self.size}"}
                    )
                    await unsatisfiable(scope, receive, send)
                    return
        if len(ranges) > 1:
            await self._send_multipart(ranges, head_only, scope, receive, send)
            return
        status, (start, end) = (206, ranges[0]) if ranges else (200, (0, self.size))
        headers = self.headers.mutablecopy()
        if ranges:
            headers["content-range"] = f"bytes {start}-{end - 1}/{self.size}"
            headers["content-length"] = str(end - start)
        if head_only:
            await send({"type": "http.response.start", "status": status, "headers": headers.raw})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
            return
        body = self.read(start, end)
        try:
            first = await anext(body, b"")
        except BlobMissing:
            await self._lost(scope, receive, send)
            return
        await send({"type": "http.response.start", "status": status, "headers": headers.raw})
        try:
            await _more(send, first)
            async for chunk in body:
                await _more(send, chunk)
        finally:
            await body.aclose()
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    def _range_applies(self, if_range: str | None) -> bool:
        if if_range is None:
            return True
        return not if_range.startswith("W/") and if_range in (
            self.headers.get("last-modified"),
            self.headers.get("etag"),
        )

    async def _send_multipart(
        self,
        ranges: list[tuple[int, int]],
        head_only: bool,
        scope: Scope,
        receive: Receive,
        send: Send,
    ) -> None:
        boundary = secrets.token_hex(13)

        def part_header(start: int, end: int) -> bytes:
            return (
                f"--{boundary}\r\nContent-Type: {self.media_type}\r\n"
                f"Content-Range: bytes {start}-{end - 1}/{self.size}\r\n\r\n"
            ).encode("latin-1")

        length = sum(len(part_header(s, e)) + (e - s) + 2 for s, e in ranges)
        length += len(boundary) + 4
        headers = self.headers.mutablecopy()
        headers["content-type"] = f"multipart/byteranges; boundary={boundary}"
        headers["content-length"] = str(length)
        if head_only:
            await send({"type": "http.response.start", "status": 206, "headers": headers.raw})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
            return
        started = False
        for start, end in ranges:
            body = self.read(start, end)
            try:
                first = await anext(body, b"")
            except BlobMissing:
                if started:
                    raise
                await self._lost(scope, receive, send)
                return
            if not started:
                await send({"type": "http.response.start", "status": 206, "headers": headers.raw})
                started = True
            await _more(send, part_header(start, end))
            try:
                await _more(send, first)
                async for chunk in body:
                    await _more(send, chunk)
            finally:
                await body.aclose()
            await _more(send, b"\r\n")
        closing = f"--{boundary}--".encode("latin-1")
        await send({"type": "http.response.body", "body": closing, "more_body": False})

    async def _lost(self, scope: Scope, receive: Receive, send: Send) -> None:
        log.error("the blob store has lost the bytes of %s", self.label)
        await json({"message": "500 Internal Server Error"}, 500)(scope, receive, send)


async def _more(send: Send, chunk: bytes) -> None:
    await send({"type": "http.response.body", "body": chunk, "more_body": True})

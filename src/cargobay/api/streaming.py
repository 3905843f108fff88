"""A response that streams a blob the server cannot send from a local file (S3 in proxy
mode), with the same HEAD, Range and If-Range behaviour as local blobs get
(generic.LocalFileResponse): one range is a 206, several are multipart/byteranges, a
range past the end or one that cannot be parsed is a 416 with ``Content-Range: bytes
*/size``, and ``bytes=`` naming no range gets the whole file."""

from __future__ import annotations

import logging
import secrets
from collections.abc import AsyncGenerator, Callable, Mapping

from starlette.datastructures import Headers
from starlette.responses import PlainTextResponse, Response
from starlette.types import Receive, Scope, Send

from cargobay.api.responses import json
from cargobay.storage.blobs.base import BlobMissing

log = logging.getLogger("cargobay")
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
                    ranges = []  # the whole file, as generic.LocalFileResponse
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

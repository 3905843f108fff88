"""A whole package version as one download: a zip, tar or tar.gz archive, or a
SHA256SUMS list (Cargobay's own, docs/extensions.md; design beyond-gitlab.md §2, §7.7).

Who may have it is decided exactly as for a download of one of its files. The limits
(files, bytes, archives streaming at once in this process) answer before the first byte.
Members stream from the blob store one after another, a MiB at a time, so memory stays
flat whatever the package's size; the container bytes come from domain/archives.py.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime

import anyio.to_thread

from cargobay.auth.principal import Principal
from cargobay.domain import archives
from cargobay.domain.archives import Member
from cargobay.domain.models import Package, utcnow
from cargobay.errors import bad_request
from cargobay.services.access import generic_forbidden
from cargobay.services.download import note_download
from cargobay.services.generic_url import generic_access, package_named
from cargobay.services.registry import Registry
from cargobay.storage.blobs.base import BlobLocation, BlobStore
from cargobay.storage.db import packages as package_sql

log = logging.getLogger("cargobay")


@dataclass(frozen=True, slots=True)
class Contents:
    package: Package
    members: list[Member]

    @property
    def last_modified(self) -> datetime:
        return max((m.file.created_at for m in self.members), default=self.package.created_at)


async def contents(
    registry: Registry,
    principal: Principal,
    ref: str,
    name: str,
    version: str,
    *,
    under: str = "",
    prefix: str = "",
) -> Contents:
    """The members of the version's archive (``version`` may be ``~latest``), checked
    against the archive limits."""
    async with registry.db.read() as conn:
        access = await generic_access(conn, registry, principal, ref)
        if not access.can.read_package:
            raise generic_forbidden(principal)
        package = await package_named(conn, access, name, version)
        files = await package_sql.live_files(conn, package.id)
    chosen = archives.members(files, under=under, prefix=prefix)
    settings = registry.settings
    if settings.archive_max_files and len(chosen) > settings.archive_max_files:
        raise bad_request(
            f"Archive too large: {len(chosen)} files, the limit is {settings.archive_max_files}"
        )
    size = sum(m.file.size for m in chosen)
    if settings.archive_max_bytes and size > settings.archive_max_bytes:
        raise bad_request(
            f"Archive too large: {size} bytes, the limit is {settings.archive_max_bytes}"
        )
    await note_download(registry, package.id, package.last_downloaded_at, utcnow())
    return Contents(package, chosen)


def _blob(blobs: BlobStore, member: Member, start: int, end: int) -> AsyncGenerator[bytes, None]:
    return blobs.read(BlobLocation(member.file.file_sha256, member.file.blob_key), start, end)


def tar_reader(
    blobs: BlobStore, chosen: list[Member]
) -> Callable[[int, int], AsyncGenerator[bytes, None]]:
    """``read(start, end)`` over the tar's bytes, a fixed sequence of header, member and
    padding segments: what a Range answer needs."""
    segments: list[tuple[int, int, bytes | Member]] = []  # (start, end, bytes or member)
    offset = 0
    for m in chosen:
        for piece in (archives.tar_header(m), m, archives.tar_padding(m.file.size)):
            length = piece.file.size if isinstance(piece, Member) else len(piece)
            if length:
                segments.append((offset, offset + length, piece))
                offset += length
    segments.append((offset, offset + len(archives.TAR_END), archives.TAR_END))

    async def read(start: int, end: int) -> AsyncGenerator[bytes, None]:
        for first, last, piece in segments:
            if last <= start or first >= end:
                continue
            lo, hi = max(start, first) - first, min(end, last) - first
            if isinstance(piece, Member):
                async for chunk in _blob(blobs, piece, lo, hi):
                    yield chunk
            else:
                yield piece[lo:hi]

    return read


async def tar_gz(blobs: BlobStore, chosen: list[Member], level: int) -> AsyncIterator[bytes]:
    """The tar, gzipped in a worker thread (zlib releases the GIL) at ``level``."""
    compressor = archives.gzip_compressor(level)
    read = tar_reader(blobs, chosen)
    async for chunk in read(0, archives.tar_length(chosen)):
        packed = await anyio.to_thread.run_sync(compressor.compress, chunk)
        if packed:
            yield packed
    yield compressor.flush()


async def zip_stream(blobs: BlobStore, chosen: list[Member]) -> AsyncIterator[bytes]:
    """Stored members with data descriptors; the CRC-32 of each is computed as it passes
    (in a worker thread), the central directory comes last."""
    writer = archives.ZipWriter()
    try:
        for m in chosen:
            yield writer.start(m)
            async for chunk in _blob(blobs, m, 0, m.file.size):
                yield await anyio.to_thread.run_sync(writer.write, chunk)
            yield writer.end()
        yield writer.finish()
    finally:
        writer.abandon()


async def logged(body: AsyncIterator[bytes], label: str) -> AsyncIterator[bytes]:
    """An archive's body; a failure after the first byte can only cut the connection,
    so it is logged first."""
    try:
        async for chunk in body:
            yield chunk
    except Exception:
        log.exception("archive %s cut short", label)
        raise

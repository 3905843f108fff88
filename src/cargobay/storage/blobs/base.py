"""The blob store seam: immutable file bodies addressed by their sha256.

A store receives a body as a stream, hashes it (md5, sha1, sha256) in the same pass as it
writes it, and makes it durable before returning. Only then may a row reference it
(design §3). A store that cannot name the bytes by their sha256 (S3: the object key is
fixed before the first byte is sent) returns the ``key`` it chose; the blobs row records
it and every later call gets it back in a ``BlobLocation``.

Services and handlers see only this protocol: which store runs is a setting.
"""

from __future__ import annotations

import os
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, runtime_checkable


@dataclass(frozen=True, slots=True)
class StoredBlob:
    sha256: str
    sha1: str
    md5: str
    size: int
    key: str | None = None  # where the store put it; None: derived from the sha256

    @property
    def location(self) -> BlobLocation:
        return BlobLocation(self.sha256, self.key)


@dataclass(frozen=True, slots=True)
class BlobLocation:
    sha256: str
    key: str | None = None


# Checks a stored body's digests before it is kept (raises to refuse it).
Verify = Callable[[StoredBlob], None]


# How a blob reaches a downloader: a file the server sends zero-copy, a URL the client is
# redirected to, or bytes the server streams. Handlers turn each into a response.


@dataclass(frozen=True, slots=True)
class LocalFile:
    path: str
    name: str  # the path under the store's root: what an X-Accel-Redirect names
    stat: os.stat_result


@dataclass(frozen=True, slots=True)
class Redirect:
    url: str


@dataclass(frozen=True, slots=True)
class Streamed:
    # read(start, end) yields bytes [start, end); it raises BlobMissing before the first
    # chunk when the blob is gone, so a handler can still answer 500 instead of a cut body.
    read: Callable[[int, int], AsyncGenerator[bytes, None]]


Delivery = LocalFile | Redirect | Streamed


class BlobMissing(Exception):
    """The store has no bytes at a location the database points to."""


@dataclass(frozen=True, slots=True)
class Inventory:
    """Everything a store holds: complete objects and uploads still in flight (a local
    temp file, an S3 multipart upload). Tests and the garbage collector read it."""

    stored: list[str]
    in_flight: list[str]


class BlobStore(Protocol):
    async def put(
        self, chunks: AsyncIterator[bytes], *, limit: int, verify: Verify | None = None
    ) -> StoredBlob:
        """Store a body. ``limit`` > 0 refuses a body of ``limit`` bytes or more
        (raising the spec's "File is too large" 400) and stores nothing. ``verify`` gets
        the digests once the last byte is in, before the blob is made durable; what it
        raises refuses the body, which leaves nothing (temp file removed, multipart
        upload aborted). A body that fails mid-way (client gone, store error) leaves
        nothing behind either."""
        ...

    async def discard(self, blob: StoredBlob) -> None:
        """Forget a copy ``put`` just made that no row will reference (identical content
        was already stored, or the upload was refused after the body arrived). Stores
        whose copies are shared by content (local) leave it to the garbage collector."""
        ...

    async def delivery(
        self, location: BlobLocation, *, size: int, file_name: str, disposition: str
    ) -> Delivery:
        """How to send this blob. ``disposition`` is the Content-Disposition a redirect
        target must answer with. Raises BlobMissing when the store can tell cheaply that
        the bytes are gone or short."""
        ...

    def read(self, location: BlobLocation, start: int, end: int) -> AsyncGenerator[bytes, None]:
        """Bytes [start, end) of a blob, in chunks of about a MiB, whatever the store's
        delivery (archives, services/archives.py). Raises BlobMissing when the bytes are
        gone or end early."""
        ...

    async def size(self, location: BlobLocation) -> int | None:
        """The stored size, or None when the blob is missing."""
        ...

    async def delete(self, location: BlobLocation) -> None:
        """Remove a blob no row references any more (garbage collection)."""
        ...

    async def inventory(self) -> Inventory:
        """Keys of every stored object and every upload in flight."""
        ...

    async def check(self) -> None:
        """Raise unless the store can take uploads now (readiness probe)."""
        ...

    async def close(self) -> None:
        """Release connections and threads."""
        ...


@runtime_checkable
class CollectableBlobStore(Protocol):
    """What the garbage collector (services/gc.py) needs from a store, beside BlobStore.

    The one hard rule: never delete bytes a ``put`` is about to have referenced. Between
    the collector deciding a blob is garbage (no blob row names it) and deleting it, an
    upload may store the same bytes again and commit a row for them. A store whose
    locations are unique per upload (S3 keys) is safe by construction; a content-addressed
    one (local) must detect the rewrite (see LocalBlobStore).
    """

    def stored_before(self, cutoff: datetime) -> AsyncIterator[list[BlobLocation]]:
        """Batches of the locations of complete blobs last written before ``cutoff``
        (naive UTC)."""
        ...

    async def delete_unless_rewritten(self, location: BlobLocation, cutoff: datetime) -> int | None:
        """Delete the blob unless a ``put`` wrote it at or after ``cutoff``, including a
        ``put`` running concurrently. The bytes freed; None when nothing was deleted."""
        ...

    async def recover_interrupted_deletes(self) -> int:
        """Undo what a collector killed half-way through ``delete_unless_rewritten`` left
        behind; the number of blobs put back. Runs before every collection."""
        ...

    async def remove_stale_uploads(self, cutoff: datetime) -> int:
        """Remove uploads that never finished (temp files, multipart uploads) and were
        last touched before ``cutoff``; how many."""
        ...

"""The blob store seam: immutable file bodies addressed by their sha256.

A store receives a body as a stream, hashes it (md5, sha1, sha256) in the same pass as it
writes it, and makes it durable under its sha256 before returning. Only then may a row
reference it (design §3).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol


@dataclass(frozen=True, slots=True)
class StoredBlob:
    sha256: str
    sha1: str
    md5: str
    size: int


class BlobStore(Protocol):
    async def put(self, chunks: AsyncIterator[bytes], *, limit: int) -> StoredBlob:
        """Store a body. ``limit`` > 0 refuses a body of ``limit`` bytes or more
        (raising the spec's "File is too large" 400) and stores nothing."""
        ...

    def local_path(self, sha256: str) -> Path | None:
        """A path the server can send zero-copy, if the store is on this machine."""
        ...

    async def size(self, sha256: str) -> int | None:
        """The stored size, or None when the blob is missing."""
        ...

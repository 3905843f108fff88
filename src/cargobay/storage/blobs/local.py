"""Blobs on a local filesystem: ``<root>/sha256/ab/cd/<sha256>``.

Write path: a fresh temp file in ``<root>/tmp``, written and hashed in one pass, fsynced,
then renamed over its final name and the directory fsynced. The rename happens even when
the blob already exists: identical content stays stored once, and the fresh mtime tells
the garbage collector an upload is about to reference it.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import AsyncIterator
from pathlib import Path

import anyio.to_thread

from cargobay.storage.blobs.base import StoredBlob
from cargobay.storage.blobs.hashing import hash_stream


class LocalBlobStore:
    def __init__(self, root: Path, *, chunk_size: int = 1024 * 1024) -> None:
        self.root = root
        self.tmp = root / "tmp"
        self.chunk_size = chunk_size
        self.tmp.mkdir(parents=True, exist_ok=True)
        (root / "sha256").mkdir(exist_ok=True)

    def path_for(self, sha256: str) -> Path:
        return self.root / "sha256" / sha256[:2] / sha256[2:4] / sha256

    def local_path(self, sha256: str) -> Path | None:
        return self.path_for(sha256)

    async def size(self, sha256: str) -> int | None:
        try:
            return (await anyio.to_thread.run_sync(os.stat, self.path_for(sha256))).st_size
        except FileNotFoundError:
            return None

    async def put(self, chunks: AsyncIterator[bytes], *, limit: int) -> StoredBlob:
        temp = self.tmp / f"upload-{secrets.token_hex(12)}"
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640)

        def write_all(buf: bytes) -> None:
            view = memoryview(buf)
            while view:
                view = view[os.write(fd, view) :]

        try:
            try:
                blob = await hash_stream(chunks, write_all, limit=limit, chunk_size=self.chunk_size)
                await anyio.to_thread.run_sync(os.fsync, fd)
            finally:
                os.close(fd)
            await anyio.to_thread.run_sync(self._publish, temp, blob.sha256)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                temp.unlink()
            raise
        return blob

    def _publish(self, temp: Path, sha256: str) -> None:
        final = self.path_for(sha256)
        if not final.parent.is_dir():
            final.parent.mkdir(parents=True, exist_ok=True)
            _fsync_dir(final.parent.parent)
            _fsync_dir(final.parent.parent.parent)
        os.replace(temp, final)
        _fsync_dir(final.parent)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)

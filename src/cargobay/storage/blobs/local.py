"""Blobs on a local filesystem: ``<root>/sha256/ab/cd/<sha256>``.

Write path: a fresh temp file in ``<root>/tmp``, written and hashed in one pass, fsynced,
then renamed over its final name and the directory fsynced. The rename happens even when
the blob already exists: identical content stays stored once, and the fresh mtime tells
the garbage collector an upload is about to reference it.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
from collections.abc import AsyncGenerator, AsyncIterator
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import anyio.to_thread

from cargobay.storage.blobs.base import (
    BlobLocation,
    BlobMissing,
    Delivery,
    Inventory,
    LocalFile,
    StoredBlob,
    Verify,
)
from cargobay.storage.blobs.hashing import hash_stream


def blob_name(sha256: str) -> str:
    """Where a blob lives under the store's root."""
    return f"sha256/{sha256[:2]}/{sha256[2:4]}/{sha256}"


class LocalBlobStore:
    def __init__(self, root: Path, *, chunk_size: int = 1024 * 1024) -> None:
        self.root = root
        self.tmp = root / "tmp"
        self.chunk_size = chunk_size
        self.tmp.mkdir(parents=True, exist_ok=True)
        (root / "sha256").mkdir(exist_ok=True)
        self._root = str(root)

    def path_for(self, sha256: str) -> Path:
        return Path(self._blob_path(sha256))

    def _blob_path(self, sha256: str) -> str:
        # A plain string on the download path: building Paths costs more than the stat.
        return f"{self._root}/{blob_name(sha256)}"

    async def size(self, location: BlobLocation) -> int | None:
        try:
            return (await anyio.to_thread.run_sync(os.stat, self.path_for(location.sha256))).st_size
        except FileNotFoundError:
            return None

    async def delivery(
        self, location: BlobLocation, *, size: int, file_name: str, disposition: str
    ) -> Delivery:
        name = blob_name(location.sha256)
        path = f"{self._root}/{name}"
        # A stat is a few microseconds: cheaper in place than a thread hop.
        try:
            stat = os.stat(path)
        except FileNotFoundError:
            raise BlobMissing(location.sha256) from None
        if stat.st_size != size:
            raise BlobMissing(f"{location.sha256}: {stat.st_size} bytes, expected {size}")
        return LocalFile(path, name, stat)

    async def read(
        self, location: BlobLocation, start: int, end: int
    ) -> AsyncGenerator[bytes, None]:
        path = self._blob_path(location.sha256)
        try:
            fd = await anyio.to_thread.run_sync(os.open, path, os.O_RDONLY)
        except FileNotFoundError:
            raise BlobMissing(location.sha256) from None
        try:
            offset = start
            while offset < end:
                chunk = await anyio.to_thread.run_sync(
                    os.pread, fd, min(self.chunk_size, end - offset), offset
                )
                if not chunk:
                    raise BlobMissing(f"{location.sha256} ended {end - offset} bytes early")
                offset += len(chunk)
                yield chunk
        finally:
            os.close(fd)

    async def discard(self, blob: StoredBlob) -> None:
        # Content-addressed: another row may reference the same file. GC decides.
        return None

    async def delete(self, location: BlobLocation) -> None:
        with contextlib.suppress(FileNotFoundError):
            await anyio.to_thread.run_sync(self.path_for(location.sha256).unlink)

    async def check(self) -> None:
        # Uploads start as files in tmp/: it must be there and writable.
        if not os.access(self.tmp, os.W_OK | os.X_OK):
            raise OSError(f"{self.tmp} is missing or not writable")

    async def inventory(self) -> Inventory:
        def scan() -> Inventory:
            stored = sorted(p.name for p in (self.root / "sha256").rglob("*") if p.is_file())
            return Inventory(stored, sorted(p.name for p in self.tmp.iterdir()))

        return await anyio.to_thread.run_sync(scan)

    async def close(self) -> None:
        return None

    async def put(
        self, chunks: AsyncIterator[bytes], *, limit: int, verify: Verify | None = None
    ) -> StoredBlob:
        temp = self.tmp / f"upload-{secrets.token_hex(12)}"
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640)
        flusher = _Flusher(fd)

        def write_all(parts: list[bytes]) -> None:
            for part in parts:
                view = memoryview(part)
                while view:
                    view = view[os.write(fd, view) :]
                flusher.wrote(len(part))

        def durable(blob: StoredBlob) -> None:
            flusher.finish()
            self._publish(temp, blob.sha256)

        try:
            try:
                blob = await hash_stream(
                    chunks,
                    write_all,
                    limit=limit,
                    chunk_size=self.chunk_size,
                    verify=verify,
                    finish=durable,
                )
            finally:
                if flusher.busy:  # an upload that failed midway
                    await anyio.to_thread.run_sync(flusher.settle)
                os.close(fd)
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

    # ------------------------------------------------------------ garbage collection
    # (CollectableBlobStore) A put() renames over an existing blob, so a blob's mtime is
    # the last time an upload wrote it. delete_unless_rewritten moves a candidate aside
    # into <root>/gc with one atomic rename, then looks at the mtime of what it moved:
    # fresh means an upload renamed over the blob after the collector judged it garbage,
    # and that upload's row is about to commit, so the blob goes back. An upload renaming
    # after the move just recreates the blob. A collector killed between the move and the
    # check leaves the blob in gc/: the next collection first puts everything there back
    # (an orphan put back is collected again later; a referenced blob is never lost).

    @property
    def trash(self) -> Path:
        return self.root / "gc"

    async def stored_before(self, cutoff: datetime) -> AsyncIterator[list[BlobLocation]]:
        limit = _timestamp(cutoff)
        top = self.root / "sha256"
        for first in sorted(await anyio.to_thread.run_sync(_names_in, top)):
            batch = await anyio.to_thread.run_sync(_written_before, top / first, limit)
            if batch:
                yield batch

    async def delete_unless_rewritten(self, location: BlobLocation, cutoff: datetime) -> int | None:
        return await anyio.to_thread.run_sync(
            self._delete_unless_rewritten, location.sha256, _timestamp(cutoff)
        )

    def _delete_unless_rewritten(self, sha256: str, limit: float) -> int | None:
        final = self.path_for(sha256)
        try:
            if os.stat(final).st_mtime >= limit:
                return None
        except FileNotFoundError:
            return None
        self.trash.mkdir(exist_ok=True)
        aside = self.trash / f"{sha256}.{secrets.token_hex(8)}"
        try:
            os.rename(final, aside)
        except FileNotFoundError:
            return None  # another collector took it first
        try:
            moved = os.stat(aside)
        except FileNotFoundError:
            return None  # another collector's recovery put it back
        if moved.st_mtime >= limit:  # rewritten
            _put_back(aside, final)
            return None
        with contextlib.suppress(FileNotFoundError):
            os.unlink(aside)
        return moved.st_size

    async def recover_interrupted_deletes(self) -> int:
        def recover() -> int:
            restored = 0
            for name in _names_in(self.trash):
                sha256 = name.partition(".")[0]
                if _DIGEST.fullmatch(sha256):
                    restored += _put_back(self.trash / name, self.path_for(sha256))
            return restored

        return await anyio.to_thread.run_sync(recover)

    async def remove_stale_uploads(self, cutoff: datetime) -> int:
        limit = _timestamp(cutoff)

        def remove() -> int:
            removed = 0
            for name in _names_in(self.tmp):
                path = self.tmp / name
                with contextlib.suppress(FileNotFoundError):
                    if os.stat(path).st_mtime < limit:
                        path.unlink()
                        removed += 1
            return removed

        return await anyio.to_thread.run_sync(remove)


_DIGEST = re.compile(r"[0-9a-f]{64}")


def _timestamp(moment: datetime) -> float:
    """A naive-UTC datetime as a POSIX timestamp, comparable with st_mtime."""
    return moment.replace(tzinfo=UTC).timestamp()


def _names_in(directory: Path) -> list[str]:
    try:
        return os.listdir(directory)
    except FileNotFoundError:
        return []


def _written_before(directory: Path, limit: float) -> list[BlobLocation]:
    """Blobs under ``sha256/ab/`` last written before ``limit``."""
    found = []
    for second in _names_in(directory):
        for name in _names_in(directory / second):
            if not _DIGEST.fullmatch(name):
                continue
            with contextlib.suppress(FileNotFoundError):
                if os.stat(directory / second / name).st_mtime < limit:
                    found.append(BlobLocation(name))
    return found


def _put_back(aside: Path, final: Path) -> bool:
    """Return a blob moved aside to its place, unless an upload recreated it meanwhile
    (same content). ``link`` never replaces an existing name, so nothing is clobbered."""
    final.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(aside, final)
        restored = True
    except FileExistsError:
        restored = False
    except FileNotFoundError:
        return False  # another collector already dealt with it
    with contextlib.suppress(FileNotFoundError):
        os.unlink(aside)
    return restored


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class _Flusher:
    """Writes an upload's pages back to disk while it is still arriving: every
    FLUSH_EVERY bytes an fdatasync starts on a thread of its own, so the fsync that
    makes the blob durable at the end only waits for the tail (a 1 GiB upload otherwise
    ended with a second or more of write-back)."""

    FLUSH_EVERY = 64 * 1024 * 1024
    _pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="cargobay-flush")

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.unflushed = 0
        self.running: Future[None] | None = None

    def wrote(self, count: int) -> None:
        self.unflushed += count
        if self.unflushed >= self.FLUSH_EVERY and (self.running is None or self.running.done()):
            self.unflushed = 0
            self.running = self._pool.submit(os.fdatasync, self.fd)

    def finish(self) -> None:
        self.settle()
        os.fsync(self.fd)

    @property
    def busy(self) -> bool:
        return self.running is not None and not self.running.done()

    def settle(self) -> None:
        """Wait for a write-back in flight (the fd must stay open until it ends)."""
        if self.running is not None:
            with contextlib.suppress(OSError):
                self.running.result()

"""Blobs in an S3-compatible bucket (AWS S3, MinIO, Ceph RGW, SeaweedFS).

Write path: the body streams through hash_stream into parts of a multipart upload, at most
``WINDOW`` parts in flight, so memory stays at a few parts whatever the size and nothing
touches the local disk. A body shorter than one part goes up in a single PutObject. The
object key is chosen before the first byte (``<prefix>objects/<random>``) because the
sha256 is known only after the last one: the blobs row records the key (design §3).
Anything that fails or is cancelled mid-way aborts the multipart upload, leaving no object.
The multipart writer and the SDK call wrapper: s3_parts.py.

boto3 runs in threads. Payload signing is off: the body is already hashed three times and
S3 checks each part's MD5/ETag; signing it would cost another sha256 pass (design §1a).
"""

from __future__ import annotations

import contextlib
import functools
import logging
import secrets
import threading
from collections.abc import AsyncGenerator, AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar

import anyio
import anyio.to_thread
import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from cargobay.storage.blobs.base import (
    BlobLocation,
    BlobMissing,
    Delivery,
    Inventory,
    Redirect,
    StoredBlob,
    Streamed,
    Verify,
)
from cargobay.storage.blobs.hashing import hash_stream
from cargobay.storage.blobs.s3_parts import (
    BlobStoreError,
    MultipartWriter,
)
from cargobay.storage.blobs.s3_parts import in_thread as _thread

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

log = logging.getLogger("cargobay")
T = TypeVar("T")

READ_CHUNK = 1024 * 1024


# A boto3 session only caches the parsed API models (~70 ms per client without it, 6 ms
# with): every store in a process shares one. Creating clients from it is not thread-safe.
_SESSION_LOCK = threading.Lock()


@functools.cache
def _session() -> boto3.session.Session:
    return boto3.session.Session()


class BlobCorrupt(Exception):
    """Bytes copied in do not have the digest their row records."""


class S3BlobStore:
    def __init__(
        self,
        *,
        bucket: str,
        prefix: str = "",
        endpoint: str = "",
        region: str = "us-east-1",
        access_key_id: str = "",
        secret_access_key: str = "",
        path_style: bool = False,
        part_size: int = 8 * 1024 * 1024,
        chunk_size: int = 1024 * 1024,
        redirect_downloads: bool = False,
        url_expiry: int = 300,
        max_connections: int = 32,
    ) -> None:
        if not bucket:
            raise ValueError("the s3 blob store needs a bucket (CARGOBAY_S3_BUCKET)")
        self.bucket = bucket
        self.prefix = prefix
        self.part_size = part_size
        self.chunk_size = chunk_size
        self.redirect_downloads = redirect_downloads
        self.url_expiry = url_expiry
        config = Config(
            region_name=region,
            signature_version="s3v4",
            s3={
                "addressing_style": "path" if path_style else "virtual",
                "payload_signing_enabled": False,
            },
            # No extra CRC pass per request: parts carry Content-MD5-checked ETags.
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
            max_pool_connections=max_connections,
            retries={"max_attempts": 4, "mode": "standard"},
            connect_timeout=10,
            read_timeout=120,
        )
        # Without a key id, boto3's default chain applies (environment, profile, role).
        with _SESSION_LOCK:
            self.client: S3Client = _session().client(
                "s3",
                endpoint_url=endpoint or None,
                config=config,
                aws_access_key_id=access_key_id or None,
                aws_secret_access_key=secret_access_key if access_key_id else None,
            )
        # Parts upload on a pool of their own: the writer waits on them from a worker
        # thread of anyio's pool, and work that waits on its own pool can deadlock it.
        self._parts = ThreadPoolExecutor(
            max_workers=max(2, max_connections // 2), thread_name_prefix="cargobay-s3-part"
        )

    def new_key(self) -> str:
        return f"{self.prefix}objects/{secrets.token_hex(16)}"

    def key_of(self, location: BlobLocation) -> str:
        # A row without a key is a blob copied in from the local store by `cargobay
        # migrate blobs`, which names objects by digest (the digest is known up front).
        return location.key or self.sha256_key(location.sha256)

    def sha256_key(self, sha256: str) -> str:
        return f"{self.prefix}sha256/{sha256[:2]}/{sha256}"

    # ------------------------------------------------------------------ writes

    async def put(
        self, chunks: AsyncIterator[bytes], *, limit: int, verify: Verify | None = None
    ) -> StoredBlob:
        return await self.put_at(self.new_key(), chunks, limit=limit, verify=verify)

    async def put_at(
        self,
        key: str,
        chunks: AsyncIterator[bytes],
        *,
        limit: int = 0,
        verify: Verify | None = None,
        expect_sha256: str | None = None,
    ) -> StoredBlob:
        """Store a body under ``key``. With ``expect_sha256`` (copying a blob in from
        another store), a body with another digest is not completed and raises
        BlobCorrupt; the digest is recorded in the object's metadata."""
        metadata = {"sha256": expect_sha256} if expect_sha256 else {}

        def check(blob: StoredBlob) -> None:
            if expect_sha256 is not None and blob.sha256 != expect_sha256:
                raise BlobCorrupt(f"{key}: sha256 {blob.sha256}, expected {expect_sha256}")
            if verify is not None:
                verify(blob)

        writer = MultipartWriter(self, key, metadata)
        try:
            blob = await hash_stream(
                chunks, writer.write, limit=limit, chunk_size=self.chunk_size, verify=check
            )
            await _thread(writer.finish)
        except BaseException:
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(writer.abort)
            raise
        return StoredBlob(blob.sha256, blob.sha1, blob.md5, blob.size, key)

    async def discard(self, blob: StoredBlob) -> None:
        if blob.key is not None:
            await self.delete(blob.location)

    async def delete(self, location: BlobLocation) -> None:
        key = self.key_of(location)
        await _thread(lambda: self.client.delete_object(Bucket=self.bucket, Key=key))

    async def check(self) -> None:
        await _thread(lambda: self.client.head_bucket(Bucket=self.bucket))

    # ------------------------------------------------------------------ reads

    async def size(self, location: BlobLocation) -> int | None:
        described = await self.describe(self.key_of(location))
        return None if described is None else described[0]

    async def describe(self, key: str) -> tuple[int, str | None] | None:
        """(size, the sha256 recorded in its metadata if any), or None when missing."""
        try:
            head = await _thread(lambda: self.client.head_object(Bucket=self.bucket, Key=key))
        except BlobMissing:
            return None
        return int(head["ContentLength"]), head.get("Metadata", {}).get("sha256")

    async def delivery(
        self, location: BlobLocation, *, size: int, file_name: str, disposition: str
    ) -> Delivery:
        key = self.key_of(location)
        if self.redirect_downloads:
            url = self.client.generate_presigned_url(
                "get_object",
                Params={
                    "Bucket": self.bucket,
                    "Key": key,
                    "ResponseContentDisposition": disposition,
                    "ResponseContentType": "application/octet-stream",
                },
                ExpiresIn=self.url_expiry,
            )
            return Redirect(url)
        return Streamed(lambda start, end: self._read(key, start, end, size))

    def read(self, location: BlobLocation, start: int, end: int) -> AsyncGenerator[bytes, None]:
        return self._read(self.key_of(location), start, end, None)

    async def _read(
        self, key: str, start: int, end: int, size: int | None
    ) -> AsyncGenerator[bytes, None]:
        if start >= end:
            return
        options: dict[str, Any] = {"Bucket": self.bucket, "Key": key}
        if start != 0 or end != size:
            options["Range"] = f"bytes={start}-{end - 1}"
        response = await _thread(lambda: self.client.get_object(**options))
        body = response["Body"]
        remaining = end - start
        try:
            while remaining > 0:
                chunk = await _thread(partial(body.read, min(READ_CHUNK, remaining)))
                if not chunk:
                    raise BlobStoreError(f"object {key} ended {remaining} bytes early")
                remaining -= len(chunk)
                yield chunk
        finally:
            body.close()

    async def inventory(self) -> Inventory:
        def scan() -> Inventory:
            stored: list[str] = []
            for page in self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=self.prefix
            ):
                stored.extend(item["Key"] for item in page.get("Contents", []))
            uploads = self.client.list_multipart_uploads(Bucket=self.bucket, Prefix=self.prefix)
            return Inventory(sorted(stored), sorted(u["Key"] for u in uploads.get("Uploads", [])))

        return await _thread(scan)

    async def close(self) -> None:
        self._parts.shutdown(wait=False, cancel_futures=True)
        self.client.close()

    # ------------------------------------------------------------ garbage collection
    # (CollectableBlobStore) Keys are unique per upload, so no upload can write bytes
    # again under a key the collector judged garbage: a delete needs no re-check.

    async def stored_before(self, cutoff: datetime) -> AsyncIterator[list[BlobLocation]]:
        limit = cutoff.replace(tzinfo=UTC)
        paginator = self.client.get_paginator("list_objects_v2")
        pages = iter(paginator.paginate(Bucket=self.bucket, Prefix=self.prefix))
        while (page := await _thread(partial(next, pages, None))) is not None:
            batch = [
                self.location_of(item["Key"])
                for item in page.get("Contents", [])
                if item["LastModified"] < limit
            ]
            if batch:
                yield batch

    def location_of(self, key: str) -> BlobLocation:
        """Where a row would point to this object: objects copied in by the migration
        are named by digest (rows without a key), uploads by their own key."""
        name = key.removeprefix(self.prefix)
        if name.startswith("sha256/"):
            return BlobLocation(name.rpartition("/")[2])
        return BlobLocation("", key)

    async def delete_unless_rewritten(self, location: BlobLocation, cutoff: datetime) -> int | None:
        size = await self.size(location)  # uploads write keys of their own: never rewritten
        if size is not None:
            await self.delete(location)
        return size

    async def recover_interrupted_deletes(self) -> int:
        return 0  # a delete is one request: nothing is ever left half-done

    async def remove_stale_uploads(self, cutoff: datetime) -> int:
        limit = cutoff.replace(tzinfo=UTC)

        def remove() -> int:
            removed = 0
            paginator = self.client.get_paginator("list_multipart_uploads")
            for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix):
                for upload in page.get("Uploads", []):
                    if upload["Initiated"] < limit:
                        with contextlib.suppress(ClientError):
                            self.client.abort_multipart_upload(
                                Bucket=self.bucket, Key=upload["Key"], UploadId=upload["UploadId"]
                            )
                            removed += 1
            return removed

        return await _thread(remove)

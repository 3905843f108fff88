"""The S3 write path's moving parts: a multipart upload that receives a body in order and
keeps at most ``WINDOW`` parts in flight (``MultipartWriter``), the part sizes, and how
one SDK request runs with its errors turned into ours (``call``, ``in_thread``).
The store itself: s3.py."""

from __future__ import annotations

import contextlib
import logging
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any, TypeVar

import anyio.to_thread
from botocore.exceptions import BotoCoreError, ClientError

from cargobay.storage.blobs.base import BlobMissing

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

    from cargobay.storage.blobs.s3 import S3BlobStore

log = logging.getLogger("cargobay")
T = TypeVar("T")

WINDOW = 2  # parts uploading while the next one fills: memory is ~(WINDOW + 1) parts
MAX_PARTS = 10_000  # S3's limit; parts double in size every 1000 so any object fits
MAX_PART_SIZE = 5 * 1024**3
MISSING_CODES = frozenset({"NoSuchKey", "404", "NotFound"})


class BlobStoreError(Exception):
    """The object store refused or failed a request."""


def part_size_for(part_number: int, base: int) -> int:
    """Parts 1-1000 are ``base`` bytes, 1001-2000 twice that, and so on: 10000 parts of
    an 8 MiB base hold far more than S3's 5 TiB object limit."""
    return min(base << ((part_number - 1) // 1000), MAX_PART_SIZE)


class MultipartWriter:
    """Receives the body in order (``write`` runs in one worker thread at a time), cuts
    it into parts and uploads them. Nothing is created in the bucket until the first part
    is full, so a small body costs one PutObject."""

    def __init__(self, store: S3BlobStore, key: str, metadata: dict[str, str]) -> None:
        self.store = store
        self.key = key
        self.metadata = metadata
        self.upload_id: str | None = None
        self.buffer: list[bytes] = []
        self.buffered = 0
        self.part_number = 0
        self.in_flight: deque[Future[dict[str, Any]]] = deque()
        self.parts: list[dict[str, Any]] = []

    @property
    def client(self) -> S3Client:
        return self.store.client

    def write(self, parts: list[bytes]) -> None:
        self.buffer += parts
        self.buffered += sum(map(len, parts))
        if self.buffered >= part_size_for(self.part_number + 1, self.store.part_size):
            self._ship()

    def _ship(self) -> None:
        if self.upload_id is None:
            created = call(
                lambda: self.client.create_multipart_upload(
                    Bucket=self.store.bucket,
                    Key=self.key,
                    ContentType="application/octet-stream",
                    Metadata=self.metadata,
                )
            )
            self.upload_id = created["UploadId"]
        self.part_number += 1
        if self.part_number > MAX_PARTS:
            raise BlobStoreError("object too large for a multipart upload")
        body = b"".join(self.buffer)
        self.buffer, self.buffered = [], 0
        while len(self.in_flight) >= WINDOW:
            self.parts.append(self.in_flight.popleft().result())
        self.in_flight.append(self.store._parts.submit(self._upload, self.part_number, body))

    def _upload(self, number: int, body: bytes) -> dict[str, Any]:
        assert self.upload_id is not None
        upload_id = self.upload_id
        answer = call(
            lambda: self.client.upload_part(
                Bucket=self.store.bucket,
                Key=self.key,
                UploadId=upload_id,
                PartNumber=number,
                Body=body,
            )
        )
        return {"PartNumber": number, "ETag": answer["ETag"]}

    def finish(self) -> None:
        if self.upload_id is None:
            body = b"".join(self.buffer)
            self.buffer = []
            call(
                lambda: self.client.put_object(
                    Bucket=self.store.bucket,
                    Key=self.key,
                    Body=body,
                    ContentType="application/octet-stream",
                    Metadata=self.metadata,
                )
            )
            return
        if self.buffered:
            self._ship()
        while self.in_flight:
            self.parts.append(self.in_flight.popleft().result())
        upload_id = self.upload_id
        call(
            lambda: self.client.complete_multipart_upload(
                Bucket=self.store.bucket,
                Key=self.key,
                UploadId=upload_id,
                MultipartUpload={"Parts": self.parts},  # type: ignore[typeddict-item]
            )
        )

    def abort(self) -> None:
        """Leave nothing behind: let parts in flight settle (a part that lands after the
        abort would otherwise survive it), then abort the upload."""
        self.buffer = []
        for future in self.in_flight:
            future.cancel()
        for future in self.in_flight:
            with contextlib.suppress(BaseException):
                future.result()
        self.in_flight.clear()
        if self.upload_id is None:
            return
        upload_id = self.upload_id
        try:
            call(
                lambda: self.client.abort_multipart_upload(
                    Bucket=self.store.bucket, Key=self.key, UploadId=upload_id
                )
            )
        except (BlobStoreError, BlobMissing):
            # The bucket's lifecycle rule for incomplete uploads is the backstop.
            log.exception("could not abort multipart upload %s of %s", upload_id, self.key)


def call(request: Callable[[], T]) -> T:
    """Run one S3 request, turning the SDK's errors into ours."""
    try:
        return request()
    except ClientError as exc:
        error = exc.response.get("Error", {})
        code = str(error.get("Code", ""))
        if code in MISSING_CODES or code == "NoSuchUpload":
            raise BlobMissing(f"{code}: {error.get('Message', '')}") from exc
        raise BlobStoreError(f"{code}: {error.get('Message', '')}") from exc
    except BotoCoreError as exc:
        raise BlobStoreError(str(exc)) from exc


async def in_thread(request: Callable[[], T]) -> T:
    return await anyio.to_thread.run_sync(call, request)

"""The assembled core: settings, database and blob store, shared by HTTP and the CLI."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from cargobay.services.admission import ArchiveSlots, UploadSlots
from cargobay.services.download_counts import DownloadCounts
from cargobay.services.metrics import Metrics
from cargobay.settings import Settings
from cargobay.storage.blobs.base import BlobStore
from cargobay.storage.blobs.local import LocalBlobStore
from cargobay.storage.db.database import Database

if TYPE_CHECKING:
    from cargobay.storage.blobs.s3 import S3BlobStore


@dataclass(slots=True)
class Registry:
    settings: Settings
    db: Database
    blobs: BlobStore
    # Packages whose last_downloaded_at this process is writing (services/download.py).
    download_marks: set[int] = field(default_factory=set)
    # Downloads counted since they were last written (services/download_counts.py).
    download_counts: DownloadCounts = field(default_factory=DownloadCounts)
    # Upload bodies being received at once (settings.concurrent_uploads).
    upload_slots: UploadSlots = field(init=False)
    # Package archives being streamed at once (settings.archive_concurrency).
    archive_slots: ArchiveSlots = field(init=False)
    # Prometheus metrics (services/metrics.py): counted by the use cases and the API.
    metrics: Metrics = field(init=False)

    def __post_init__(self) -> None:
        self.metrics = Metrics()
        self.db.timed = self.metrics.tally.database  # cargobay_db_query_duration_seconds
        self.archive_slots = ArchiveSlots(self.settings.archive_concurrency)
        self.upload_slots = UploadSlots(
            self.settings.concurrent_uploads,
            queue_seconds=self.settings.upload_queue_seconds,
            in_use=self.metrics.uploads_in_flight,
            waiting=self.metrics.upload_slots_waiting,
        )

    async def close(self) -> None:
        try:
            await self.blobs.close()
        finally:
            await self.db.dispose()


def open_blob_store(settings: Settings) -> BlobStore:
    """The store CARGOBAY_BLOB_STORE names, configured from the settings."""
    if settings.blob_store == "s3":
        return open_s3_store(settings)
    return open_local_store(settings)


def open_local_store(settings: Settings) -> LocalBlobStore:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return LocalBlobStore(settings.data_dir / "blobs", chunk_size=settings.upload_chunk_size)


def open_s3_store(settings: Settings) -> S3BlobStore:
    """The bucket the s3_* settings name (also while blob_store is still "local":
    `cargobay migrate blobs` copies into it)."""
    from cargobay.storage.blobs.s3 import S3BlobStore  # boto3 loads only when used

    return S3BlobStore(
        bucket=settings.s3_bucket,
        prefix=settings.s3_prefix,
        endpoint=settings.s3_endpoint,
        region=settings.s3_region,
        access_key_id=settings.s3_access_key_id,
        secret_access_key=settings.s3_secret_access_key.get_secret_value(),
        path_style=settings.s3_path_style,
        part_size=settings.s3_part_size,
        chunk_size=settings.upload_chunk_size,
        redirect_downloads=settings.s3_download == "redirect",
        url_expiry=settings.s3_url_expiry,
    )


def open_registry(settings: Settings) -> Registry:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    database = Database(settings.resolved_database_url(), pool_size=settings.database_pool_size)
    return Registry(settings, database, open_blob_store(settings))

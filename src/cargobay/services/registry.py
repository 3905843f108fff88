"""The assembled core: settings, database and blob store, shared by HTTP and the CLI."""

from __future__ import annotations

from dataclasses import dataclass

from cargobay.settings import Settings
from cargobay.storage.blobs.base import BlobStore
from cargobay.storage.blobs.local import LocalBlobStore
from cargobay.storage.db.database import Database


@dataclass(slots=True)
class Registry:
    settings: Settings
    db: Database
    blobs: BlobStore

    async def close(self) -> None:
        await self.db.dispose()


def open_registry(settings: Settings) -> Registry:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    blobs = LocalBlobStore(settings.data_dir / "blobs", chunk_size=settings.upload_chunk_size)
    return Registry(settings, Database(settings.resolved_database_url()), blobs)

"""GitLab's health checks, and the blob store in readiness."""

from __future__ import annotations

import httpx
import pytest

from cargobay.services.registry import Registry
from cargobay.storage.blobs.local import LocalBlobStore
from cargobay.storage.blobs.s3 import S3BlobStore

pytestmark = pytest.mark.anyio


async def test_readiness_checks_the_database_and_the_blob_store(
    client: httpx.AsyncClient,
) -> None:
    ready = await client.get("/-/readiness")
    assert ready.status_code == 200
    assert ready.json() == {
        "status": "ok",
        "master_check": [{"status": "ok"}],
        "db_check": [{"status": "ok"}],
        "blob_store_check": [{"status": "ok"}],
    }
    assert (await client.get("/-/liveness")).json() == {"status": "ok"}
    assert (await client.get("/-/health")).text == "GitLab OK"


async def test_readiness_is_503_when_uploads_could_not_be_stored(
    client: httpx.AsyncClient, registry: Registry
) -> None:
    store = registry.blobs
    if isinstance(store, S3BlobStore):
        store.bucket = "no-such-bucket"
    else:
        assert isinstance(store, LocalBlobStore)
        store.tmp.rmdir()
    ready = await client.get("/-/readiness")
    assert ready.status_code == 503
    body = ready.json()
    assert body["status"] == "failed"
    assert body["db_check"] == [{"status": "ok"}]
    assert body["blob_store_check"][0]["status"] == "failed"
    assert (await client.get("/-/liveness")).status_code == 200  # alive, not ready

"""Garbage collection: rows pending destruction are purged, unreferenced blobs go once
older than the grace period, and nothing referenced is ever lost: not when an upload
stores the same bytes while a collection runs, not when a collector is killed half-way,
not when several collect at once."""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import subprocess
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from hashlib import sha256
from pathlib import Path

import anyio
import httpx
import pytest
from sqlalchemy import func, select

from cargobay.app import create_app
from cargobay.domain.models import utcnow
from cargobay.services import gc
from cargobay.services.registry import Registry, open_registry
from cargobay.settings import Settings
from cargobay.storage.blobs.base import BlobLocation, StoredBlob
from cargobay.storage.blobs.local import LocalBlobStore
from cargobay.storage.db.tables import blobs, package_files, packages
from tests.api.generic_support import put, url
from tests.cli_support import CARGOBAY, cli_env
from tests.world import World

pytestmark = pytest.mark.anyio

GRACE = timedelta(hours=1)
LONG_AGO = time.time() - 2 * 3600  # older than GRACE


@pytest.fixture
async def client(registry: Registry) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(registry.settings, registry))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        yield c


def local_store(registry: Registry) -> LocalBlobStore:
    if not isinstance(registry.blobs, LocalBlobStore):
        pytest.skip("exercises the local blob store's collection protocol")
    return registry.blobs


async def orphan(store: LocalBlobStore, content: bytes, *, old: bool = True) -> StoredBlob:
    """Bytes in the store that no row references (a crashed upload, a purged file)."""

    async def body() -> AsyncIterator[bytes]:
        yield content

    blob = await store.put(body(), limit=0)
    if old:
        os.utime(store.path_for(blob.sha256), (LONG_AGO, LONG_AGO))
    return blob


def age_all(store: LocalBlobStore) -> None:
    """Make every stored blob look written long ago."""
    for path in (store.root / "sha256").rglob("*"):
        if path.is_file():
            os.utime(path, (LONG_AGO, LONG_AGO))


def stored(store: LocalBlobStore) -> list[Path]:
    return [p for p in (store.root / "sha256").rglob("*") if p.is_file()]


def exists(store: LocalBlobStore, digest: str) -> bool:
    return store.path_for(digest).exists()


async def count(registry: Registry, table: object) -> int:
    async with registry.db.read() as conn:
        return int((await conn.execute(select(func.count()).select_from(table))).scalar_one())  # type: ignore[arg-type]


async def delete_all_packages(client: httpx.AsyncClient, world: World, project_id: int) -> None:
    listed = await client.get(
        f"/api/v4/projects/{project_id}/packages?per_page=100", headers=world.headers("maintainer")
    )
    for package in listed.json():
        response = await client.delete(
            f"/api/v4/projects/{project_id}/packages/{package['id']}",
            headers=world.headers("maintainer"),
        )
        assert response.status_code == 204


# ---------------------------------------------------------------- what goes, what stays


async def test_rows_pending_destruction_are_purged(
    client: httpx.AsyncClient, world: World, registry: Registry
) -> None:
    """On every backend: deleted packages and files leave the database."""
    dev = world.headers("developer")
    await put(client, world.private.id, "gone/1.0/a", b"a", dev)
    await put(client, world.private.id, "kept/1.0/b", b"b", dev)
    await put(client, world.private.id, "kept/1.0/c", b"c", dev)
    listed = (await client.get(f"/api/v4/projects/{world.private.id}/packages", headers=dev)).json()
    gone = next(p for p in listed if p["name"] == "gone")
    kept = next(p for p in listed if p["name"] == "kept")
    base = f"/api/v4/projects/{world.private.id}/packages"
    await client.delete(f"{base}/{gone['id']}", headers=world.headers("maintainer"))
    files = (await client.get(f"{base}/{kept['id']}/package_files", headers=dev)).json()
    await client.delete(
        f"{base}/{kept['id']}/package_files/{files[0]['id']}", headers=world.headers("maintainer")
    )
    report = await gc.collect_garbage(registry, grace=GRACE)
    assert (report.files_purged, report.packages_purged) == (2, 1)
    assert await count(registry, packages) == 1
    assert await count(registry, package_files) == 1
    download = await client.get(url(world.private.id, "kept/1.0/c"), headers=dev)
    assert download.content == b"c"
    again = await gc.collect_garbage(registry, grace=GRACE)
    assert (again.files_purged, again.packages_purged) == (0, 0)


async def test_unreferenced_blobs_go_after_the_grace_period(
    client: httpx.AsyncClient, world: World, registry: Registry
) -> None:
    store = local_store(registry)
    dev = world.headers("developer")
    await put(client, world.private.id, "keep/1.0/f", b"referenced", dev)
    await put(client, world.private.id, "drop/1.0/f", b"deleted", dev)
    old_orphan = await orphan(store, b"old orphan")
    young_orphan = await orphan(store, b"young orphan", old=False)
    referenced = sha256(b"referenced").hexdigest()
    deleted = sha256(b"deleted").hexdigest()
    stale_upload = store.tmp / "upload-crashed"
    stale_upload.write_bytes(b"partial")
    os.utime(stale_upload, (LONG_AGO, LONG_AGO))
    fresh_upload = store.tmp / "upload-in-flight"
    fresh_upload.write_bytes(b"partial")
    listed = (await client.get(f"/api/v4/projects/{world.private.id}/packages", headers=dev)).json()
    drop = next(p for p in listed if p["name"] == "drop")
    await client.delete(
        f"/api/v4/projects/{world.private.id}/packages/{drop['id']}",
        headers=world.headers("maintainer"),
    )
    age_all(store)
    os.utime(store.path_for(young_orphan.sha256))  # written just now

    report = await gc.collect_garbage(registry, grace=GRACE)
    assert exists(store, referenced)
    assert exists(store, young_orphan.sha256)
    assert not exists(store, old_orphan.sha256)
    assert not exists(store, deleted)
    assert report.blobs_deleted == 2
    assert report.bytes_freed == len(b"old orphan") + len(b"deleted")
    freed = registry.metrics.registry.get_sample_value("cargobay_gc_freed_bytes_total")
    assert freed == report.bytes_freed
    assert report.blob_rows_deleted == 1
    assert not stale_upload.exists()
    assert fresh_upload.exists()
    assert report.stale_uploads_removed == 1
    async with registry.db.read() as conn:
        rows = {r[0] for r in await conn.execute(select(blobs.c.sha256))}
    assert rows == {referenced}
    download = await client.get(url(world.private.id, "keep/1.0/f"), headers=dev)
    assert download.content == b"referenced"


async def test_a_young_unreferenced_blob_waits_for_a_later_run(
    client: httpx.AsyncClient, world: World, registry: Registry
) -> None:
    store = local_store(registry)
    await put(client, world.private.id, "x/1.0/f", b"soon gone", world.headers("developer"))
    await delete_all_packages(client, world, world.private.id)
    digest = sha256(b"soon gone").hexdigest()
    first = await gc.collect_garbage(registry, grace=GRACE)
    assert first.blob_rows_deleted == 1
    assert exists(store, digest)  # written a moment ago: an upload may still need it
    os.utime(store.path_for(digest), (LONG_AGO, LONG_AGO))
    await gc.collect_garbage(registry, grace=GRACE)
    assert not exists(store, digest)


# ---------------------------------------------------------------- uploads during a run


async def collect(registry: Registry) -> None:
    await gc.collect_garbage(registry, grace=GRACE)


async def test_a_blob_uploaded_again_while_collecting_survives(
    client: httpx.AsyncClient, world: World, registry: Registry
) -> None:
    """Interrupt a collection between its steps: it has judged an old blob garbage, then
    an upload stores the same bytes and commits its row, then the collector deletes."""
    store = local_store(registry)
    content = b"released twice"
    blob = await orphan(store, content)
    cutoff = utcnow() - GRACE
    candidates = [loc async for batch in store.stored_before(cutoff) for loc in batch]
    assert BlobLocation(blob.sha256) in candidates  # step 4 found it, no row names it
    uploaded = await put(
        client, world.private.id, "tool/2.0/t", content, world.headers("developer")
    )
    assert uploaded.status_code == 201
    assert await store.delete_unless_rewritten(BlobLocation(blob.sha256), cutoff) is None
    download = await client.get(
        url(world.private.id, "tool/2.0/t"), headers=world.headers("developer")
    )
    assert download.status_code == 200
    assert download.content == content


async def test_a_blob_moved_aside_comes_back(
    client: httpx.AsyncClient, world: World, registry: Registry
) -> None:
    """The state a collector killed right after moving a blob aside leaves, while an
    upload of the same bytes committed: the next collection puts it back first."""
    store = local_store(registry)
    content = b"moved aside"
    await put(client, world.private.id, "tool/1.0/t", content, world.headers("developer"))
    digest = sha256(content).hexdigest()
    store.trash.mkdir(exist_ok=True)
    os.rename(store.path_for(digest), store.trash / f"{digest}.killed")
    broken = await client.get(
        url(world.private.id, "tool/1.0/t"), headers=world.headers("developer")
    )
    assert broken.status_code == 500  # the window a crash opens...
    report = await gc.collect_garbage(registry, grace=GRACE)
    assert report.restored == 1  # ...and the next collection closes
    assert list(store.trash.iterdir()) == []
    download = await client.get(
        url(world.private.id, "tool/1.0/t"), headers=world.headers("developer")
    )
    assert download.content == content


async def test_uploads_racing_collections_lose_nothing(
    client: httpx.AsyncClient, world: World, registry: Registry
) -> None:
    """Again and again: an unreferenced old blob, a collection and an upload of the same
    bytes at the same time. Whenever the upload succeeded its file must download."""
    store = local_store(registry)
    content = b"contested bytes"
    digest = sha256(content).hexdigest()
    dev = world.headers("developer")
    for attempt in range(25):
        if exists(store, digest):
            os.utime(store.path_for(digest), (LONG_AGO, LONG_AGO))
        else:
            await orphan(store, content)
        results: list[httpx.Response] = []

        async def upload(n: int = attempt, into: list[httpx.Response] = results) -> None:
            await anyio.sleep(secrets.randbelow(3) / 1000)
            into.append(await put(client, world.private.id, f"t/{n}.0/f", content, dev))

        async with anyio.create_task_group() as tasks:
            tasks.start_soon(collect, registry)
            tasks.start_soon(upload)
        assert results[0].status_code == 201
        download = await client.get(url(world.private.id, f"t/{attempt}.0/f"), headers=dev)
        assert download.status_code == 200, f"attempt {attempt}"
        assert download.content == content
        await delete_all_packages(client, world, world.private.id)
        await gc.collect_garbage(registry, grace=GRACE)


# ---------------------------------------------------------------- crashes and crowds


async def seed(
    client: httpx.AsyncClient, world: World, store: LocalBlobStore, orphans: int
) -> dict[str, bytes]:
    """Referenced files (path -> content) and many old orphans, all looking old."""
    files = {}
    for n in range(20):
        content = b"file %d " % n + secrets.token_bytes(16)
        path = f"lib/{n}.0/f.bin"
        assert (
            await put(client, world.private.id, path, content, world.headers("developer"))
        ).status_code == 201
        files[path] = content
    for _ in range(orphans):  # written straight into place: fast, and the same state
        content = secrets.token_bytes(32)
        orphan = store.path_for(sha256(content).hexdigest())
        orphan.parent.mkdir(parents=True, exist_ok=True)
        orphan.write_bytes(content)
    age_all(store)
    return files


async def assert_intact(client: httpx.AsyncClient, world: World, files: dict[str, bytes]) -> None:
    for path, content in files.items():
        response = await client.get(url(world.private.id, path), headers=world.headers("developer"))
        assert response.status_code == 200, path
        assert response.content == content


async def test_a_killed_collector_loses_nothing(
    client: httpx.AsyncClient, world: World, registry: Registry, settings: Settings
) -> None:
    store = local_store(registry)
    files = await seed(client, world, store, orphans=1500)
    remaining: list[int] = []
    for delay in (0.0, 0.01, 0.05, 0.2):
        with subprocess.Popen(
            [CARGOBAY, "gc", "--grace-period", "3600"],
            env=cli_env(settings),
            stdout=subprocess.PIPE,
            text=True,
        ) as proc:
            assert proc.stdout is not None
            for line in proc.stdout:  # kill it in the middle of deleting blobs
                if line.startswith("deleting stored blobs"):
                    break
            time.sleep(delay)
            proc.send_signal(signal.SIGKILL)
            proc.wait()
        remaining.append(len(stored(store)))
        await assert_intact(client, world, files)
    # the kills landed while blobs were being deleted
    assert len(files) < remaining[-1] < 1500 + len(files), remaining
    await gc.collect_garbage(registry, grace=GRACE)
    assert list(store.trash.iterdir()) == []
    await assert_intact(client, world, files)
    assert len(stored(store)) == len(files)


async def test_several_collectors_at_once(
    client: httpx.AsyncClient, world: World, registry: Registry, settings: Settings
) -> None:
    store = local_store(registry)
    files = await seed(client, world, store, orphans=600)
    procs = [
        subprocess.Popen(
            [CARGOBAY, "gc", "--grace-period", "3600"],
            env=cli_env(settings),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for _ in range(3)
    ]
    others = [open_registry(settings) for _ in range(3)]
    try:
        reports = await asyncio.gather(
            *(gc.collect_garbage(r, grace=GRACE) for r in [registry, *others])
        )
    finally:
        for other in others:
            await other.close()
    for proc in procs:
        _out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
    assert sum(r.blobs_deleted for r in reports) <= 600
    await assert_intact(client, world, files)
    assert len(stored(store)) == len(files)
    assert list(store.trash.iterdir()) == []

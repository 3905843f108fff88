"""Download counts (beyond-gitlab §7.1), on every backend: which answers count (a whole
GET, a range from the first byte, an archive once on its package) and which do not
(HEAD, 304, a resumed range, a refusal); the counts of packages and files and
``.../download_stats`` per day after the process writes them (the Packages API's
entities stay GitLab's); a failed write keeps them; GC purges a package's days with it."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import anyio
import httpx
import pytest
from sqlalchemy import select

from cargobay.domain.models import utcnow
from cargobay.services import download_counts, gc
from cargobay.services.registry import Registry
from cargobay.storage.db.tables import package_download_days, package_files, packages
from tests.api.generic_support import put, rows, url
from tests.world import World

pytestmark = pytest.mark.anyio

SMALL = b"small file"
LARGE = bytes(range(256)) * 1024  # 256 KiB: sent from the file, not from memory


async def published(client: httpx.AsyncClient, world: World) -> dict[str, Any]:
    dev = world.headers("developer")
    for name, body in (("small.bin", SMALL), ("large.bin", LARGE)):
        answer = await put(client, world.private.id, f"tool/1.0/{name}", body, dev)
        assert answer.status_code == 201, answer.text
    listed = await client.get(f"/api/v4/projects/{world.private.id}/packages", headers=dev)
    (package,) = listed.json()
    return dict(package)


async def counted(registry: Registry, package_id: int) -> tuple[int, dict[str, int]]:
    """The package's download_count and each of its files' (the web's package page shows
    them; the API's entities are GitLab's and do not)."""
    (package,) = await rows(registry, packages, packages.c.id == package_id)
    files = await rows(registry, package_files, package_files.c.package_id == package_id)
    return package["download_count"], {f["file_name"]: f["download_count"] for f in files}


async def test_whole_downloads_count_and_the_rest_do_not(
    client: httpx.AsyncClient, registry: Registry, world: World
) -> None:
    package = await published(client, world)
    assert "download_count" not in package  # GitLab's entity, unchanged
    dev = world.headers("developer")
    small, large = (
        url(world.private.id, "tool/1.0/small.bin"),
        url(world.private.id, "tool/1.0/large.bin"),
    )

    async def get(target: str, expected: int, **headers: str) -> httpx.Response:
        answer = await client.get(target, headers={**dev, **headers})
        assert answer.status_code == expected, answer.text
        return answer

    # Counted: 3 of small (fast lane, route, F3), 2 of large (whole, range from 0), 1 archive.
    etag = (await get(small, 200)).headers["etag"]
    await get(small, 200, **{"If-None-Match": '"other"'})  # the route, not the fast lane
    files = (
        await client.get(
            f"/api/v4/projects/{world.private.id}/packages/{package['id']}/package_files",
            headers=dev,
        )
    ).json()
    small_id = next(f["id"] for f in files if f["file_name"] == "small.bin")
    await get(
        f"/api/v4/projects/{world.private.id}/packages/{package['id']}/package_files/{small_id}/download",
        200,
    )
    await get(large, 200)
    await get(large, 206, Range="bytes=0-99")
    await get(url(world.private.id, "tool/1.0/~archive.tar"), 200)
    # Not counted: a resumed range, 304, HEAD, a range past the end, a refusal, sha256sums.
    await get(large, 206, Range="bytes=100-")
    await get(small, 304, **{"If-None-Match": etag})
    assert (await client.head(small, headers=dev)).status_code == 200
    await get(large, 416, Range="bytes=999999999-")
    assert (await client.get(small, headers=world.headers("stranger"))).status_code == 404
    await get(url(world.private.id, "tool/1.0/~sha256sums"), 200)

    assert (await counted(registry, package["id"]))[0] == 0  # in memory until written
    await registry.download_counts.flush(registry.db)
    assert await counted(registry, package["id"]) == (6, {"small.bin": 3, "large.bin": 2})
    version = (await client.get(url(world.private.id, "tool/1.0"), headers=dev)).json()
    assert version["download_count"] == 6  # Cargobay's own URL shows them
    assert {f["file_name"]: f["download_count"] for f in version["files"]} == {
        "large.bin": 2,
        "small.bin": 3,
    }
    stats = await client.get(
        f"/api/v4/projects/{world.private.id}/packages/{package['id']}/download_stats", headers=dev
    )
    assert stats.status_code == 200
    days = stats.json()
    assert len(days) == 30  # the last 30 days by default, each of them
    assert days[-1] == {"date": utcnow().date().isoformat(), "count": 6}
    assert sum(day["count"] for day in days) == 6


async def test_processes_add_to_each_other_and_a_failed_write_keeps_its_counts(
    client: httpx.AsyncClient, registry: Registry, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = await published(client, world)
    other = download_counts.DownloadCounts()  # a second server process on the same database
    mine = registry.download_counts
    for _ in range(3):
        other.count(package["id"])
    mine.count(package["id"])

    async def failing(*_args: Any) -> None:
        raise ConnectionError("the database is restarting")

    monkeypatch.setattr(download_counts, "add_downloads", failing)
    with pytest.raises(ConnectionError):
        await mine.flush(registry.db)
    monkeypatch.undo()
    mine.count(package["id"])  # counted while the database was away
    await other.flush(registry.db)
    await mine.flush(registry.db)
    assert not mine.packages and not other.packages
    assert (await counted(registry, package["id"]))[0] == 5


async def test_download_stats_validates_its_days(
    client: httpx.AsyncClient, registry: Registry, world: World
) -> None:
    package = await published(client, world)
    base = f"/api/v4/projects/{world.private.id}/packages/{package['id']}/download_stats"
    dev = world.headers("developer")
    today = utcnow().date()
    span = await client.get(
        base,
        params={"from": (today - timedelta(days=2)).isoformat(), "to": today.isoformat()},
        headers=dev,
    )
    assert [d["count"] for d in span.json()] == [0, 0, 0]
    earliest = await client.get(base, params={"to": "0001-01-05"}, headers=dev)
    assert [d["date"] for d in earliest.json()] == [f"0001-01-0{n}" for n in range(1, 6)]
    for params, error in (
        ({"from": "2026-13-01"}, "from is invalid"),
        ({"from": "0001-01-01T00:00"}, "from is invalid"),
        ({"to": "yesterday"}, "to is invalid"),
        (
            {"from": "2026-12-05", "to": "2026-12-04"},
            "from must be on or before to, at most 366 days apart",
        ),
        (
            {"from": "2020-01-01", "to": "2026-01-01"},
            "from must be on or before to, at most 366 days apart",
        ),
    ):
        refused = await client.get(base, params=params, headers=dev)
        assert (refused.status_code, refused.json()) == (400, {"error": error})
    assert (await client.get(base, headers=world.headers("stranger"))).status_code == 404
    missing = base.replace(f"/{package['id']}/", "/999999/")
    assert (await client.get(missing, headers=dev)).status_code == 404
    anonymous = await client.get(base)
    assert anonymous.status_code == 404  # a private project, as the package itself


async def test_collecting_a_deleted_package_takes_its_days_with_it(
    client: httpx.AsyncClient, registry: Registry, world: World
) -> None:
    package = await published(client, world)
    registry.download_counts.count(package["id"])
    await registry.download_counts.flush(registry.db)
    assert len(await rows(registry, package_download_days)) == 1
    deleted = await client.delete(
        f"/api/v4/projects/{world.private.id}/packages/{package['id']}",
        headers=world.headers("maintainer"),
    )
    assert deleted.status_code == 204
    await gc.collect_garbage(registry, grace=timedelta(0))
    assert await rows(registry, package_download_days) == []
    # Downloads counted just before the package went are dropped, not an error.
    registry.download_counts.count(package["id"])
    await registry.download_counts.flush(registry.db)
    assert await rows(registry, package_download_days) == []


async def test_a_server_writes_its_counts_on_its_interval_and_when_it_stops(
    client: httpx.AsyncClient, registry: Registry, world: World
) -> None:
    package = await published(client, world)
    counts = registry.download_counts
    async with download_counts.flushing(counts, registry.db, every=0.05):
        counts.count(package["id"])
        await anyio.sleep(0.5)  # ten intervals
        assert (await counted(registry, package["id"]))[0] == 1
        counts.count(package["id"])  # too late for the interval: written on the way out
    assert (await counted(registry, package["id"]))[0] == 2


async def test_processes_writing_at_once_do_not_deadlock(
    client: httpx.AsyncClient, registry: Registry, world: World
) -> None:
    """Two processes' writes that touch the same packages, counted in opposite orders, at
    the same moment: on PostgreSQL, rows locked in counting order would deadlock."""
    dev = world.headers("developer")
    for n in range(300):
        answer = await put(client, world.private.id, f"pkg{n}/1.0/f.bin", b"x", dev)
        assert answer.status_code == 201
    async with registry.db.read() as conn:
        ids = [r[0] for r in await conn.execute(select(packages.c.id).order_by(packages.c.id))]
    first, second = download_counts.DownloadCounts(), download_counts.DownloadCounts()
    for package_id in ids:
        first.count(package_id)
    for package_id in reversed(ids):
        second.count(package_id)
    for _ in range(5):  # a deadlock needs the two to interleave: give them chances
        for package_id in ids:
            first.count(package_id)
            second.count(package_id)
        await asyncio.gather(first.flush(registry.db), second.flush(registry.db))
    async with registry.db.read() as conn:
        counts = [r[0] for r in await conn.execute(select(packages.c.download_count))]
    assert counts == [12] * len(ids)

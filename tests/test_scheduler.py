"""The scheduler inside the server's lifespan: a cleanup policy runs by itself after its
interval and removes exactly what its preview listed; several processes sharing one
database run each due policy once; the garbage collector runs on its own schedule."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import anyio
import httpx
import pytest
from sqlalchemy import func, select, update

from cargobay.app import create_app
from cargobay.domain.models import FileStatus, PackageStatus, utcnow
from cargobay.services import jobs
from cargobay.services.registry import Registry, open_registry
from cargobay.settings import Settings
from cargobay.storage.db.tables import (
    audit_events,
    package_files,
    packages,
    packages_cleanup_policies,
    scheduled_tasks,
)
from tests.api.generic_support import put
from tests.world import World

pytestmark = pytest.mark.anyio

FAST = {"scheduler_poll_seconds": 0.05, "gc_interval_seconds": 3600.0}


def fast(settings: Settings, **overrides: Any) -> Settings:
    return settings.model_copy(update={**FAST, **overrides})


@asynccontextmanager
async def running_server(settings: Settings) -> AsyncIterator[tuple[Registry, httpx.AsyncClient]]:
    """An app with its lifespan running (so its scheduler runs), as a server process."""
    registry = open_registry(settings)
    app = create_app(settings, registry)
    try:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                yield registry, client
    finally:
        await registry.close()


async def wait_for(condition: Any, timeout: float = 15.0) -> None:
    with anyio.fail_after(timeout):
        while not await condition():
            await anyio.sleep(0.05)


async def pending(registry: Registry) -> tuple[set[int], set[int]]:
    """(package ids, package file ids) marked pending destruction."""
    async with registry.db.read() as conn:
        gone_packages = await conn.execute(
            select(packages.c.id).where(packages.c.status == PackageStatus.pending_destruction)
        )
        gone_files = await conn.execute(
            select(package_files.c.id).where(
                package_files.c.status == FileStatus.pending_destruction
            )
        )
        return {r[0] for r in gone_packages}, {r[0] for r in gone_files}


async def test_a_scheduled_run_removes_exactly_what_the_preview_listed(
    settings: Settings,
) -> None:
    settings = fast(settings, cleanup_interval_seconds=2.0)
    async with running_server(settings) as (registry, client):
        world = await World.create(registry)
        project = world.private
        dev = world.headers("developer")
        for n in range(4):  # 4 copies of one file: keep 1 -> 3 go
            assert (
                await put(client, project.id, "app/1.0/app.bin", b"%d" % n, dev)
            ).status_code == 201
        await put(client, project.id, "app/1.0/notes.txt", b"n", dev)
        for version in ("0.1", "0.2"):  # old versions: go with the retention rule
            await put(client, project.id, f"app/{version}/app.bin", version.encode(), dev)
        async with registry.db.write() as conn:
            await conn.execute(
                update(packages)
                .where(packages.c.version.in_(["0.1", "0.2"]))
                .values(created_at=utcnow() - timedelta(days=40))
            )
        policy_url = f"/api/v4/projects/{project.id}/packages/cleanup_policy"
        maintainer = world.headers("maintainer")
        saved = await client.put(
            policy_url,
            json={"keep_n_duplicated_package_files": "1", "remove_older_than_days": 30},
            headers=maintainer,
        )
        assert saved.status_code == 200
        preview = (await client.get(f"{policy_url}/preview", headers=maintainer)).json()
        assert len(preview["package_files"]) == 3
        assert sorted(p["version"] for p in preview["packages"]) == ["0.1", "0.2"]
        assert await pending(registry) == (set(), set())  # a preview changes nothing

        async def ran() -> bool:
            policy = (await client.get(policy_url, headers=maintainer)).json()
            return policy["last_run_at"] is not None

        await wait_for(ran)
        previewed_packages = {p["id"] for p in preview["packages"]}
        previewed_files = {f["id"] for f in preview["package_files"]}
        gone_packages, gone_files = await pending(registry)
        assert gone_packages == previewed_packages
        # the duplicate files, plus every file of the removed packages
        async with registry.db.read() as conn:
            of_removed = {
                r[0]
                for r in await conn.execute(
                    select(package_files.c.id).where(
                        package_files.c.package_id.in_(previewed_packages)
                    )
                )
            }
        assert gone_files == previewed_files | of_removed
        events = (
            await client.get(f"/api/v4/projects/{project.id}/audit_events", headers=maintainer)
        ).json()
        run = events[0]
        assert run["event_name"] == "packages_cleanup_policy_run"
        assert run["details"]["author_name"] == "Cargobay scheduler"
        assert run["details"]["token_kind"] == "system"
        assert set(run["details"]["package_ids"]) == previewed_packages
        assert set(run["details"]["package_file_ids"]) == previewed_files
        # what is left is what users see
        download = await client.get(
            f"/api/v4/projects/{project.id}/packages/generic/app/1.0/app.bin", headers=dev
        )
        assert download.content == b"3"
        # the next run is one interval later, with nothing more to remove
        after = (await client.get(policy_url, headers=maintainer)).json()
        assert after["next_run_at"] > after["last_run_at"]
        assert (await client.get(f"{policy_url}/preview", headers=maintainer)).json() == {
            "packages": [],
            "package_files": [],
        }


async def test_several_processes_run_each_due_policy_once(settings: Settings) -> None:
    """Four schedulers on one database (four server processes: separate connection
    pools, on PostgreSQL really concurrent) tick together; each due policy runs once."""
    setup = open_registry(fast(settings, cleanup_interval_seconds=0.2))
    try:
        world = await World.create(setup)
        app = create_app(setup.settings, setup)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            projects = [await world.project(f"p{n}") for n in range(6)]
            for project in projects:
                for n in range(3):
                    await put(client, project.id, "x/1.0/f", b"%d" % n, world.headers("developer"))
                response = await client.put(
                    f"/api/v4/projects/{project.id}/packages/cleanup_policy",
                    json={"keep_n_duplicated_package_files": "1"},
                    headers=world.headers("maintainer"),
                )
                assert response.status_code == 200
    finally:
        await setup.close()
    await anyio.sleep(0.3)  # every policy is due now

    processes = [open_registry(fast(settings, cleanup_interval_seconds=3600.0)) for _ in range(4)]
    try:

        async def ticking(registry: Registry) -> None:
            for _ in range(10):
                await jobs.tick(registry)

        async with anyio.create_task_group() as tasks:
            for registry in processes:
                tasks.start_soon(ticking, registry)
        async with processes[0].db.read() as conn:
            runs = await conn.execute(
                select(audit_events.c.entity_id, func.count())
                .where(audit_events.c.event_name == "packages_cleanup_policy_run")
                .group_by(audit_events.c.entity_id)
            )
            assert dict(runs.all()) == {p.id: 1 for p in projects}
            next_runs = await conn.execute(select(packages_cleanup_policies.c.next_run_at))
            assert all(r[0] > utcnow() + timedelta(minutes=59) for r in next_runs)
        _, gone_files = await pending(processes[0])
        assert len(gone_files) == 2 * len(projects)
    finally:
        for registry in processes:
            await registry.close()


async def test_garbage_collection_runs_on_its_schedule(settings: Settings) -> None:
    settings = fast(settings, gc_interval_seconds=0.5)
    async with running_server(settings) as (registry, client):
        world = await World.create(registry)
        await put(client, world.private.id, "x/1.0/f", b"x", world.headers("developer"))
        listed = await client.get(
            f"/api/v4/projects/{world.private.id}/packages", headers=world.headers("maintainer")
        )
        [package] = listed.json()
        deleted = await client.delete(
            f"/api/v4/projects/{world.private.id}/packages/{package['id']}",
            headers=world.headers("maintainer"),
        )
        assert deleted.status_code == 204
        assert (await pending(registry))[0] == {package["id"]}

        deleted_at = utcnow()

        async def collected() -> bool:
            """A collection that started after the delete has finished."""
            async with registry.db.read() as conn:
                task = (await conn.execute(select(scheduled_tasks))).first()
            return (
                task is not None
                and (task.last_started_at or deleted_at) > deleted_at
                and task.last_finished_at is not None
                and task.last_finished_at >= task.last_started_at
            )

        await wait_for(collected)
        async with registry.db.read() as conn:
            left = await conn.execute(select(func.count()).select_from(packages))
            assert left.scalar_one() == 0
            task = (await conn.execute(select(scheduled_tasks))).one()
        assert task.name == "gc"
        assert task.last_result.startswith("restored: 0, files purged:")


async def test_no_scheduler_when_disabled(settings: Settings) -> None:
    settings = fast(settings, gc_interval_seconds=0.1, scheduler_enabled=False)
    async with running_server(settings) as (registry, _client):
        await anyio.sleep(0.5)
        async with registry.db.read() as conn:
            assert (await conn.execute(select(scheduled_tasks))).first() is None

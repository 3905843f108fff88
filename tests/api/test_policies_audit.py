"""The audit log: publishes and deletes (§15 checks 26 and 27 along the way) are recorded
with who, which token kind and which address; GitLab's audit events API shows them to
admins, group owners and project maintainers; ``cargobay audit`` prints them."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import anyio
import httpx
import pytest

from cargobay.app import create_app
from cargobay.domain.models import utcnow
from cargobay.services.registry import open_registry
from cargobay.settings import Settings
from tests.api.generic_support import FILE_NOT_FOUND, FORBIDDEN, put, url
from tests.cli_support import CARGOBAY, cli_env
from tests.world import World

pytestmark = pytest.mark.anyio


async def events(client: httpx.AsyncClient, path: str, role: str, world: World) -> list[Any]:
    response = await client.get(path, headers=world.headers(role))
    assert response.status_code == 200, response.text
    body: list[Any] = response.json()
    return body


async def the_package(client: httpx.AsyncClient, world: World, project_id: int) -> dict[str, Any]:
    listed = await client.get(
        f"/api/v4/projects/{project_id}/packages", headers=world.headers("maintainer")
    )
    [package] = listed.json()
    return dict(package)


async def test_publishes_are_recorded_with_token_kind_and_address(
    client: httpx.AsyncClient, world: World
) -> None:
    project = world.private
    assert (
        await put(client, project.id, "tool/1.0/a.bin", b"abc", world.headers("developer"))
    ).status_code == 201
    deploy = await world.deploy_token(project, ["write_package_registry"])
    assert (
        await put(client, project.id, "tool/1.0/b.bin", b"d", {"Deploy-Token": deploy})
    ).status_code == 201
    job = await world.job(project)
    assert (
        await put(client, project.id, "tool/1.0/c.bin", b"j", {"JOB-TOKEN": job.token})
    ).status_code == 201

    found = await events(client, f"/api/v4/projects/{project.id}/audit_events", "maintainer", world)
    assert [e["event_name"] for e in found] == ["package_published"] * 3
    newest_first = [e["details"]["token_kind"] for e in found]
    assert newest_first == ["job_token", "deploy_token", "personal_access_token"]
    oldest = found[-1]
    assert oldest["entity_type"] == "Project"
    assert oldest["entity_id"] == project.id
    assert oldest["author_id"] > 0
    assert oldest["details"]["author_name"] == "developer"
    assert oldest["details"]["ip_address"] == "127.0.0.1"
    assert oldest["details"]["entity_path"] == project.full_path
    assert oldest["details"]["target_type"] == "Packages::PackageFile"
    assert oldest["details"]["target_details"] == "tool/1.0/a.bin"
    assert oldest["details"]["size"] == 3
    assert oldest["created_at"].endswith("Z")
    assert found[1]["author_id"] == -2
    assert found[1]["details"]["author_class"] == "DeployToken"
    assert found[0]["details"]["author_name"] == "developer"  # the job's user


async def test_check_26_delete_package(client: httpx.AsyncClient, world: World) -> None:
    project = world.public
    assert (
        await put(client, project.id, "tool/1.0/a.bin", b"abc", world.headers("developer"))
    ).status_code == 201
    package = await the_package(client, world, project.id)
    path = f"/api/v4/projects/{project.id}/packages/{package['id']}"
    developer = await client.delete(path, headers=world.headers("developer"))
    assert developer.status_code == 403
    assert developer.json() == FORBIDDEN
    anonymous = await client.delete(path)
    assert anonymous.status_code == 403  # public project: 403, not 401
    maintainer = await client.delete(path, headers=world.headers("maintainer"))
    assert maintainer.status_code == 204
    assert maintainer.content == b""
    listed = await client.get(
        f"/api/v4/projects/{project.id}/packages", headers=world.headers("maintainer")
    )
    assert listed.json() == []
    download = await client.get(url(project.id, "tool/1.0/a.bin"))
    assert download.status_code == 404
    assert download.json() == FILE_NOT_FOUND

    [deleted, _published] = await events(
        client, f"/api/v4/projects/{project.id}/audit_events", "maintainer", world
    )
    assert deleted["event_name"] == "package_deleted"
    assert deleted["details"]["author_name"] == "maintainer"
    assert deleted["details"]["target_id"] == str(package["id"])
    assert deleted["details"]["target_details"] == "tool/1.0"


async def test_check_27_delete_package_file(client: httpx.AsyncClient, world: World) -> None:
    project = world.private
    await put(client, project.id, "tool/1.0/a.bin", b"abc", world.headers("developer"))
    await put(client, project.id, "tool/1.0/b.bin", b"def", world.headers("developer"))
    package = await the_package(client, world, project.id)
    files_path = f"/api/v4/projects/{project.id}/packages/{package['id']}/package_files"
    files = (await client.get(files_path, headers=world.headers("maintainer"))).json()
    first = files[0]
    # If-Unmodified-Since earlier than the file's last change: 412
    earlier = format_datetime(datetime.now(UTC) - timedelta(days=1), usegmt=True)
    stale = await client.delete(
        f"{files_path}/{first['id']}",
        headers={**world.headers("maintainer"), "If-Unmodified-Since": earlier},
    )
    assert stale.status_code == 412
    assert stale.json() == {"message": "412 Precondition Failed"}
    deleted = await client.delete(
        f"{files_path}/{first['id']}", headers=world.headers("maintainer")
    )
    assert deleted.status_code == 204
    again = await client.delete(f"{files_path}/{first['id']}", headers=world.headers("maintainer"))
    assert again.status_code == 404
    remaining = (await client.get(files_path, headers=world.headers("maintainer"))).json()
    assert [f["file_name"] for f in remaining] == ["b.bin"]
    gone = await client.get(url(project.id, "tool/1.0/a.bin"), headers=world.headers("developer"))
    assert gone.status_code == 404

    [event, *_] = await events(
        client, f"/api/v4/projects/{project.id}/audit_events", "maintainer", world
    )
    assert event["event_name"] == "package_file_deleted"
    assert event["details"]["target_details"] == "tool/1.0/a.bin"


async def test_who_reads_which_log(client: httpx.AsyncClient, world: World) -> None:
    await put(client, world.private.id, "tool/1.0/a.bin", b"abc", world.headers("developer"))
    assert (await client.get("/api/v4/audit_events")).status_code == 401
    for role in ("owner", "maintainer"):
        assert (
            await client.get("/api/v4/audit_events", headers=world.headers(role))
        ).status_code == 403
    assert len(await events(client, "/api/v4/audit_events", "admin", world)) == 1

    # group owners see their groups' and projects' events; maintainers do not
    assert len(await events(client, "/api/v4/groups/acme/audit_events", "owner", world)) == 1
    assert len(await events(client, "/api/v4/groups/acme%2Fteam/audit_events", "owner", world)) == 1
    refused = await client.get(
        "/api/v4/groups/acme/audit_events", headers=world.headers("maintainer")
    )
    assert refused.status_code == 403

    # project maintainers see their project's; developers do not, strangers get 404
    project = f"/api/v4/projects/{world.private.id}/audit_events"
    [event] = await events(client, project, "maintainer", world)
    assert (await client.get(project, headers=world.headers("developer"))).status_code == 403
    stranger = await client.get(project, headers=world.headers("stranger"))
    assert stranger.status_code == 404
    assert stranger.json() == {"message": "404 Project Not Found"}
    # one event by id, in each scope
    one = await client.get(f"{project}/{event['id']}", headers=world.headers("maintainer"))
    assert one.json() == event
    assert (
        await client.get(f"/api/v4/audit_events/{event['id']}", headers=world.headers("admin"))
    ).json() == event
    other = await client.get(
        f"/api/v4/projects/{world.public.id}/audit_events/{event['id']}",
        headers=world.headers("maintainer"),
    )
    assert other.status_code == 404


async def test_filters_and_pages(client: httpx.AsyncClient, world: World) -> None:
    for n in range(3):
        await put(client, world.private.id, f"tool/1.0/{n}.bin", b"x", world.headers("developer"))
    await put(client, world.public.id, "tool/1.0/p.bin", b"x", world.headers("developer"))
    admin = world.headers("admin")
    paged = await client.get("/api/v4/audit_events?per_page=2", headers=admin)
    assert paged.headers["X-Total"] == "4"
    assert paged.headers["X-Next-Page"] == "2"
    assert len(paged.json()) == 2
    only_public = await client.get(
        f"/api/v4/audit_events?entity_type=Project&entity_id={world.public.id}", headers=admin
    )
    assert [e["details"]["target_details"] for e in only_public.json()] == ["tool/1.0/p.bin"]
    future = (utcnow() + timedelta(hours=1)).isoformat() + "Z"
    later = await client.get(f"/api/v4/audit_events?created_after={future}", headers=admin)
    assert later.json() == []
    bad = await client.get("/api/v4/audit_events?entity_type=Pipeline", headers=admin)
    assert bad.status_code == 400
    assert bad.json() == {"error": "entity_type does not have a valid value"}


def test_cargobay_audit_prints_the_log(settings: Settings, backend: str) -> None:
    if backend != "sqlite-local":
        pytest.skip("the CLI check runs on the embedded configuration")

    async def setup() -> None:
        registry = open_registry(settings)
        try:
            world = await World.create(registry)
            transport = httpx.ASGITransport(app=create_app(settings, registry))
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                response = await put(
                    client, world.private.id, "tool/1.0/a.bin", b"x", world.headers("developer")
                )
                assert response.status_code == 201
        finally:
            await registry.close()

    anyio.run(setup)
    result = subprocess.run(
        [CARGOBAY, "audit", "--path", "acme"],
        env=cli_env(settings),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    [line] = result.stdout.splitlines()
    assert (
        "developer (personal_access_token from 127.0.0.1) package_published "
        "acme/team/private-proj" in line
    )
    assert "Published a.bin to tool 1.0" in line

"""/projects: creating projects, who sees which, their settings and members."""

from __future__ import annotations

import httpx
import pytest

from tests.world import World

pytestmark = pytest.mark.anyio


async def group_id(client: httpx.AsyncClient, world: World, path: str) -> int:
    group = await client.get(
        f"/api/v4/groups/{path.replace('/', '%2F')}", headers=world.headers("admin")
    )
    return int(group.json()["id"])


async def test_a_developer_creates_a_project_in_a_group_and_maintains_it(
    client: httpx.AsyncClient, world: World
) -> None:
    team = await group_id(client, world, "acme/team")
    created = await client.post(
        "/api/v4/projects",
        json={"name": "Release Tools", "namespace_id": team, "description": "CLI"},
        headers=world.headers("developer"),
    )
    assert created.status_code == 201, created.text
    project = created.json()
    assert project["path"] == "release-tools"
    assert project["path_with_namespace"] == "acme/team/release-tools"
    assert project["name_with_namespace"] == "acme / team / Release Tools"
    assert project["visibility"] == "private" and project["description"] == "CLI"
    assert project["packages_enabled"] is True
    assert project["package_registry_access_level"] == "enabled"
    assert project["namespace"]["full_path"] == "acme/team"
    assert project["web_url"] == "http://cargobay.test/acme/team/release-tools"
    assert project["_links"]["self"] == f"http://cargobay.test/api/v4/projects/{project['id']}"
    assert "owner" not in project  # only projects in personal namespaces have one

    # The Developer who created it became its Maintainer: they may change its settings.
    changed = await client.put(
        f"/api/v4/projects/{project['id']}",
        json={"package_registry_access_level": "private"},
        headers=world.headers("developer"),
    )
    assert changed.status_code == 200
    assert changed.json()["package_registry_access_level"] == "private"


async def test_a_project_defaults_to_the_personal_namespace(
    client: httpx.AsyncClient, world: World
) -> None:
    created = await client.post(
        "/api/v4/projects", data={"path": "dotfiles"}, headers=world.headers("stranger")
    )
    assert created.status_code == 201, created.text
    project = created.json()
    assert project["path_with_namespace"] == "stranger/dotfiles" and project["name"] == "dotfiles"
    assert project["owner"]["username"] == "stranger"
    assert project["namespace"]["kind"] == "user"
    got = await client.get(
        "/api/v4/projects/stranger%2Fdotfiles", headers=world.headers("stranger")
    )
    assert got.json()["id"] == project["id"]
    hidden = await client.get(
        "/api/v4/projects/stranger%2Fdotfiles", headers=world.headers("owner")
    )
    assert hidden.status_code == 404
    assert hidden.json() == {"message": "404 Project Not Found"}


async def test_project_creation_errors(client: httpx.AsyncClient, world: World) -> None:
    team = await group_id(client, world, "acme/team")
    missing = await client.post("/api/v4/projects", json={}, headers=world.headers("developer"))
    assert missing.status_code == 400
    assert missing.json() == {
        "error": "name, path are missing, at least one parameter must be provided"
    }
    guest = await client.post(
        "/api/v4/projects",
        json={"name": "x", "namespace_id": team},
        headers=world.headers("guest"),
    )
    assert guest.status_code == 400
    assert guest.json() == {"message": {"namespace": ["is not valid"]}}
    taken = await client.post(
        "/api/v4/projects",
        json={"name": "public-proj", "namespace_id": team},
        headers=world.headers("developer"),
    )
    assert taken.status_code == 400
    assert taken.json() == {
        "message": {"name": ["has already been taken"], "path": ["has already been taken"]}
    }
    bad_level = await client.post(
        "/api/v4/projects",
        json={"name": "y", "package_registry_access_level": "everyone"},
        headers=world.headers("developer"),
    )
    assert bad_level.json() == {
        "error": "package_registry_access_level does not have a valid value"
    }
    assert (await client.post("/api/v4/projects", json={"name": "z"})).status_code == 401


async def test_a_project_cannot_be_more_visible_than_its_group(
    client: httpx.AsyncClient, world: World
) -> None:
    closed = await client.post(
        "/api/v4/groups", json={"name": "Closed", "path": "closed"}, headers=world.headers("owner")
    )
    refused = await client.post(
        "/api/v4/projects",
        json={"name": "leak", "namespace_id": closed.json()["id"], "visibility": "public"},
        headers=world.headers("owner"),
    )
    assert refused.status_code == 400
    assert refused.json() == {
        "message": {"visibility_level": ["public is not allowed in a private group."]}
    }


async def test_who_sees_which_projects(client: httpx.AsyncClient, world: World) -> None:
    await client.post(
        "/api/v4/projects",
        json={"path": "mine", "visibility": "internal"},
        headers=world.headers("stranger"),
    )
    anonymous = await client.get("/api/v4/projects")
    assert [p["path_with_namespace"] for p in anonymous.json()] == ["acme/team/public-proj"]
    stranger = await client.get("/api/v4/projects", headers=world.headers("stranger"))
    assert sorted(p["path"] for p in stranger.json()) == ["mine", "public-proj"]
    guest = await client.get("/api/v4/projects", headers=world.headers("guest"))
    assert sorted(p["path"] for p in guest.json()) == ["mine", "private-proj", "public-proj"]
    membership = await client.get(
        "/api/v4/projects", params={"membership": "true"}, headers=world.headers("guest")
    )
    assert sorted(p["path"] for p in membership.json()) == ["private-proj", "public-proj"]
    owned = await client.get(
        "/api/v4/projects", params={"owned": "true"}, headers=world.headers("stranger")
    )
    assert [p["path"] for p in owned.json()] == ["mine"]
    search = await client.get(
        "/api/v4/projects", params={"search": "PRIVATE"}, headers=world.headers("admin")
    )
    assert [p["path"] for p in search.json()] == ["private-proj"]
    # Newest first by default.
    everything = await client.get("/api/v4/projects", headers=world.headers("admin"))
    assert [p["path"] for p in everything.json()] == ["mine", "private-proj", "public-proj"]
    assert everything.headers["x-total"] == "3"


async def test_disabling_the_package_registry_stops_downloads(
    client: httpx.AsyncClient, world: World
) -> None:
    url = f"/api/v4/projects/{world.public.id}/packages/generic/tool/1.0/tool.bin"
    assert (
        await client.put(url, content=b"x", headers=world.headers("developer"))
    ).status_code == 201
    refused = await client.put(
        f"/api/v4/projects/{world.public.id}",
        json={"packages_enabled": False},
        headers=world.headers("developer"),
    )
    assert refused.status_code == 403
    disabled = await client.put(
        f"/api/v4/projects/{world.public.id}",
        json={"packages_enabled": False},
        headers=world.headers("maintainer"),
    )
    assert disabled.json()["packages_enabled"] is False
    assert disabled.json()["package_registry_access_level"] == "disabled"
    assert (await client.get(url, headers=world.headers("developer"))).status_code == 403
    enabled = await client.put(
        f"/api/v4/projects/{world.public.id}",
        data={"packages_enabled": "true"},
        headers=world.headers("maintainer"),
    )
    assert enabled.json()["package_registry_access_level"] == "enabled"
    assert (await client.get(url)).content == b"x"


async def test_making_a_project_private_hides_it(client: httpx.AsyncClient, world: World) -> None:
    response = await client.put(
        "/api/v4/projects/acme%2Fteam%2Fpublic-proj",
        json={"visibility": "private"},
        headers=world.headers("maintainer"),
    )
    assert response.json()["visibility"] == "private"
    assert (await client.get(f"/api/v4/projects/{world.public.id}")).status_code == 404


async def test_project_members(client: httpx.AsyncClient, world: World) -> None:
    stranger = (await client.get("/api/v4/user", headers=world.headers("stranger"))).json()
    url = f"/api/v4/projects/{world.private.id}/members"
    by_developer = await client.post(
        url,
        json={"user_id": stranger["id"], "access_level": 20},
        headers=world.headers("developer"),
    )
    assert by_developer.status_code == 403
    too_high = await client.post(
        url,
        json={"user_id": stranger["id"], "access_level": 50},
        headers=world.headers("maintainer"),
    )
    assert too_high.status_code == 403  # a Maintainer cannot make Owners
    added = await client.post(
        url, json={"username": "stranger", "access_level": 20}, headers=world.headers("maintainer")
    )
    assert added.status_code == 201, added.text
    listed = await client.get(url, headers=world.headers("stranger"))
    assert [(m["username"], m["access_level"]) for m in listed.json()] == [("stranger", 20)]
    everyone = await client.get(f"{url}/all", headers=world.headers("stranger"))
    assert len(everyone.json()) == 6
    inherited = await client.get(f"{url}/all/{stranger['id']}", headers=world.headers("stranger"))
    assert inherited.json()["access_level"] == 20
    removed = await client.delete(f"{url}/{stranger['id']}", headers=world.headers("maintainer"))
    assert removed.status_code == 204
    assert (await client.get(url, headers=world.headers("stranger"))).status_code == 404


async def test_project_listing_pages(client: httpx.AsyncClient, world: World) -> None:
    for n in range(3):
        await client.post(
            "/api/v4/projects", json={"path": f"p{n}"}, headers=world.headers("stranger")
        )
    first = await client.get(
        "/api/v4/projects",
        params={"owned": "true", "per_page": 2, "order_by": "name", "sort": "asc"},
        headers=world.headers("stranger"),
    )
    assert [p["path"] for p in first.json()] == ["p0", "p1"]
    assert first.headers["x-total"] == "3" and first.headers["x-total-pages"] == "2"
    assert first.headers["x-next-page"] == "2"
    bad = await client.get("/api/v4/projects", params={"per_page": 0})
    assert bad.status_code == 400

"""Project and group deploy tokens, and project access tokens: created through the API,
they work on the generic package routes at once and stop when deleted or revoked."""

from __future__ import annotations

import httpx
import pytest

from tests.world import World

pytestmark = pytest.mark.anyio


def generic(project_id: int, file: str = "tool.bin") -> str:
    return f"/api/v4/projects/{project_id}/packages/generic/tool/1.0/{file}"


async def test_project_deploy_token_lifecycle(client: httpx.AsyncClient, world: World) -> None:
    url = f"/api/v4/projects/{world.private.id}/deploy_tokens"
    created = await client.post(
        url,
        json={
            "name": "uploader",
            "scopes": ["write_package_registry"],
            "username": "",
            "expires_at": "",
        },
        headers=world.headers("maintainer"),
    )
    assert created.status_code == 201, created.text
    token = created.json()
    assert token["username"] == f"gitlab+deploy-token-{token['id']}"
    assert token["scopes"] == ["write_package_registry"]
    assert token["expires_at"] is None and token["revoked"] is False
    deploy = {"Deploy-Token": token["token"]}
    assert (
        await client.put(generic(world.private.id), content=b"1", headers=deploy)
    ).status_code == 201

    listed = await client.get(url, headers=world.headers("maintainer"))
    assert [t["name"] for t in listed.json()] == ["uploader"]
    assert "token" not in listed.json()[0]  # shown once, at creation
    one = await client.get(f"{url}/{token['id']}", headers=world.headers("maintainer"))
    assert one.json()["username"] == token["username"]

    deleted = await client.delete(f"{url}/{token['id']}", headers=world.headers("maintainer"))
    assert deleted.status_code == 204
    refused = await client.put(generic(world.private.id), content=b"2", headers=deploy)
    assert refused.status_code == 401
    assert (await client.get(url, headers=world.headers("maintainer"))).json() == []
    again = await client.delete(f"{url}/{token['id']}", headers=world.headers("maintainer"))
    assert again.status_code == 404 and again.json() == {"message": "404 Not found"}


async def test_deploy_tokens_need_maintainer_on_projects_and_owner_on_groups(
    client: httpx.AsyncClient, world: World
) -> None:
    body = {"name": "d", "scopes": ["read_package_registry"]}
    project = f"/api/v4/projects/{world.private.id}/deploy_tokens"
    developer = await client.post(project, json=body, headers=world.headers("developer"))
    assert developer.status_code == 403
    assert developer.json() == {"message": "403 Forbidden"}
    stranger = await client.get(project, headers=world.headers("stranger"))
    assert stranger.status_code == 404
    assert stranger.json() == {"message": "404 Project Not Found"}

    group = "/api/v4/groups/acme/deploy_tokens"
    maintainer = await client.post(group, json=body, headers=world.headers("maintainer"))
    assert maintainer.status_code == 403
    owner = await client.post(group, json=body, headers=world.headers("owner"))
    assert owner.status_code == 201


async def test_group_deploy_token_reads_every_project_below(
    client: httpx.AsyncClient, world: World
) -> None:
    await client.put(generic(world.private.id), content=b"bits", headers=world.headers("developer"))
    created = await client.post(
        "/api/v4/groups/acme/deploy_tokens",
        data={"name": "mirror", "scopes": "read_package_registry", "expires_at": "2099-01-01"},
        headers=world.headers("owner"),
    )
    assert created.status_code == 201, created.text
    assert created.json()["expires_at"] == "2099-01-01T00:00:00.000Z"
    deploy = {"Deploy-Token": created.json()["token"]}
    download = await client.get(generic(world.private.id), headers=deploy)
    assert download.status_code == 200 and download.content == b"bits"
    upload = await client.put(generic(world.private.id, "other.bin"), content=b"x", headers=deploy)
    assert upload.status_code == 403


async def test_deploy_token_validation(client: httpx.AsyncClient, world: World) -> None:
    url = f"/api/v4/projects/{world.private.id}/deploy_tokens"
    maintainer = world.headers("maintainer")
    bad_scope = await client.post(url, json={"name": "d", "scopes": ["api"]}, headers=maintainer)
    assert bad_scope.status_code == 400
    assert bad_scope.json() == {"error": "scopes does not have a valid value"}
    missing = await client.post(url, json={"name": "d"}, headers=maintainer)
    assert missing.json() == {"error": "scopes is missing"}
    bad_name = await client.post(
        url,
        json={"name": "d", "scopes": ["read_package_registry"], "username": "no spaces"},
        headers=maintainer,
    )
    assert bad_name.status_code == 400
    assert bad_name.json() == {
        "message": "Username can contain only letters, digits, '_', '-', '+', and '.'"
    }


async def test_project_access_token_lifecycle(client: httpx.AsyncClient, world: World) -> None:
    url = f"/api/v4/projects/{world.private.id}/access_tokens"
    created = await client.post(
        url,
        json={"name": "release-bot", "scopes": ["api"], "access_level": 30},
        headers=world.headers("maintainer"),
    )
    assert created.status_code == 201, created.text
    token = created.json()
    assert token["access_level"] == 30 and token["resource_type"] == "project"
    assert token["resource_id"] == world.private.id and token["active"] is True
    headers = {"PRIVATE-TOKEN": token["token"]}
    bot = (await client.get("/api/v4/user", headers=headers)).json()
    assert bot["bot"] is True and bot["id"] == token["user_id"]
    assert (
        await client.put(generic(world.private.id), content=b"b", headers=headers)
    ).status_code == 201
    # The bot belongs to this project only.
    other = await world.project("other")
    assert (await client.get(f"/api/v4/projects/{other.id}", headers=headers)).status_code == 404

    listed = await client.get(url, headers=world.headers("maintainer"))
    assert [(t["name"], t["access_level"]) for t in listed.json()] == [("release-bot", 30)]
    one = await client.get(f"{url}/{token['id']}", headers=world.headers("maintainer"))
    assert one.json()["name"] == "release-bot"

    revoked = await client.delete(f"{url}/{token['id']}", headers=world.headers("maintainer"))
    assert revoked.status_code == 204
    assert (await client.get("/api/v4/user", headers=headers)).status_code == 401
    after = await client.get(url, headers=world.headers("maintainer"))
    assert after.json()[0]["revoked"] is True and after.json()[0]["active"] is False


async def test_project_access_token_rules(client: httpx.AsyncClient, world: World) -> None:
    url = f"/api/v4/projects/{world.private.id}/access_tokens"
    body = {"name": "bot", "scopes": ["api"]}
    developer = await client.post(url, json=body, headers=world.headers("developer"))
    assert developer.status_code == 400
    assert developer.json() == {
        "message": "400 Bad request - User does not have permission to create project access token"
    }
    listing = await client.get(url, headers=world.headers("developer"))
    assert listing.status_code == 401
    owner_level = await client.post(
        url, json={**body, "access_level": 50}, headers=world.headers("maintainer")
    )
    assert owner_level.status_code == 400
    bad_scope = await client.post(
        url, json={**body, "scopes": ["read_package_registry"]}, headers=world.headers("maintainer")
    )
    assert bad_scope.json() == {"error": "scopes does not have a valid value"}
    missing = await client.delete(f"{url}/9999", headers=world.headers("maintainer"))
    assert missing.status_code == 404
    assert missing.json() == {"message": "404 project Access Token Not Found"}
    stranger = await client.get(url, headers=world.headers("stranger"))
    assert stranger.json() == {"message": "404 Project Not Found"}

"""/groups: creating groups and subgroups, who sees which, and group members."""

from __future__ import annotations

import httpx
import pytest

from tests.world import World

pytestmark = pytest.mark.anyio


async def make_group(
    client: httpx.AsyncClient, world: World, role: str, **body: object
) -> httpx.Response:
    return await client.post("/api/v4/groups", json=body, headers=world.headers(role))


async def test_a_user_creates_a_group_and_owns_it(client: httpx.AsyncClient, world: World) -> None:
    created = await make_group(client, world, "stranger", name="Stranger Things", path="things")
    assert created.status_code == 201, created.text
    group = created.json()
    assert group["full_path"] == "things" and group["visibility"] == "private"
    assert group["web_url"] == "http://cargobay.test/groups/things"
    assert group["parent_id"] is None and group["projects"] == []
    members = await client.get(
        f"/api/v4/groups/{group['id']}/members", headers=world.headers("stranger")
    )
    assert [(m["username"], m["access_level"]) for m in members.json()] == [("stranger", 50)]
    # A private group is invisible to others, found only by its members.
    hidden = await client.get("/api/v4/groups/things", headers=world.headers("developer"))
    assert hidden.status_code == 404
    assert hidden.json() == {"message": "404 Group Not Found"}


async def test_subgroups_need_maintainer_of_the_parent(
    client: httpx.AsyncClient, world: World
) -> None:
    acme = (await client.get("/api/v4/groups/acme", headers=world.headers("guest"))).json()
    refused = await make_group(
        client, world, "developer", name="Tools", path="tools", parent_id=acme["id"]
    )
    assert refused.status_code == 403
    created = await make_group(
        client, world, "maintainer", name="Tools", path="tools", parent_id=acme["id"]
    )
    assert created.status_code == 201, created.text
    assert created.json()["full_path"] == "acme/tools"
    assert created.json()["full_name"] == "acme / Tools"
    assert created.json()["parent_id"] == acme["id"]
    subgroups = await client.get(
        "/api/v4/groups/acme/subgroups", headers=world.headers("maintainer")
    )
    assert sorted(g["full_path"] for g in subgroups.json()) == ["acme/team", "acme/tools"]
    unknown_parent = await make_group(client, world, "admin", name="X", path="x", parent_id=99999)
    assert unknown_parent.status_code == 404
    assert unknown_parent.json() == {"message": "404 Group Not Found"}


async def test_group_validation_errors(client: httpx.AsyncClient, world: World) -> None:
    missing = await make_group(client, world, "developer", path="p")
    assert missing.status_code == 400
    assert missing.json() == {"error": "name is missing"}
    taken = await make_group(client, world, "developer", name="ACME", path="acme")
    assert taken.status_code == 400
    assert taken.json() == {"message": 'Failed to save group {:path=>["has already been taken"]}'}
    user_path = await make_group(client, world, "developer", name="Guest", path="guest")
    assert user_path.status_code == 400  # usernames and group paths share one namespace
    bad_path = await make_group(client, world, "developer", name="Bad", path="-bad")
    assert bad_path.status_code == 400
    assert bad_path.json()["message"].startswith("Failed to save group {:path=>")
    bad_visibility = await make_group(
        client, world, "developer", name="V", path="v", visibility="secret"
    )
    assert bad_visibility.json() == {"error": "visibility does not have a valid value"}
    anonymous = await client.post("/api/v4/groups", json={"name": "A", "path": "a"})
    assert anonymous.status_code == 401


async def test_a_subgroup_cannot_be_more_visible_than_its_parent(
    client: httpx.AsyncClient, world: World
) -> None:
    private = (await make_group(client, world, "owner", name="Closed", path="closed")).json()
    public_child = await make_group(
        client,
        world,
        "owner",
        name="Open",
        path="open",
        parent_id=private["id"],
        visibility="public",
    )
    assert public_child.status_code == 400
    assert "visibility_level" in public_child.json()["message"]


async def test_who_sees_which_groups(client: httpx.AsyncClient, world: World) -> None:
    await make_group(client, world, "stranger", name="Secret", path="secret")
    await make_group(client, world, "stranger", name="Inside", path="inside", visibility="internal")

    anonymous = await client.get("/api/v4/groups")
    assert sorted(g["full_path"] for g in anonymous.json()) == ["acme", "acme/team"]

    # Signed-in users list the groups they belong to, and all they may see on request.
    own = await client.get("/api/v4/groups", headers=world.headers("stranger"))
    assert sorted(g["full_path"] for g in own.json()) == ["inside", "secret"]
    available = await client.get(
        "/api/v4/groups", params={"all_available": "true"}, headers=world.headers("developer")
    )
    assert sorted(g["full_path"] for g in available.json()) == ["acme", "acme/team", "inside"]

    everything = await client.get("/api/v4/groups", headers=world.headers("admin"))
    assert everything.headers["x-total"] == "4"
    top = await client.get(
        "/api/v4/groups",
        params={"top_level_only": "true", "search": "ACM"},
        headers=world.headers("admin"),
    )
    assert [g["full_path"] for g in top.json()] == ["acme"]


async def test_get_group_by_encoded_path_with_its_projects(
    client: httpx.AsyncClient, world: World
) -> None:
    team = await client.get("/api/v4/groups/acme%2Fteam", headers=world.headers("guest"))
    assert team.status_code == 200
    assert team.json()["full_path"] == "acme/team"
    assert sorted(p["path"] for p in team.json()["projects"]) == ["private-proj", "public-proj"]
    # Anonymous callers see the public group, but not its private project.
    public_view = await client.get("/api/v4/groups/acme%2Fteam")
    assert [p["path"] for p in public_view.json()["projects"]] == ["public-proj"]
    by_id = await client.get(f"/api/v4/groups/{team.json()['id']}?with_projects=false")
    assert by_id.json()["projects"] == []
    assert (await client.get("/api/v4/groups/nope")).json() == {"message": "404 Group Not Found"}


async def test_group_members_are_managed_by_owners(client: httpx.AsyncClient, world: World) -> None:
    stranger = (await client.get("/api/v4/user", headers=world.headers("stranger"))).json()
    url = "/api/v4/groups/acme/members"
    by_maintainer = await client.post(
        url,
        json={"user_id": stranger["id"], "access_level": 30},
        headers=world.headers("maintainer"),
    )
    assert by_maintainer.status_code == 403

    added = await client.post(
        url,
        json={"user_id": stranger["id"], "access_level": 30, "expires_at": "2099-12-31"},
        headers=world.headers("owner"),
    )
    assert added.status_code == 201, added.text
    assert added.json()["username"] == "stranger"
    assert added.json()["access_level"] == 30 and added.json()["expires_at"] == "2099-12-31"
    # The new Developer may now see private projects of the group.
    private = await client.get(
        f"/api/v4/projects/{world.private.id}", headers=world.headers("stranger")
    )
    assert private.status_code == 200

    again = await client.post(
        url, json={"user_id": stranger["id"], "access_level": 30}, headers=world.headers("owner")
    )
    assert again.status_code == 409
    assert again.json() == {"message": "Member already exists"}

    changed = await client.put(
        f"{url}/{stranger['id']}", json={"access_level": 40}, headers=world.headers("owner")
    )
    assert changed.status_code == 200 and changed.json()["access_level"] == 40
    one = await client.get(f"{url}/{stranger['id']}", headers=world.headers("guest"))
    assert one.json()["access_level"] == 40

    removed = await client.delete(f"{url}/{stranger['id']}", headers=world.headers("owner"))
    assert removed.status_code == 204
    gone = await client.get(f"{url}/{stranger['id']}", headers=world.headers("owner"))
    assert gone.status_code == 404
    assert gone.json() == {"message": "404 Not found"}
    hidden = await client.get(
        f"/api/v4/projects/{world.private.id}", headers=world.headers("stranger")
    )
    assert hidden.status_code == 404


async def test_member_errors(client: httpx.AsyncClient, world: World) -> None:
    url = "/api/v4/groups/acme/members"
    owner = world.headers("owner")
    unknown = await client.post(url, json={"user_id": 9999, "access_level": 30}, headers=owner)
    assert unknown.status_code == 404
    assert unknown.json() == {"message": "404 User Not Found"}
    stranger = (await client.get("/api/v4/user", headers=world.headers("stranger"))).json()
    bad_level = await client.post(
        url, json={"user_id": stranger["id"], "access_level": 35}, headers=owner
    )
    assert bad_level.status_code == 400
    assert bad_level.json() == {"message": {"access_level": ["is not included in the list"]}}
    missing = await client.post(url, json={}, headers=owner)
    assert missing.json() == {
        "error": "access_level is missing, user_id, username are missing, "
        "exactly one parameter must be provided"
    }
    # The only owner of a group cannot be removed; anyone else may leave.
    owner_id = (await client.get("/api/v4/user", headers=owner)).json()["id"]
    last_owner = await client.delete(f"{url}/{owner_id}", headers=owner)
    assert last_owner.status_code == 403
    guest_id = (await client.get("/api/v4/user", headers=world.headers("guest"))).json()["id"]
    leave = await client.delete(f"{url}/{guest_id}", headers=world.headers("guest"))
    assert leave.status_code == 204


async def test_inherited_members_of_a_subgroup(client: httpx.AsyncClient, world: World) -> None:
    direct = await client.get("/api/v4/groups/acme%2Fteam/members", headers=world.headers("guest"))
    assert direct.json() == []
    inherited = await client.get(
        "/api/v4/groups/acme%2Fteam/members/all", headers=world.headers("guest")
    )
    assert {m["username"]: m["access_level"] for m in inherited.json()} == {
        "guest": 10,
        "reporter": 20,
        "developer": 30,
        "maintainer": 40,
        "owner": 50,
    }


async def test_multipart_forms_work_like_json(client: httpx.AsyncClient, world: World) -> None:
    """curl --form name=Forms --form path=forms ..."""
    created = await client.post(
        "/api/v4/groups",
        files={"name": (None, "Forms"), "path": (None, "forms"), "visibility": (None, "public")},
        headers=world.headers("developer"),
    )
    assert created.status_code == 201, created.text
    assert created.json()["full_path"] == "forms" and created.json()["visibility"] == "public"

"""/personal_access_tokens: listing, inspecting and revoking tokens, including the token a
request uses (``self``)."""

from __future__ import annotations

import httpx
import pytest

from tests.world import World

pytestmark = pytest.mark.anyio
TOKENS = "/api/v4/personal_access_tokens"


async def me(client: httpx.AsyncClient, world: World, role: str) -> int:
    return int((await client.get("/api/v4/user", headers=world.headers(role))).json()["id"])


async def test_users_list_their_own_tokens_and_admins_everyones(
    client: httpx.AsyncClient, world: World
) -> None:
    await world.token("developer", ["read_api"])
    own = await client.get(TOKENS, headers=world.headers("developer"))
    assert own.status_code == 200
    developer = await me(client, world, "developer")
    assert {t["user_id"] for t in own.json()} == {developer}
    assert sorted(t["scopes"] for t in own.json()) == [["api"], ["read_api"]]
    assert all(t["active"] and not t["revoked"] for t in own.json())

    everyone = await client.get(TOKENS, headers=world.headers("admin"))
    assert everyone.headers["x-total"] == "8"
    filtered = await client.get(
        TOKENS, params={"user_id": developer}, headers=world.headers("admin")
    )
    assert len(filtered.json()) == 2
    unknown = await client.get(TOKENS, params={"user_id": 9999}, headers=world.headers("admin"))
    assert unknown.status_code == 404


async def test_asking_for_someone_elses_tokens_is_unauthorized(
    client: httpx.AsyncClient, world: World
) -> None:
    admin = await me(client, world, "admin")
    response = await client.get(TOKENS, params={"user_id": admin}, headers=world.headers("guest"))
    assert response.status_code == 401
    assert response.json() == {"message": "401 Unauthorized"}


async def test_get_one_token(client: httpx.AsyncClient, world: World) -> None:
    [own] = (await client.get(TOKENS, headers=world.headers("guest"))).json()
    seen = await client.get(f"{TOKENS}/{own['id']}", headers=world.headers("guest"))
    assert seen.status_code == 200
    assert seen.json()["last_used_ips"] == [] and seen.json()["name"] == "t"
    # Another user's token: non-admins are told nothing, admins that it is missing.
    other = await client.get(f"{TOKENS}/{own['id']}", headers=world.headers("stranger"))
    assert other.status_code == 401
    missing = await client.get(f"{TOKENS}/9999", headers=world.headers("admin"))
    assert missing.status_code == 404


async def test_revoking_a_token_stops_it_at_once(client: httpx.AsyncClient, world: World) -> None:
    spare = await world.token("developer", ["api"])
    listed = (await client.get(TOKENS, headers={"PRIVATE-TOKEN": spare})).json()
    spare_id = max(t["id"] for t in listed)
    revoked = await client.delete(f"{TOKENS}/{spare_id}", headers=world.headers("developer"))
    assert revoked.status_code == 204
    refused = await client.get("/api/v4/user", headers={"PRIVATE-TOKEN": spare})
    assert refused.status_code == 401
    assert refused.json()["error"] == "invalid_token"
    assert "revoked" in refused.json()["error_description"]
    after = await client.get(f"{TOKENS}/{spare_id}", headers=world.headers("developer"))
    assert after.json()["revoked"] is True and after.json()["active"] is False
    inactive = await client.get(
        TOKENS, params={"state": "inactive"}, headers=world.headers("developer")
    )
    assert [t["id"] for t in inactive.json()] == [spare_id]


async def test_revoke_rules(client: httpx.AsyncClient, world: World) -> None:
    [guest_token] = (await client.get(TOKENS, headers=world.headers("guest"))).json()
    someone_elses = await client.delete(
        f"{TOKENS}/{guest_token['id']}", headers=world.headers("stranger")
    )
    assert someone_elses.status_code == 400
    assert someone_elses.json() == {"message": "400 Bad request"}
    missing = await client.delete(f"{TOKENS}/9999", headers=world.headers("stranger"))
    assert missing.status_code == 404
    by_admin = await client.delete(f"{TOKENS}/{guest_token['id']}", headers=world.headers("admin"))
    assert by_admin.status_code == 204
    assert (await client.get("/api/v4/user", headers=world.headers("guest"))).status_code == 401


async def test_any_token_can_see_and_revoke_itself(client: httpx.AsyncClient, world: World) -> None:
    read_only = await world.token("reporter", ["read_api"])
    headers = {"PRIVATE-TOKEN": read_only}
    seen = await client.get(f"{TOKENS}/self", headers=headers)
    assert seen.status_code == 200
    assert seen.json()["scopes"] == ["read_api"] and seen.json()["name"] == "scoped"
    # DELETE is not a read, yet a read_api token may still revoke itself.
    gone = await client.delete(f"{TOKENS}/self", headers={"Authorization": f"Bearer {read_only}"})
    assert gone.status_code == 204
    again = await client.get(f"{TOKENS}/self", headers=headers)
    assert again.status_code == 401
    assert again.json()["error"] == "invalid_token"
    assert (await client.get(f"{TOKENS}/self")).status_code == 401


async def test_scopes_and_admin_rules_on_user_tokens(
    client: httpx.AsyncClient, world: World
) -> None:
    guest = await me(client, world, "guest")
    url = f"/api/v4/users/{guest}/personal_access_tokens"
    bad_scope = await client.post(
        url, json={"name": "x", "scopes": ["write_everything"]}, headers=world.headers("admin")
    )
    assert bad_scope.status_code == 400
    assert bad_scope.json() == {"error": "scopes does not have a valid value"}
    missing = await client.post(url, json={}, headers=world.headers("admin"))
    assert missing.json() == {"error": "name is missing, scopes is missing"}
    not_admin = await client.post(
        url, json={"name": "x", "scopes": ["api"]}, headers=world.headers("owner")
    )
    assert not_admin.status_code == 403
    # curl's form arrays: scopes[]=a&scopes[]=b
    form = await client.post(
        url,
        content="name=ci&scopes[]=read_api&scopes[]=api",
        headers={**world.headers("admin"), "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert form.status_code == 201, form.text
    assert form.json()["scopes"] == ["read_api", "api"]
    assert form.json()["token"].startswith("glpat-")

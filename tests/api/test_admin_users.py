"""/version, /user, /users: who may create, list and block users, in GitLab's shapes."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import select

from cargobay.auth.passwords import verify_password
from cargobay.services.registry import Registry
from cargobay.storage.db import tables
from tests.world import World

pytestmark = pytest.mark.anyio

NEW_USER = {"username": "alice", "name": "Alice A.", "email": "alice@example.com"}


async def user_id(client: httpx.AsyncClient, world: World, username: str) -> int:
    found = await client.get(
        "/api/v4/users", params={"username": username}, headers=world.headers("admin")
    )
    [user] = found.json()
    return int(user["id"])


async def test_version_and_current_user_need_a_token(
    client: httpx.AsyncClient, world: World
) -> None:
    for path in ("/api/v4/version", "/api/v4/user"):
        anonymous = await client.get(path)
        assert anonymous.status_code == 401
        assert anonymous.json() == {"message": "401 Unauthorized"}
    version = await client.get("/api/v4/version", headers=world.headers("guest"))
    assert version.status_code == 200
    assert version.json()["version"].count(".") == 2
    assert version.json()["revision"].startswith("cargobay-")


async def test_current_user_shows_admin_flag_only_to_admins(
    client: httpx.AsyncClient, world: World
) -> None:
    me = (await client.get("/api/v4/user", headers=world.headers("developer"))).json()
    assert me["username"] == "developer"
    assert me["web_url"] == "http://cargobay.test/developer"
    assert me["state"] == "active" and me["bot"] is False
    assert "is_admin" not in me
    root = (await client.get("/api/v4/user", headers=world.headers("admin"))).json()
    assert root["is_admin"] is True


async def test_admin_creates_a_user_who_can_then_get_a_token(
    client: httpx.AsyncClient, registry: Registry, world: World
) -> None:
    created = await client.post(
        "/api/v4/users",
        json={**NEW_USER, "password": "correct horse", "skip_confirmation": True},
        headers=world.headers("admin"),
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["username"] == "alice" and body["name"] == "Alice A."
    assert body["email"] == "alice@example.com" and body["is_admin"] is False
    assert body["created_at"].endswith("Z")
    async with registry.db.read() as conn:
        stored = (
            await conn.execute(
                select(tables.users.c.password_hash).where(tables.users.c.id == body["id"])
            )
        ).scalar_one()
    assert stored.startswith("$argon2id$")  # the same hasher as web sign-in
    assert verify_password(stored, "correct horse")

    token = await client.post(
        f"/api/v4/users/{body['id']}/personal_access_tokens",
        json={"name": "ci", "scopes": ["api"], "expires_at": "2099-01-01"},
        headers=world.headers("admin"),
    )
    assert token.status_code == 201, token.text
    assert token.json()["expires_at"] == "2099-01-01"
    me = await client.get("/api/v4/user", headers={"PRIVATE-TOKEN": token.json()["token"]})
    assert me.json()["username"] == "alice"


async def test_creating_users_is_for_admins_only(client: httpx.AsyncClient, world: World) -> None:
    refused = await client.post("/api/v4/users", json=NEW_USER, headers=world.headers("owner"))
    assert refused.status_code == 403
    assert refused.json() == {"message": "403 Forbidden"}
    anonymous = await client.post("/api/v4/users", json=NEW_USER)
    assert anonymous.status_code == 401


async def test_user_creation_errors_are_gitlab_shaped(
    client: httpx.AsyncClient, world: World
) -> None:
    admin = world.headers("admin")
    missing = await client.post("/api/v4/users", json={"name": "x"}, headers=admin)
    assert missing.status_code == 400
    assert missing.json() == {"error": "email is missing, username is missing"}

    taken = await client.post(
        "/api/v4/users", json={**NEW_USER, "username": "Developer"}, headers=admin
    )
    assert taken.status_code == 409
    assert taken.json() == {"message": "Username has already been taken"}

    await client.post("/api/v4/users", json=NEW_USER, headers=admin)
    same_email = await client.post(
        "/api/v4/users", json={**NEW_USER, "username": "alice2"}, headers=admin
    )
    assert same_email.status_code == 409
    assert same_email.json() == {"message": "Email has already been taken"}

    bad = await client.post(
        "/api/v4/users",
        json={"username": "-bad", "name": "B", "email": "nope", "password": "short"},
        headers=admin,
    )
    assert bad.status_code == 400
    errors = bad.json()["message"]
    assert errors["email"] == ["is invalid"]
    assert errors["password"] == ["is too short (minimum is 8 characters)"]
    assert "username" in errors

    group_path = await client.post(
        "/api/v4/users", json={**NEW_USER, "username": "acme", "email": "a@b.c"}, headers=admin
    )
    assert group_path.status_code == 400
    assert group_path.json() == {"message": {"username": ["has already been taken"]}}


async def test_form_encoded_bodies_work_like_json(client: httpx.AsyncClient, world: World) -> None:
    created = await client.post(
        "/api/v4/users",
        data={**NEW_USER, "admin": "true"},
        headers=world.headers("admin"),
    )
    assert created.status_code == 201, created.text
    assert created.json()["is_admin"] is True


async def test_listing_users_filters_by_username_and_pages(
    client: httpx.AsyncClient, world: World
) -> None:
    one = await client.get(
        "/api/v4/users", params={"username": "GUEST"}, headers=world.headers("developer")
    )
    assert [u["username"] for u in one.json()] == ["guest"]
    assert "is_admin" not in one.json()[0]  # non-admins get the basic entity

    page = await client.get(
        "/api/v4/users", params={"per_page": 2, "page": 2}, headers=world.headers("admin")
    )
    assert page.status_code == 200
    assert len(page.json()) == 2
    assert page.headers["x-total"] == "7"
    assert page.headers["x-page"] == "2" and page.headers["x-next-page"] == "3"
    assert 'rel="next"' in page.headers["link"]
    # Newest first, as GitLab orders users by default.
    ids = [u["id"] for u in page.json()]
    assert ids == sorted(ids, reverse=True)


async def test_anonymous_user_listing_needs_a_username(client: httpx.AsyncClient) -> None:
    refused = await client.get("/api/v4/users")
    assert refused.status_code == 403
    assert refused.json() == {"message": "403 Forbidden - Not authorized to access /api/v4/users"}
    assert (await client.get("/api/v4/users", params={"username": "nobody"})).json() == []


async def test_get_user_by_id(client: httpx.AsyncClient, world: World) -> None:
    guest = await user_id(client, world, "guest")
    seen = await client.get(f"/api/v4/users/{guest}", headers=world.headers("stranger"))
    assert seen.status_code == 200 and seen.json()["username"] == "guest"
    assert "email" not in seen.json()
    missing = await client.get("/api/v4/users/9999", headers=world.headers("admin"))
    assert missing.status_code == 404
    assert missing.json() == {"message": "404 User Not Found"}
    assert (await client.get(f"/api/v4/users/{guest}")).status_code == 403


async def test_blocking_a_user_stops_their_tokens_until_unblocked(
    client: httpx.AsyncClient, world: World
) -> None:
    developer = await user_id(client, world, "developer")
    blocked = await client.post(f"/api/v4/users/{developer}/block", headers=world.headers("admin"))
    assert blocked.status_code == 201 and blocked.json() is True
    refused = await client.get("/api/v4/user", headers=world.headers("developer"))
    assert refused.status_code == 403
    assert refused.json() == {"message": "403 Forbidden - Your account has been blocked."}
    listed = await client.get(
        "/api/v4/users", params={"blocked": "true"}, headers=world.headers("admin")
    )
    assert [u["username"] for u in listed.json()] == ["developer"]

    unblocked = await client.post(
        f"/api/v4/users/{developer}/unblock", headers=world.headers("admin")
    )
    assert unblocked.status_code == 201
    assert (await client.get("/api/v4/user", headers=world.headers("developer"))).status_code == 200


async def test_block_rules(client: httpx.AsyncClient, world: World) -> None:
    admin = await user_id(client, world, "admin")
    self_block = await client.post(f"/api/v4/users/{admin}/block", headers=world.headers("admin"))
    assert self_block.status_code == 403
    assert self_block.json() == {
        "message": "403 Forbidden - The API initiating user cannot be blocked by the API"
    }
    by_owner = await client.post(f"/api/v4/users/{admin}/block", headers=world.headers("owner"))
    assert by_owner.status_code == 403
    missing = await client.post("/api/v4/users/9999/block", headers=world.headers("admin"))
    assert missing.json() == {"message": "404 User Not Found"}

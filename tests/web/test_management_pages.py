"""The management pages in process: who may open them, as the API's services decide."""

from __future__ import annotations

import re

import httpx
import pytest

from cargobay.domain.models import Visibility
from cargobay.services import admin, sign_in
from cargobay.services.registry import Registry
from tests.web.test_security import PASSWORD, csrf_of, signed_in
from tests.world import World

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(("role", "status"), [("reporter", 403), ("maintainer", 200)])
async def test_project_tokens_need_a_maintainer(
    client: httpx.AsyncClient, registry: Registry, world: World, role: str, status: int
) -> None:
    await signed_in(client, registry, role)
    page = await client.get(f"/{world.private.full_path}/-/settings/access_tokens")
    assert page.status_code == status, page.text[-2000:]


@pytest.mark.parametrize(("role", "can_add"), [("reporter", False), ("maintainer", True)])
async def test_members_page_offers_adding_only_to_managers(
    client: httpx.AsyncClient, registry: Registry, world: World, role: str, can_add: bool
) -> None:
    await signed_in(client, registry, role)
    page = await client.get(f"/{world.private.full_path}/-/project_members")
    assert page.status_code == 200
    assert "@maintainer" in page.text
    assert ("Add member" in page.text) is can_add


async def test_the_new_forms_refuse_posts_without_this_sessions_token(
    client: httpx.AsyncClient, registry: Registry, world: World
) -> None:
    await signed_in(client, registry, "maintainer")
    project = world.private.full_path
    posts = {
        "/projects": {"name": "forged", "namespace_id": "1", "visibility": "private"},
        "/groups": {"name": "forged", "path": "forged", "visibility": "private"},
        f"/{project}/-/project_members": {"username": "stranger", "access_level": "30"},
        "/groups/acme/-/group_members": {"username": "stranger", "access_level": "30"},
        f"/{project}/-/settings/access_tokens": {"name": "x", "scopes": "api"},
        f"/{project}/-/settings/deploy_tokens": {"name": "x", "scopes": "read_package_registry"},
        "/-/user_settings/password": {"password": "x" * 20, "password_confirmation": "x" * 20},
    }
    for path, data in posts.items():
        for forged in ({}, {"_csrf": "forged"}):
            refused = await client.post(path, data={**data, **forged})
            assert refused.status_code == 403, path
            assert "Form expired" in refused.text, path
    members = await client.get(f"/{project}/-/project_members")
    assert "@stranger" not in members.text
    assert (await client.get("/forged")).status_code == 404


async def test_members_and_projects_are_refused_below_the_role(
    client: httpx.AsyncClient, registry: Registry, world: World
) -> None:
    csrf = await signed_in(client, registry, "reporter")
    project = world.private.full_path
    add = await client.post(
        f"/{project}/-/project_members",
        data={"_csrf": csrf, "username": "stranger", "access_level": "30"},
    )
    assert add.status_code == 403
    role = await client.post(
        f"/{project}/-/project_members/1/role", data={"_csrf": csrf, "access_level": "50"}
    )
    assert role.status_code == 403
    group = await client.get("/groups/acme")
    assert "New subgroup" not in group.text and "New project" not in group.text
    refused = await client.post(
        "/projects",
        data={
            "_csrf": csrf,
            "name": "sneaky",
            "namespace_id": str(world.private.namespace_id),
            "visibility": "private",
        },
    )
    # As the projects API: 400 {"namespace": ["is not valid"]}, shown beside the field.
    assert refused.status_code == 400
    assert 'id="project-namespace_id-error"' in refused.text
    assert "Namespace is not valid" in refused.text
    assert (await client.get("/acme/team/sneaky")).status_code == 404
    # Strangers do not learn that a private project exists.
    client.cookies.clear()
    await signed_in(client, registry, "stranger")
    assert (await client.get(f"/{project}/-/project_members")).status_code == 404
    assert (await client.get(f"/{project}/-/settings/access_tokens")).status_code == 404


async def test_change_your_own_password(
    client: httpx.AsyncClient, registry: Registry, world: World
) -> None:
    csrf = await signed_in(client, registry, "developer")
    page = await client.get("/-/user_settings/password/edit")
    assert page.status_code == 200 and 'for="password-current_password"' in page.text
    new = "a-whole-new-password"
    wrong = await client.post(
        "/-/user_settings/password",
        data={
            "_csrf": csrf,
            "current_password": "not it",
            "password": new,
            "password_confirmation": new,
        },
    )
    assert wrong.status_code == 400
    assert "Current password is wrong" in wrong.text
    assert 'aria-describedby="password-current_password-error"' in wrong.text
    assert new not in wrong.text  # a refused form never echoes a password
    mismatch = await client.post(
        "/-/user_settings/password",
        data={
            "_csrf": csrf,
            "current_password": PASSWORD,
            "password": new,
            "password_confirmation": new + "x",
        },
    )
    assert mismatch.status_code == 400 and "doesn&#39;t match" in mismatch.text
    # Another session signed in with the old password ends; this one goes on.
    async with httpx.AsyncClient(transport=client._transport, base_url=client.base_url) as other:
        form = await other.get("/users/sign_in")
        second = await other.post(
            "/users/sign_in",
            data={
                "_csrf": csrf_of(form.text),
                "username": "developer",
                "password": PASSWORD,
                "next": "/explore",
            },
        )
        assert second.status_code == 303  # (signed_in would set the password again)
        changed = await client.post(
            "/-/user_settings/password",
            data={
                "_csrf": csrf,
                "current_password": PASSWORD,
                "password": new,
                "password_confirmation": new,
            },
        )
        assert changed.status_code == 303
        after = await client.get(changed.headers["location"])
        assert "Password changed." in after.text
        assert "Sign out" in after.text
        ended = await other.get("/explore")
        assert "You were signed out" in ended.text
        assert "Sign out" not in ended.text
    await sign_in.sign_in_with_password(registry, "developer", new)


async def test_user_pages_and_the_personal_namespace_breadcrumb(
    client: httpx.AsyncClient, registry: Registry, world: World
) -> None:
    await admin.create_project(registry, "developer", "mine", visibility=Visibility.public)
    await admin.create_project(registry, "developer", "secret-of-mine")
    page = await client.get("/developer")
    assert page.status_code == 200
    assert "@developer" in page.text and "/developer/mine/-/packages" in page.text
    assert "secret-of-mine" not in page.text  # private: not for anonymous visitors
    crumb = await client.get("/groups/developer")
    assert crumb.status_code == 303 and crumb.headers["location"] == "/developer"
    assert (await client.get("/no-such-user")).status_code == 404
    assert (await client.get("/groups/no-such-group")).status_code == 404


async def test_revoking_the_token_of_this_session_says_so_on_the_sign_in_page(
    client: httpx.AsyncClient, registry: Registry, world: World
) -> None:
    token = await admin.create_personal_access_token(registry, "guest", name="web", scopes=["api"])
    page = await client.get("/users/sign_in")
    signed = await client.post(
        "/users/sign_in",
        data={"_csrf": csrf_of(page.text), "method": "token", "token": token.token, "next": "/"},
    )
    assert signed.status_code == 303
    tokens = await client.get("/-/user_settings/personal_access_tokens")
    revoked = await client.post(
        f"/-/user_settings/personal_access_tokens/{token.id}/revoke",
        data={"_csrf": csrf_of(tokens.text)},
    )
    assert revoked.status_code == 303 and revoked.headers["location"] == "/users/sign_in"
    sign_in_page = await client.get("/users/sign_in")
    assert "You revoked the token this session was signed in with" in sign_in_page.text


async def test_an_administrator_creates_a_user_with_a_password_or_a_token(
    client: httpx.AsyncClient, registry: Registry, world: World
) -> None:
    csrf = await signed_in(client, registry, "admin")
    with_password = await client.post(
        "/admin/users",
        data={
            "_csrf": csrf,
            "username": "pat",
            "name": "Pat",
            "email": "pat@example.com",
            "password": "pats-password",
        },
    )
    assert with_password.status_code == 303
    await sign_in.sign_in_with_password(registry, "pat", "pats-password")
    with_token = await client.post(
        "/admin/users",
        data={
            "_csrf": csrf,
            "username": "sam",
            "name": "Sam",
            "email": "sam@example.com",
            "token": "on",
        },
    )
    assert with_token.status_code == 200
    found = re.search(r"glpat-[A-Za-z0-9_.-]+", with_token.text)
    assert found, "the new token is shown"
    me = await client.get("/api/v4/user", headers={"PRIVATE-TOKEN": found.group(0)})
    assert me.status_code == 200 and me.json()["username"] == "sam"
    assert found.group(0) not in (await client.get("/admin/users")).text  # shown once

"""The web interface's security rules, in process: CSRF on every form, cookie flags,
sessions that end, safe redirects, escaping headers, and the API left as it was."""

from __future__ import annotations

import re
import stat

import httpx
import pytest
from starlette.routing import Route

from cargobay.auth.tokens import digest
from cargobay.services import admin, sign_in
from cargobay.services.registry import Registry
from cargobay.storage.db import tokens
from cargobay.web.routes import routes
from cargobay.web.session import COOKIE
from tests.world import World

pytestmark = pytest.mark.anyio
PASSWORD = "correct-horse-battery"


def csrf_of(html: str) -> str:
    found = re.search(r'name="_csrf" value="([^"]+)"', html)
    assert found, "no CSRF field on the page"
    return found.group(1)


async def signed_in(client: httpx.AsyncClient, registry: Registry, user: str) -> str:
    """Sign ``user`` in with a password; return the session's CSRF token."""
    await sign_in.set_password(registry, user, PASSWORD)
    page = await client.get("/users/sign_in")
    response = await client.post(
        "/users/sign_in",
        data={
            "_csrf": csrf_of(page.text),
            "method": "password",
            "username": user,
            "password": PASSWORD,
            "next": "/explore",
        },
    )
    assert response.status_code == 303, response.text
    return csrf_of((await client.get("/explore")).text)


def test_every_post_route_checks_the_csrf_token() -> None:
    posts = [r for r in routes if isinstance(r, Route) and "POST" in (r.methods or ())]
    assert len(posts) > 10
    unprotected = [r.path for r in posts if not getattr(r.endpoint, "csrf_protected", False)]
    assert unprotected == []


async def test_forms_without_this_sessions_token_are_refused(
    client: httpx.AsyncClient, registry: Registry, world: World
) -> None:
    csrf = await signed_in(client, registry, "maintainer")
    path = f"/{world.public.full_path}/-/settings/packages_and_registries/access_level"
    for data in ({}, {"_csrf": "forged"}, {"_csrf": csrf + "x"}):
        refused = await client.post(
            path, data={**data, "package_registry_access_level": "disabled"}
        )
        assert refused.status_code == 403
        assert "Form expired" in refused.text
    # Another visitor's token does not work either.
    async with httpx.AsyncClient(transport=client._transport, base_url=client.base_url) as other:
        page = await other.get("/users/sign_in")
        stranger = csrf_of(page.text)
    refused = await client.post(path, data={"_csrf": stranger})
    assert refused.status_code == 403
    accepted = await client.post(
        path, data={"_csrf": csrf, "package_registry_access_level": "private"}
    )
    assert accepted.status_code == 303
    # A JSON or multipart body is not a form here.
    json_post = await client.post(path, json={"_csrf": csrf})
    assert json_post.status_code == 403


async def test_sign_in_needs_the_token_too(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/users/sign_in", data={"method": "password", "username": "root", "password": "x"}
    )
    assert response.status_code == 403


async def test_session_cookie_flags(
    client: httpx.AsyncClient, registry: Registry, world: World
) -> None:
    page = await client.get("/users/sign_in")
    cookie = page.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE}=")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/" in cookie
    assert "Secure" not in cookie  # plain HTTP: a Secure cookie would never come back
    client.cookies.clear()
    behind_proxy = await client.get("/users/sign_in", headers={"X-Forwarded-Proto": "https"})
    assert "; Secure" in behind_proxy.headers["set-cookie"]
    transport = client._transport
    async with httpx.AsyncClient(transport=transport, base_url="https://cargobay.test") as tls:
        assert "; Secure" in (await tls.get("/users/sign_in")).headers["set-cookie"]
    # The cookie holds ids, never a token or a password.
    client.cookies.clear()
    await signed_in(client, registry, "developer")
    raw = client.cookies[COOKIE]
    assert PASSWORD not in raw and world.tokens["developer"] not in raw


async def test_session_secret_is_kept_private_in_the_data_dir(
    client: httpx.AsyncClient, registry: Registry
) -> None:
    secret = registry.settings.data_dir / "session_secret"
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    assert len(secret.read_text().strip()) >= 48


async def test_tampered_or_foreign_cookies_are_ignored(
    client: httpx.AsyncClient, registry: Registry, world: World
) -> None:
    await signed_in(client, registry, "admin")
    assert (await client.get("/admin/users")).status_code == 200
    value = client.cookies[COOKIE]
    client.cookies.set(COOKIE, value[:-2] + ("AA" if not value.endswith("AA") else "BB"))
    response = await client.get("/admin/users")
    assert response.status_code == 404  # anonymous now: /admin is not there for them
    assert "Max-Age=0" in response.headers["set-cookie"]  # and the bad cookie is dropped


async def test_blocked_users_and_revoked_tokens_end_sessions(
    client: httpx.AsyncClient, registry: Registry, world: World
) -> None:
    await signed_in(client, registry, "developer")
    assert 'class="who"' in (await client.get("/explore")).text
    await admin.set_user_state(registry, "developer", "blocked")
    assert 'class="who"' not in (await client.get("/explore")).text

    page = await client.get("/users/sign_in")
    token_sign_in = await client.post(
        "/users/sign_in",
        data={"_csrf": csrf_of(page.text), "method": "token", "token": world.tokens["reporter"]},
    )
    assert token_sign_in.status_code == 303
    assert 'class="who"' in (await client.get("/explore")).text
    async with registry.db.read() as conn:
        row = await tokens.personal_token_by_digest(conn, digest(world.tokens["reporter"]))
    assert row is not None
    await admin.revoke_personal_access_token(registry, row.id)
    assert 'class="who"' not in (await client.get("/explore")).text


async def test_read_only_token_sessions_cannot_change_anything(
    client: httpx.AsyncClient, registry: Registry, world: World
) -> None:
    read_only = await world.token("maintainer", ["read_api"])
    page = await client.get("/users/sign_in")
    await client.post(
        "/users/sign_in",
        data={"_csrf": csrf_of(page.text), "method": "token", "token": read_only},
    )
    csrf = csrf_of((await client.get("/explore")).text)
    refused = await client.post(
        f"/{world.public.full_path}/-/settings/packages_and_registries/access_level",
        data={"_csrf": csrf, "package_registry_access_level": "disabled"},
    )
    assert refused.status_code == 403
    assert "read-only token" in refused.text


async def test_tokens_without_api_scopes_cannot_sign_in(
    client: httpx.AsyncClient, world: World
) -> None:
    token = await world.token("developer", ["read_user"])
    page = await client.get("/users/sign_in")
    response = await client.post(
        "/users/sign_in", data={"_csrf": csrf_of(page.text), "method": "token", "token": token}
    )
    assert response.status_code == 200
    assert "needs the api or read_api scope" in response.text


@pytest.mark.parametrize(
    "next_url,expected",
    [
        ("/explore/groups", "/explore/groups"),
        ("//evil.example/x", "/"),
        ("https://evil.example/", "/"),
        ("/\\evil.example", "/"),
        ("javascript:alert(1)", "/"),
    ],
)
async def test_sign_in_only_redirects_within_the_site(
    client: httpx.AsyncClient, registry: Registry, world: World, next_url: str, expected: str
) -> None:
    await sign_in.set_password(registry, "guest", PASSWORD)
    page = await client.get("/users/sign_in")
    response = await client.post(
        "/users/sign_in",
        data={
            "_csrf": csrf_of(page.text),
            "method": "password",
            "username": "guest",
            "password": PASSWORD,
            "next": next_url,
        },
    )
    assert response.status_code == 303
    assert response.headers["location"] == expected


async def test_pages_carry_security_headers_and_the_api_keeps_its_own(
    client: httpx.AsyncClient,
) -> None:
    page = await client.get("/explore")
    assert page.status_code == 200
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["cache-control"] == "no-store"
    assert "set-cookie" not in page.headers  # anonymous browsing creates no session

    missing = await client.get("/no/such/page")
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("text/html")
    assert "Page not found" in missing.text

    api_missing = await client.get("/api/v4/no/such/route")
    assert api_missing.status_code == 404
    assert api_missing.json() == {"error": "404 Not Found"}
    assert "content-security-policy" not in api_missing.headers
    wrong_method = await client.post("/api/v4/projects/1/packages")
    assert wrong_method.status_code == 405
    health = await client.get("/-/health")  # the API app answers it, not a page
    assert health.status_code == 200 and "content-security-policy" not in health.headers


async def test_large_forms_are_refused(client: httpx.AsyncClient) -> None:
    page = await client.get("/users/sign_in")
    response = await client.post(
        "/users/sign_in",
        data={"_csrf": csrf_of(page.text), "username": "x" * 70_000, "password": "y"},
    )
    assert response.status_code == 400
    assert "too large" in response.text


async def test_cleanup_rules_are_validated_on_the_server(
    client: httpx.AsyncClient, registry: Registry, world: World
) -> None:
    csrf = await signed_in(client, registry, "maintainer")
    settings = f"/{world.public.full_path}/-/settings/packages_and_registries"
    for field, value in (
        ("remove_older_than_days", "-3"),
        ("keep_n_latest_versions", "many"),
        ("keep_n_duplicated_package_files", "7"),
        ("keep_pattern", "(unclosed"),
    ):
        response = await client.post(settings + "/cleanup", data={"_csrf": csrf, field: value})
        # Refused on the page itself: the error beside its field, the value as typed.
        assert response.status_code == 400, field
        assert f'id="cleanup-{field}-error"' in response.text, field
        if field != "keep_n_duplicated_package_files":  # a select offers only its choices
            assert f'value="{value}"' in response.text, field
        assert "Cleanup policy saved." not in (await client.get(settings)).text
    response = await client.post(
        settings + "/cleanup", data={"_csrf": csrf, "remove_older_than_days": "30"}
    )
    assert "Cleanup policy saved." in (await client.get(settings)).text
    assert 'value="30"' in (await client.get(settings)).text


async def test_static_files_are_cached_by_version_and_need_no_session(
    client: httpx.AsyncClient,
) -> None:
    page = await client.get("/users/sign_in")
    css = re.search(r'href="(/-/static/cargobay\.css\?v=\w+)"', page.text)
    assert css
    response = await client.get(css.group(1))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/css")
    assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert "set-cookie" not in response.headers
    unversioned = await client.get("/-/static/cargobay.css")
    assert unversioned.headers["cache-control"] == "no-cache"
    again = await client.get(
        "/-/static/cargobay.css", headers={"If-None-Match": unversioned.headers["etag"]}
    )
    assert again.status_code == 304
    missing = await client.get("/-/static/nope.js")
    assert missing.status_code == 404
    assert "Page not found" in missing.text

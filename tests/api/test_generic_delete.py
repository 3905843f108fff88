"""DELETE on the generic URL and the version resource GET (Cargobay's own,
docs/extensions.md; design shared/spec/beyond-gitlab.md §5, §8 step 2), and the headers
that tell Cargobay from GitLab (§0.4), on every backend."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import orjson
import pytest

from cargobay.services.registry import Registry
from cargobay.storage.db import tables
from tests.api.generic_support import (
    BASIC_REALM,
    FILE_NOT_FOUND,
    FORBIDDEN,
    PROJECT_NOT_FOUND,
    UNAUTHORIZED,
    packages,
    put,
    rows,
    url,
)
from tests.api.test_policies_protection import DELETION_PROTECTED, add_rule
from tests.world import World

pytestmark = pytest.mark.anyio


async def publish(client: httpx.AsyncClient, world: World, rest: str, body: bytes = b"x") -> None:
    response = await put(client, world.private.id, rest, body, world.headers("developer"))
    assert response.status_code == 201, response.text


async def get(client: httpx.AsyncClient, world: World, rest: str) -> httpx.Response:
    return await client.get(url(world.private.id, rest), headers=world.headers("developer"))


async def delete(
    client: httpx.AsyncClient, world: World, rest: str, role: str = "maintainer", **headers: str
) -> httpx.Response:
    return await client.delete(url(world.private.id, rest), headers=world.headers(role) | headers)


async def listed(client: httpx.AsyncClient, world: World) -> list[tuple[str, str]]:
    response = await client.get(
        f"/api/v4/projects/{world.private.id}/packages", headers=world.headers("developer")
    )
    return [(p["name"], p["version"]) for p in response.json()]


async def test_delete_of_a_file_removes_it_and_keeps_its_sibling(
    client: httpx.AsyncClient, world: World
) -> None:
    await publish(client, world, "tool/1.0/a.txt", b"a")
    await publish(client, world, "tool/1.0/b.txt", b"b")
    response = await delete(client, world, "tool/1.0/a.txt")
    assert response.status_code == 204
    assert response.content == b""
    gone = await get(client, world, "tool/1.0/a.txt")
    assert (gone.status_code, gone.json()) == (404, FILE_NOT_FOUND)
    assert (await get(client, world, "tool/1.0/b.txt")).content == b"b"
    assert await listed(client, world) == [("tool", "1.0")]


async def test_delete_of_a_file_removes_every_upload_of_that_name(
    client: httpx.AsyncClient, registry: Registry, world: World
) -> None:
    """Deleting only the newest would bring the one before back."""
    for body in (b"one", b"two", b"three"):
        await publish(client, world, "tool/1.0/dir/f.txt", body)
    await publish(client, world, "tool/1.0/keep", b"k")
    assert (await delete(client, world, "tool/1.0/dir/f.txt")).status_code == 204
    assert (await get(client, world, "tool/1.0/dir%2Ff.txt")).status_code == 404
    events = [
        e for e in await rows(registry, tables.audit_events) if e["event_name"].endswith("deleted")
    ]
    assert [e["event_name"] for e in events] == ["package_file_deleted"] * 3
    assert all(orjson.loads(e["details"])["via"] == "generic_url" for e in events)


async def test_deleting_the_last_file_takes_the_version_with_it(
    client: httpx.AsyncClient, registry: Registry, world: World
) -> None:
    await publish(client, world, "tool/1.0/only")
    await publish(client, world, "tool/2.0/other")
    assert (await delete(client, world, "tool/1.0/only")).status_code == 204
    assert await listed(client, world) == [("tool", "2.0")]
    assert (await get(client, world, "tool/1.0")).status_code == 404
    names = [e["event_name"] for e in await rows(registry, tables.audit_events)]
    assert names[-2:] == ["package_file_deleted", "package_deleted"]


@pytest.mark.parametrize("rest", ["tool/1.0", "tool/1.0/"])
async def test_delete_of_a_version_answers_204_and_it_is_no_longer_listed(
    client: httpx.AsyncClient, registry: Registry, world: World, rest: str
) -> None:
    await publish(client, world, "tool/1.0/a")
    await publish(client, world, "tool/1.0/b")
    await publish(client, world, "tool/1.1/a")
    (old_id,) = [p["id"] for p in await packages(registry, world.private.id, version="1.0")]
    response = await delete(client, world, rest)
    assert (response.status_code, response.content) == (204, b"")
    assert await listed(client, world) == [("tool", "1.1")]
    assert (await get(client, world, "tool/1.0/a")).status_code == 404
    event = (await rows(registry, tables.audit_events))[-1]
    assert event["event_name"] == "package_deleted"
    assert orjson.loads(event["details"])["via"] == "generic_url"
    # A re-upload of the same name and version is a new package.
    await publish(client, world, "tool/1.0/a")
    live = await packages(registry, world.private.id, version="1.0", status=0)
    assert [p["id"] for p in live] != [old_id]


async def test_a_hidden_version_can_be_read_and_deleted_by_name(
    client: httpx.AsyncClient, world: World
) -> None:
    await publish(client, world, "tool/1.0/a?status=hidden")
    assert await listed(client, world) == []
    assert (await get(client, world, "tool/1.0")).json()["status"] == "hidden"
    assert (await delete(client, world, "tool/1.0")).status_code == 204
    assert (await get(client, world, "tool/1.0")).status_code == 404


async def test_get_of_a_version_answers_the_package_with_the_newest_file_of_each_name(
    client: httpx.AsyncClient, world: World
) -> None:
    await publish(client, world, "tool/1.0/dir/b.txt", b"old")
    await publish(client, world, "tool/1.0/a.txt", b"a")
    await publish(client, world, "tool/1.0/dir/b.txt", b"newer")
    response = await get(client, world, "tool/1.0")
    assert response.status_code == 200
    assert "location" not in response.headers  # answered, not redirected
    version = response.json()
    assert (version["name"], version["version"], version["package_type"]) == (
        "tool",
        "1.0",
        "generic",
    )
    assert version["status"] == "default"
    assert [(f["file_name"], f["size"]) for f in version["files"]] == [
        ("a.txt", 1),
        ("dir%2Fb.txt", 5),
    ]
    same = await get(client, world, "tool/1.0/")
    assert (same.status_code, same.json()) == (200, version)
    alias = await client.get(
        f"/api/v4/projects/{world.private.id}/generic/tool/1.0", headers=world.headers("developer")
    )
    assert alias.json() == version


async def test_missing_things_answer_404_and_bad_segments_400(
    client: httpx.AsyncClient, world: World
) -> None:
    await publish(client, world, "tool/1.0/a")
    for rest in ("tool/9.9", "tool/1.0/nope", "other/1.0/a", "other/1.0"):
        response = await delete(client, world, rest)
        assert (response.status_code, response.json()) == (404, FILE_NOT_FOUND), rest
    assert (await get(client, world, "tool/9.9")).status_code == 404
    bad = await delete(client, world, "tool/1.0..2")
    assert (bad.status_code, bad.json()) == (400, {"error": "package_version is invalid"})
    assert (await delete(client, world, "tool/~latest/a")).status_code == 400
    assert (await get(client, world, "to%20ol/1.0")).status_code == 400


Caller = Callable[[World], Awaitable[dict[str, str]]]


async def _role(world: World, role: str) -> dict[str, str]:
    return world.headers(role)


async def _scoped(world: World, scopes: list[str]) -> dict[str, str]:
    return {"PRIVATE-TOKEN": await world.token("maintainer", scopes)}


async def _deploy(world: World, scopes: list[str]) -> dict[str, str]:
    return {"Deploy-Token": await world.deploy_token(world.private, scopes)}


async def _job(world: World, user: str) -> dict[str, str]:
    return {"JOB-TOKEN": (await world.job(world.private, user)).token}


MATRIX: list[tuple[str, Caller, int, Any]] = [
    ("anonymous", lambda w: _none(), 401, UNAUTHORIZED),
    ("guest", lambda w: _role(w, "guest"), 403, FORBIDDEN),
    ("reporter", lambda w: _role(w, "reporter"), 403, FORBIDDEN),
    ("developer", lambda w: _role(w, "developer"), 403, FORBIDDEN),
    ("stranger", lambda w: _role(w, "stranger"), 404, PROJECT_NOT_FOUND),
    ("maintainer", lambda w: _role(w, "maintainer"), 204, None),
    ("owner", lambda w: _role(w, "owner"), 204, None),
    ("admin", lambda w: _role(w, "admin"), 204, None),
    ("read_api token", lambda w: _scoped(w, ["read_api"]), 403, None),
    ("deploy token, write", lambda w: _deploy(w, ["write_package_registry"]), 204, None),
    ("deploy token, read", lambda w: _deploy(w, ["read_package_registry"]), 403, FORBIDDEN),
    ("job of a maintainer", lambda w: _job(w, "maintainer"), 204, None),
    ("job of a developer", lambda w: _job(w, "developer"), 403, FORBIDDEN),
]


async def _none() -> dict[str, str]:
    return {}


@pytest.mark.parametrize(("who", "caller", "status", "body"), MATRIX, ids=[m[0] for m in MATRIX])
@pytest.mark.parametrize("rest", ["tool/1.0/a", "tool/1.0"])
async def test_who_may_delete_on_the_generic_url(
    client: httpx.AsyncClient,
    world: World,
    who: str,
    caller: Caller,
    status: int,
    body: Any,
    rest: str,
) -> None:
    await publish(client, world, "tool/1.0/a")
    headers = await caller(world)
    response = await client.delete(url(world.private.id, rest), headers=headers)
    assert response.status_code == status, response.text
    if body is not None:
        assert response.json() == body
    if status == 401:
        assert response.headers["www-authenticate"] == BASIC_REALM
    if status == 403 and who == "read_api token":
        assert response.json()["error"] == "insufficient_scope"
    still_there = (await get(client, world, "tool/1.0/a")).status_code == 200
    assert still_there == (status != 204)


async def test_deletion_protection_applies(client: httpx.AsyncClient, world: World) -> None:
    await publish(client, world, "tool/1.0/a")
    await add_rule(
        client,
        world,
        world.private,
        package_name_pattern="tool",
        minimum_access_level_for_delete="owner",
    )
    for rest in ("tool/1.0/a", "tool/1.0"):
        response = await delete(client, world, rest)
        assert (response.status_code, response.json()) == (403, DELETION_PROTECTED)
    assert (await delete(client, world, "tool/1.0", role="owner")).status_code == 204


async def test_if_match_deletes_only_the_file_the_client_saw(
    client: httpx.AsyncClient, world: World
) -> None:
    await publish(client, world, "tool/1.0/a", b"first")
    etag = (await get(client, world, "tool/1.0/a")).headers["etag"]
    await publish(client, world, "tool/1.0/a", b"republished")
    stale = await delete(client, world, "tool/1.0/a", **{"If-Match": etag})
    assert (stale.status_code, stale.json()) == (412, {"message": "412 Precondition Failed"})
    current = (await get(client, world, "tool/1.0/a")).headers["etag"]
    assert (await delete(client, world, "tool/1.0/a", **{"If-Match": current})).status_code == 204


# ---------------------------------------------------------------- discovery


async def test_every_answer_names_the_cargobay_version(
    client: httpx.AsyncClient, world: World
) -> None:
    await publish(client, world, "tool/1.0/a")
    answers = [
        await get(client, world, "tool/1.0/a"),
        await client.get(url(world.private.id, "tool/1.0/a")),  # 401
        await client.get("/api/v4/nothing/here"),
        await client.get("/-/health"),
        await client.get("/users/sign_in"),
    ]
    versions = {a.headers.get("x-cargobay-version") for a in answers}
    assert len(versions) == 1 and None not in versions


async def test_the_version_endpoint_lists_the_extensions(
    client: httpx.AsyncClient, world: World
) -> None:
    response = await client.get("/api/v4/version", headers=world.headers("guest"))
    assert response.status_code == 200
    body = response.json()
    assert body["version"]  # the GitLab version followed, for GitLab clients
    assert body["cargobay"]["version"] == response.headers["x-cargobay-version"]
    assert {"checksum-assert", "checksum-deploy", "generic-delete"} <= set(
        body["cargobay"]["features"]
    )

"""Generic package upload (spec §2, §4.4, §15 checks 2, 7, 11, 12, 25)."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator

import httpx
import pytest

from cargobay.services.registry import Registry
from cargobay.settings import Settings
from cargobay.storage.db import tables
from tests.api.generic_support import (
    CREATED,
    FILE_NOT_FOUND,
    ROUTE_NOT_FOUND,
    TOO_LARGE,
    all_package_files,
    client_for,
    files_of,
    packages,
    put,
    rows,
    stored_blobs,
    temp_files,
    url,
)
from tests.world import World

pytestmark = pytest.mark.anyio


async def test_upload_answers_201_created(
    client: httpx.AsyncClient, registry: Registry, world: World
) -> None:
    body = b"\x00binary\xff" * 100
    response = await put(
        client, world.private.id, "tool/1.0.0/tool.bin", body, world.headers("developer")
    )
    assert response.status_code == 201
    assert response.json() == CREATED
    assert response.headers["content-type"] == "application/json"
    (package,) = await packages(registry, world.private.id)
    assert (package["name"], package["version"], package["status"]) == ("tool", "1.0.0", 0)
    assert package["last_downloaded_at"] is None
    (file,) = await files_of(registry, package["id"])
    assert file["file_name"] == "tool.bin"
    assert file["size"] == len(body)
    assert file["file_sha256"] == hashlib.sha256(body).hexdigest()


async def test_select_package_file_answers_200_with_the_file_record(
    client: httpx.AsyncClient, registry: Registry, world: World
) -> None:
    body = b"hello world"
    response = await put(
        client,
        world.private.id,
        "tool/1.0.0/tool.bin?select=package_file",
        body,
        world.headers("developer"),
    )
    assert response.status_code == 200
    record = response.json()
    (package,) = await packages(registry, world.private.id)
    (file,) = await files_of(registry, package["id"])
    assert record["id"] == file["id"]
    assert record["package_id"] == package["id"]
    assert record["file_name"] == "tool.bin"
    assert record["size"] == len(body)
    assert record["file_sha256"] == hashlib.sha256(body).hexdigest()
    assert record["created_at"].endswith("Z")


async def test_select_package_file_shows_the_encoded_directory_name(
    client: httpx.AsyncClient, world: World
) -> None:
    response = await put(
        client,
        world.private.id,
        "tool/1.0.0/a/b/f.txt?select=package_file",
        b"x",
        world.headers("developer"),
    )
    assert response.status_code == 200
    assert response.json()["file_name"] == "a%2Fb%2Ff.txt"


async def test_empty_body_is_a_valid_file(
    client: httpx.AsyncClient, registry: Registry, world: World
) -> None:
    response = await put(
        client, world.private.id, "tool/1.0/empty.txt", b"", world.headers("developer")
    )
    assert response.status_code == 201
    (file,) = await all_package_files(registry)
    assert file["size"] == 0
    assert file["file_sha256"] == hashlib.sha256(b"").hexdigest()
    get = await client.get(
        url(world.private.id, "tool/1.0/empty.txt"), headers=world.headers("developer")
    )
    assert get.status_code == 200
    assert get.content == b""


async def test_same_file_twice_adds_a_second_file_and_download_returns_the_newest(
    client: httpx.AsyncClient, registry: Registry, world: World
) -> None:
    first = await put(
        client, world.private.id, "tool/1.0/tool.bin", b"first", world.headers("developer")
    )
    second = await put(
        client, world.private.id, "tool/1.0/tool.bin", b"second!", world.headers("maintainer")
    )
    assert (first.status_code, second.status_code) == (201, 201)
    assert second.json() == CREATED
    (package,) = await packages(registry, world.private.id)
    files = await files_of(registry, package["id"])
    assert [(f["file_name"], f["size"]) for f in files] == [("tool.bin", 5), ("tool.bin", 7)]
    get = await client.get(
        url(world.private.id, "tool/1.0/tool.bin"), headers=world.headers("guest")
    )
    assert get.status_code == 200
    assert get.content == b"second!"
    assert get.headers["x-checksum-sha256"] == hashlib.sha256(b"second!").hexdigest()


async def test_other_files_and_versions_share_or_split_packages(
    client: httpx.AsyncClient, registry: Registry, world: World
) -> None:
    headers = world.headers("developer")
    for rest in ("tool/1.0/a.bin", "tool/1.0/b.bin", "tool/2.0/a.bin", "Tool/1.0/a.bin"):
        assert (
            await put(client, world.private.id, rest, rest.encode(), headers)
        ).status_code == 201
    found = await packages(registry, world.private.id)
    # Names are case-sensitive: Tool and tool are two packages.
    assert [(p["name"], p["version"]) for p in found] == [
        ("tool", "1.0"),
        ("tool", "2.0"),
        ("Tool", "1.0"),
    ]
    assert len(await files_of(registry, found[0]["id"])) == 2
    for rest in ("tool/1.0/a.bin", "tool/1.0/b.bin", "tool/2.0/a.bin", "Tool/1.0/a.bin"):
        get = await client.get(url(world.private.id, rest), headers=headers)
        assert get.content == rest.encode()


async def test_hidden_upload_stays_hidden_until_a_default_upload(
    client: httpx.AsyncClient, registry: Registry, world: World
) -> None:
    headers = world.headers("developer")
    rest = "tool/1.0/a.bin"
    assert (
        await put(client, world.private.id, f"{rest}?status=hidden", b"a", headers)
    ).status_code == 201
    assert (await packages(registry, world.private.id))[0]["status"] == 1
    # No status: the stored status is left alone.
    assert (await put(client, world.private.id, "tool/1.0/b.bin", b"b", headers)).status_code == 201
    assert (await packages(registry, world.private.id))[0]["status"] == 1
    # A hidden package is still downloadable.
    get = await client.get(url(world.private.id, rest), headers=headers)
    assert (get.status_code, get.content) == (200, b"a")
    assert (
        await put(client, world.private.id, "tool/1.0/c.bin?status=default", b"c", headers)
    ).status_code == 201
    (package,) = await packages(registry, world.private.id)
    assert package["status"] == 0


async def test_upload_records_the_uploader(
    client: httpx.AsyncClient, registry: Registry, world: World
) -> None:
    await put(client, world.private.id, "tool/1.0/a.bin", b"a", world.headers("maintainer"))
    (package,) = await packages(registry, world.private.id)
    (user,) = await rows(registry, tables.users, tables.users.c.username == "maintainer")
    assert package["creator_id"] == user["id"]


# --------------------------------------------------------------- directories (§4.4, check 11)


async def test_directory_file_is_stored_encoded_and_downloadable_both_ways(
    client: httpx.AsyncClient, registry: Registry, world: World
) -> None:
    headers = world.headers("developer")
    response = await put(client, world.private.id, "pkg/1.0/a/b/f.txt", b"deep", headers)
    assert response.status_code == 201
    (package,) = await packages(registry, world.private.id)
    (file,) = await files_of(registry, package["id"])
    assert file["file_name"] == "a%2Fb%2Ff.txt"

    for rest in ("pkg/1.0/a/b/f.txt", "pkg/1.0/a%2Fb%2Ff.txt", "pkg/1.0/a%2fb/f.txt"):
        get = await client.get(url(world.private.id, rest), headers=headers)
        assert get.status_code == 200, rest
        assert get.content == b"deep"
        # The base name, not GitLab's escaped a%252Fb%252Ff.txt (docs/compatibility.md).
        assert get.headers["content-disposition"] == (
            "attachment; filename=\"f.txt\"; filename*=UTF-8''f.txt"
        )

    for rest in ("pkg/1.0/f.txt", "pkg/1.0/b/f.txt", "pkg/1.0/a/f.txt"):
        get = await client.get(url(world.private.id, rest), headers=headers)
        assert get.status_code == 404, rest
        assert get.json() == FILE_NOT_FOUND


async def test_directory_names_encode_like_encode_uri_component(
    client: httpx.AsyncClient, registry: Registry, world: World
) -> None:
    headers = world.headers("developer")
    assert (
        await put(client, world.private.id, "pkg/1.0/d/my+file@1.tar.gz", b"x", headers)
    ).status_code == 201
    assert (
        await put(client, world.private.id, "pkg/1.0/my+file@1.tar.gz", b"y", headers)
    ).status_code == 201
    names = [f["file_name"] for f in await all_package_files(registry)]
    # With a path `+` and `@` are percent-encoded; without one the name is stored raw.
    assert names == ["d%2Fmy%2Bfile%401.tar.gz", "my+file@1.tar.gz"]
    get = await client.get(url(world.private.id, "pkg/1.0/d/my+file@1.tar.gz"), headers=headers)
    assert get.content == b"x"
    get = await client.get(url(world.private.id, "pkg/1.0/my+file@1.tar.gz"), headers=headers)
    assert get.content == b"y"
    # The stored (listed) name downloads the directory file too.
    get = await client.get(url(world.private.id, f"pkg/1.0/{names[0]}"), headers=headers)
    assert get.content == b"x"


async def test_same_name_in_different_directories_are_different_files(
    client: httpx.AsyncClient, registry: Registry, world: World
) -> None:
    headers = world.headers("developer")
    for rest, body in (
        ("pkg/1.0/x/f.txt", b"x"),
        ("pkg/1.0/y/f.txt", b"y"),
        ("pkg/1.0/f.txt", b"r"),
    ):
        assert (await put(client, world.private.id, rest, body, headers)).status_code == 201
    for rest, body in (
        ("pkg/1.0/x/f.txt", b"x"),
        ("pkg/1.0/y/f.txt", b"y"),
        ("pkg/1.0/f.txt", b"r"),
    ):
        assert (await client.get(url(world.private.id, rest), headers=headers)).content == body


# --------------------------------------------------------------- routes and project ids


async def test_alias_path_without_packages_segment(
    client: httpx.AsyncClient, registry: Registry, world: World
) -> None:
    alias = f"/api/v4/projects/{world.private.id}/generic/tool/1.0/tool.bin"
    response = await client.put(alias, content=b"alias", headers=world.headers("developer"))
    assert response.status_code == 201
    assert response.json() == CREATED
    get = await client.get(alias, headers=world.headers("guest"))
    assert (get.status_code, get.content) == (200, b"alias")
    # It is the same package as under the canonical path.
    canonical = await client.get(
        url(world.private.id, "tool/1.0/tool.bin"), headers=world.headers("guest")
    )
    assert canonical.content == b"alias"
    assert len(await packages(registry, world.private.id)) == 1
    anonymous = await client.put(alias, content=b"x")
    assert anonymous.status_code == 401


@pytest.mark.parametrize(
    "project_ref",
    ["acme%2Fteam%2Fprivate-proj", "acme%2fteam%2fprivate-proj", "ACME%2FTeam%2FPrivate-Proj"],
)
async def test_url_encoded_project_path_works(
    client: httpx.AsyncClient, registry: Registry, world: World, project_ref: str
) -> None:
    response = await put(
        client, project_ref, "tool/1.0/tool.bin", b"by path", world.headers("developer")
    )
    assert response.status_code == 201
    assert len(await packages(registry, world.private.id)) == 1
    get = await client.get(url(project_ref, "tool/1.0/tool.bin"), headers=world.headers("guest"))
    assert (get.status_code, get.content) == (200, b"by path")
    by_id = await client.get(
        url(world.private.id, "tool/1.0/tool.bin"), headers=world.headers("guest")
    )
    assert by_id.content == b"by path"


@pytest.mark.parametrize("method", ["PUT", "GET"])
async def test_raw_slashes_in_project_path_are_route_not_found(
    client: httpx.AsyncClient, registry: Registry, world: World, method: str
) -> None:
    response = await client.request(
        method,
        url("acme/team/private-proj", "tool/1.0/tool.bin"),
        content=b"x" if method == "PUT" else None,
        headers=world.headers("owner"),
    )
    assert response.status_code == 404
    assert response.json() == ROUTE_NOT_FOUND
    assert await packages(registry, world.private.id) == []


@pytest.mark.parametrize("project_ref", ["999999", "acme%2Fteam%2Fnope", "acme%2Fteam"])
async def test_unknown_project_is_404_for_users_and_401_for_anonymous(
    client: httpx.AsyncClient, world: World, project_ref: str
) -> None:
    response = await put(client, project_ref, "tool/1.0/tool.bin", b"x", world.headers("owner"))
    assert response.status_code == 404
    assert response.json() == {"message": "404 Not Found"}
    get = await client.get(url(project_ref, "tool/1.0/tool.bin"), headers=world.headers("owner"))
    assert get.status_code == 404
    assert get.json() == {"message": "404 Not Found"}
    anonymous = await client.get(url(project_ref, "tool/1.0/tool.bin"))
    assert anonymous.status_code == 401
    assert anonymous.json() == {"message": "401 Unauthorized"}


# --------------------------------------------------------------- size limit (check 12)


async def _chunks(total: int, step: int = 4) -> AsyncIterator[bytes]:
    sent = 0
    while sent < total:
        n = min(step, total - sent)
        yield b"z" * n
        sent += n


async def assert_nothing_stored(registry: Registry, settings: Settings, world: World) -> None:
    assert await packages(registry, world.private.id) == []
    assert await all_package_files(registry) == []
    assert temp_files(settings) == []
    assert stored_blobs(settings) == []


async def test_content_length_at_the_limit_is_too_large(
    settings: Settings, registry: Registry, world: World
) -> None:
    limited = settings.model_copy(update={"max_file_size": 10})
    async with client_for(limited) as client:
        response = await put(
            client, world.private.id, "tool/1.0/f.bin", b"x" * 10, world.headers("developer")
        )
        assert response.status_code == 400
        assert response.json() == TOO_LARGE
        await assert_nothing_stored(registry, settings, world)
        bigger = await put(
            client, world.private.id, "tool/1.0/f.bin", b"x" * 11, world.headers("developer")
        )
        assert bigger.status_code == 400
        assert bigger.json() == TOO_LARGE
        await assert_nothing_stored(registry, settings, world)
        get = await client.get(
            url(world.private.id, "tool/1.0/f.bin"), headers=world.headers("developer")
        )
        assert get.status_code == 404

        fits = await put(
            client, world.private.id, "tool/1.0/f.bin", b"x" * 9, world.headers("developer")
        )
        assert fits.status_code == 201
        get = await client.get(
            url(world.private.id, "tool/1.0/f.bin"), headers=world.headers("developer")
        )
        assert get.content == b"x" * 9


@pytest.mark.parametrize("step", [1, 4, 10, 64])
async def test_chunked_body_at_the_limit_is_too_large(
    settings: Settings, registry: Registry, world: World, step: int
) -> None:
    limited = settings.model_copy(update={"max_file_size": 10})
    async with client_for(limited) as client:
        response = await client.put(
            url(world.private.id, "tool/1.0/f.bin"),
            content=_chunks(10, step),
            headers=world.headers("developer"),
        )
        assert "content-length" not in response.request.headers
        assert response.status_code == 400
        assert response.json() == TOO_LARGE
        await assert_nothing_stored(registry, settings, world)

        way_over = await client.put(
            url(world.private.id, "tool/1.0/f.bin"),
            content=_chunks(1000, step),
            headers=world.headers("developer"),
        )
        assert way_over.status_code == 400
        assert way_over.json() == TOO_LARGE
        await assert_nothing_stored(registry, settings, world)

        fits = await client.put(
            url(world.private.id, "tool/1.0/f.bin"),
            content=_chunks(9, step),
            headers=world.headers("developer"),
        )
        assert fits.status_code == 201
        (file,) = await all_package_files(registry)
        assert file["size"] == 9
        assert temp_files(settings) == []


async def test_limit_zero_means_unlimited(
    settings: Settings, registry: Registry, world: World
) -> None:
    unlimited = settings.model_copy(update={"max_file_size": 0})
    body = b"z" * (3 * 1024 * 1024 + 7)  # the bytes _chunks sends
    async with client_for(unlimited) as client:
        response = await put(
            client, world.private.id, "tool/1.0/big.bin", body, world.headers("developer")
        )
        assert response.status_code == 201
        chunked = await client.put(
            url(world.private.id, "tool/1.0/big2.bin"),
            content=_chunks(len(body), 256 * 1024),
            headers=world.headers("developer"),
        )
        assert chunked.status_code == 201
        get = await client.get(
            url(world.private.id, "tool/1.0/big.bin"), headers=world.headers("developer")
        )
        assert get.content == body
    stored = await all_package_files(registry)
    assert [f["size"] for f in stored] == [len(body), len(body)]
    assert {f["file_sha256"] for f in stored} == {hashlib.sha256(body).hexdigest()}


async def test_identical_bodies_in_different_packages_are_independent(
    client: httpx.AsyncClient, registry: Registry, world: World
) -> None:
    headers = world.headers("developer")
    for rest in ("one/1.0/a.bin", "two/2.0/b.bin"):
        assert (
            await put(client, world.private.id, rest, b"same bytes", headers)
        ).status_code == 201
    assert (
        await put(client, world.public.id, "three/1.0/c.bin", b"same bytes", headers)
    ).status_code == 201
    for project, rest in (
        (world.private.id, "one/1.0/a.bin"),
        (world.private.id, "two/2.0/b.bin"),
        (world.public.id, "three/1.0/c.bin"),
    ):
        get = await client.get(url(project, rest), headers=headers)
        assert (get.status_code, get.content) == (200, b"same bytes")
    assert len(await all_package_files(registry)) == 3


async def test_too_large_upload_is_still_refused_for_anonymous_with_401_first(
    settings: Settings, world: World
) -> None:
    limited = settings.model_copy(update={"max_file_size": 10})
    async with client_for(limited) as client:
        response = await client.put(url(world.public.id, "tool/1.0/f.bin"), content=b"x" * 100)
        assert response.status_code == 401
        forbidden = await put(
            client, world.private.id, "tool/1.0/f.bin", b"x" * 100, world.headers("guest")
        )
        assert forbidden.status_code == 403
        assert forbidden.json() == {"message": "403 Forbidden"}

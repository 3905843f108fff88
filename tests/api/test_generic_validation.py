"""Generic package parameter validation (spec §2 step 3, §4, §15 checks 1, 3-6).

Every refused name, version, file name or path answers the spec's Grape-shaped 400 and
leaves nothing behind: no package row, and a later download is a 404.
"""

from __future__ import annotations

import httpx
import pytest

from cargobay.services.registry import Registry
from tests.api.generic_support import (
    BASIC_REALM,
    CREATED,
    FILE_NOT_FOUND,
    UNAUTHORIZED,
    all_package_files,
    packages,
    put,
    send_raw,
    url,
)
from tests.world import World

pytestmark = pytest.mark.anyio


async def assert_nothing_created(registry: Registry, world: World) -> None:
    assert await packages(registry, world.private.id) == []
    assert await all_package_files(registry) == []


# --------------------------------------------------------------- auth before validation


@pytest.mark.parametrize(
    "rest",
    [
        "tool/1.0.0/tool.bin",
        "tool/..1.2.3/tool.bin",  # invalid version: auth still wins (Grape `before`)
        "bad%20name/1.0/~bad",
        "tool/1.0/f.txt?status=processing&select=nope",
    ],
)
async def test_upload_without_credentials_is_401_with_basic_realm(
    client: httpx.AsyncClient, registry: Registry, world: World, rest: str
) -> None:
    response = await client.put(url(world.public.id, rest), content=b"x")
    assert response.status_code == 401
    assert response.json() == UNAUTHORIZED
    assert response.headers["www-authenticate"] == BASIC_REALM
    assert await packages(registry, world.public.id) == []


# --------------------------------------------------------------- select and status


@pytest.mark.parametrize(
    ("query", "error"),
    [
        ("select=invalid_value", "select does not have a valid value"),
        ("status=processing", "status does not have a valid value"),
        ("status=pending_destruction", "status does not have a valid value"),
        ("status=HIDDEN", "status does not have a valid value"),
    ],
)
async def test_bad_select_or_status_is_400_and_creates_nothing(
    client: httpx.AsyncClient, registry: Registry, world: World, query: str, error: str
) -> None:
    response = await client.put(
        url(world.private.id, f"tool/1.0.0/tool.bin?{query}"),
        content=b"x",
        headers=world.headers("developer"),
    )
    assert response.status_code == 400
    assert response.json() == {"error": error}
    await assert_nothing_created(registry, world)


@pytest.mark.parametrize("status", ["default", "hidden"])
async def test_allowed_status_values_are_accepted(
    client: httpx.AsyncClient, registry: Registry, world: World, status: str
) -> None:
    response = await client.put(
        url(world.private.id, f"tool/1.0.0/tool.bin?status={status}"),
        content=b"x",
        headers=world.headers("developer"),
    )
    assert response.status_code == 201
    (package,) = await packages(registry, world.private.id)
    assert package["status"] == {"default": 0, "hidden": 1}[status]


async def test_several_bad_params_are_reported_together(
    client: httpx.AsyncClient, registry: Registry, world: World
) -> None:
    response = await put(
        client, world.private.id, "bad%20name/..1/f.txt", headers=world.headers("developer")
    )
    assert response.status_code == 400
    assert response.json() == {"error": "package_name is invalid, package_version is invalid"}
    await assert_nothing_created(registry, world)


# --------------------------------------------------------------- versions (§4.2)

GOOD_VERSIONS = [
    "1.2.3",
    "1.2",
    "1.2.3g",
    "1.2.bananas",
    "v1.2.4-build",
    "d50d836eb3de6177ce6c7a5482f27f9c2c84b672",
    "1.3.350-20201230123456",
    "this_is_a_string_only",
    "1.0+build.5",
]


@pytest.mark.parametrize("version", GOOD_VERSIONS)
async def test_valid_versions_are_accepted_and_downloadable(
    client: httpx.AsyncClient, registry: Registry, world: World, version: str
) -> None:
    rest = f"tool/{version}/tool.bin"
    response = await put(client, world.private.id, rest, b"v", world.headers("developer"))
    assert response.status_code == 201
    assert response.json() == CREATED
    (package,) = await packages(registry, world.private.id)
    assert package["version"] == version
    get = await client.get(url(world.private.id, rest), headers=world.headers("guest"))
    assert get.status_code == 200
    assert get.content == b"v"


BAD_VERSIONS = [
    "..1.2.3",
    "1.2..3",
    "%2e%2e%2f1.2.3",  # decodes to ../1.2.3
    "1.2.3-4%2F..%2F..%2F",  # 1.2.3-4/../../ sent encoded
    "%20%201.2.3",
    "1.2.3%20%20%0D%09",
    "1.2.3%0A",
    "1.2.3%C3%A9",  # non-ASCII: \w is ASCII-only in Ruby
    "1.2.3~rc1",
    "1.2.3@sha",
]


@pytest.mark.parametrize("version", BAD_VERSIONS)
async def test_invalid_versions_are_400_on_upload_and_create_nothing(
    client: httpx.AsyncClient, registry: Registry, world: World, version: str
) -> None:
    rest = f"tool/{version}/tool.bin"
    response = await put(client, world.private.id, rest, b"v", world.headers("developer"))
    assert response.status_code == 400
    assert response.json() == {"error": "package_version is invalid"}
    await assert_nothing_created(registry, world)
    get = await client.get(url(world.private.id, rest), headers=world.headers("developer"))
    assert get.status_code == 400
    assert get.json() == {"error": "package_version is invalid"}


async def test_version_with_raw_dot_segments_is_400_and_creates_nothing(
    registry: Registry, world: World
) -> None:
    # The spec's `1.2.3-4/../../` sent as is (curl --path-as-is): the version segment is
    # valid, the rest is a directory path that climbs out of the package.
    for method in ("PUT", "GET"):
        response = await send_raw(
            registry,
            method,
            url(world.private.id, "tool/1.2.3-4/../../tool.bin"),
            world.headers("developer"),
            b"x",
        )
        assert response.status_code == 400
        assert response.json() == {"error": "path should be a valid file path"}
    await assert_nothing_created(registry, world)


# --------------------------------------------------------------- package names (§4.1)

GOOD_NAMES = ["tool", "my_tool-2.0+x", "A.b_C-d", "...", "0"]


@pytest.mark.parametrize("name", GOOD_NAMES)
async def test_valid_package_names_are_accepted(
    client: httpx.AsyncClient, registry: Registry, world: World, name: str
) -> None:
    response = await put(
        client, world.private.id, f"{name}/1.0/f.txt", b"n", world.headers("developer")
    )
    assert response.status_code == 201
    (package,) = await packages(registry, world.private.id)
    assert package["name"] == name


@pytest.mark.parametrize(
    ("name", "error"),
    [
        ("my%20package", "package_name is invalid"),
        ("my%2Fpackage", "package_name is invalid"),
        ("my-package%2f%2e%2e%2f", "package_name is invalid"),
        ("caf%C3%A9", "package_name is invalid"),
        ("pkg%21", "package_name is invalid"),
        ("pkg~1", "package_name is invalid"),
        ("%2e", "package_name should be a valid file path"),
        ("%2e%2e", "package_name should be a valid file path"),
    ],
)
async def test_invalid_package_names_are_400_and_create_nothing(
    client: httpx.AsyncClient, registry: Registry, world: World, name: str, error: str
) -> None:
    rest = f"{name}/1.0/f.txt"
    response = await put(client, world.private.id, rest, b"n", world.headers("developer"))
    assert response.status_code == 400
    assert response.json() == {"error": error}
    await assert_nothing_created(registry, world)
    get = await client.get(url(world.private.id, rest), headers=world.headers("developer"))
    assert get.status_code == 400
    assert get.json() == {"error": error}


# --------------------------------------------------------------- file names (§4.3)


@pytest.mark.parametrize(
    "file_name",
    ["my+file.tar.gz", "my~file.tar.gz", "myfile@1.1.tar.gz", "a", "..."],
)
async def test_newest_file_name_rules_accept(
    client: httpx.AsyncClient, registry: Registry, world: World, file_name: str
) -> None:
    rest = f"tool/1.0/{file_name}"
    response = await put(client, world.private.id, rest, b"f", world.headers("developer"))
    assert response.status_code == 201
    assert len(await packages(registry, world.private.id)) == 1
    (file,) = await all_package_files(registry)
    assert file["file_name"] == file_name  # no path: stored raw, `+` and `@` kept
    get = await client.get(url(world.private.id, rest), headers=world.headers("developer"))
    assert get.status_code == 200
    assert get.content == b"f"


@pytest.mark.parametrize(
    ("file_name", "error"),
    [
        ("~myfile.tar.gz", "file_name is invalid"),
        ("myfile.tar.gz~", "file_name is invalid"),
        ("@myfile1.1.tar.gz", "file_name is invalid"),
        ("myfile1.1.tar.gz@", "file_name is invalid"),
        ("my%20file.txt", "file_name is invalid"),
        ("my$file.txt", "file_name is invalid"),
        ("caf%C3%A9.txt", "file_name is invalid"),
        ("%2e", "file_name should be a valid file path"),
        ("%2e%2e", "file_name should be a valid file path"),
    ],
)
async def test_invalid_file_names_are_400_and_create_nothing(
    client: httpx.AsyncClient, registry: Registry, world: World, file_name: str, error: str
) -> None:
    rest = f"tool/1.0/{file_name}"
    response = await put(client, world.private.id, rest, b"f", world.headers("developer"))
    assert response.status_code == 400
    assert response.json() == {"error": error}
    await assert_nothing_created(registry, world)
    get = await client.get(url(world.private.id, rest), headers=world.headers("developer"))
    assert get.status_code == 400
    assert get.json() == {"error": error}


# --------------------------------------------------------------- traversal (§4.5, check 5)

# The spec's four cases as they reach Cargobay. A `%2F` inside the file part is a
# directory separator once decoded (so `a%2Fb%2Ff.txt` and `a/b/f.txt` are one file),
# which makes the two file-name cases a directory path starting with `..`.
TRAVERSAL = [
    ("my-package%2f%2e%2e%2f/1.0/myfile.tar.gz", "package_name is invalid"),
    ("my_package/1.0/%2e%2e%2f.ssh%2fauthorized_keys", "path should be a valid file path"),
    ("my_package/1.0/a/%2e%2e/%2e%2e/f.txt", "path should be a valid file path"),
    ("my_package/1.0/%2e%2e/f.txt", "path should be a valid file path"),
    ("my_package/1.0/a%2f%2e%2e/f.txt", "path should be a valid file path"),
    ("my_package/1.0/a%0Ab/f.txt", "path should be a valid file path"),
]


@pytest.mark.parametrize(("rest", "error"), TRAVERSAL)
@pytest.mark.parametrize("method", ["PUT", "GET", "HEAD", "PUT-authorize"])
async def test_traversal_is_400_on_every_method(
    client: httpx.AsyncClient,
    registry: Registry,
    world: World,
    rest: str,
    error: str,
    method: str,
) -> None:
    target = url(world.private.id, rest)
    if method == "PUT-authorize":
        method, target = "PUT", f"{target}/authorize"
    response = await client.request(
        method, target, content=b"x" if method == "PUT" else None, headers=world.headers("owner")
    )
    assert response.status_code == 400
    if method != "HEAD":
        assert response.json() == {"error": error}
    await assert_nothing_created(registry, world)


@pytest.mark.parametrize(
    ("raw", "error"),
    [
        ("my-package/../1.0/myfile.tar.gz", "package_version is invalid"),
        ("my_package/1.0/../.ssh%2fauthorized_keys", "path should be a valid file path"),
        ("my_package/1.0/a/b/../../../f.txt", "path should be a valid file path"),
    ],
)
@pytest.mark.parametrize("method", ["PUT", "GET"])
async def test_raw_dot_segments_are_400(
    registry: Registry, world: World, raw: str, error: str, method: str
) -> None:
    response = await send_raw(
        registry, method, url(world.private.id, raw), world.headers("owner"), b"x"
    )
    assert response.status_code == 400
    assert response.json() == {"error": error}
    await assert_nothing_created(registry, world)


async def test_directory_path_has_no_character_regexp(
    client: httpx.AsyncClient, registry: Registry, world: World
) -> None:
    # §4.4: `path` is only checked for traversal, so a space in a directory is fine.
    response = await put(
        client, world.private.id, "tool/1.0/my%20dir/f.txt", b"d", world.headers("developer")
    )
    assert response.status_code == 201
    (file,) = await all_package_files(registry)
    assert file["file_name"] == "my%20dir%2Ff.txt"


async def test_download_of_missing_package_after_refused_upload_is_404(
    client: httpx.AsyncClient, world: World
) -> None:
    refused = await put(
        client, world.private.id, "tool/1.0/f.txt?select=bad", b"x", world.headers("developer")
    )
    assert refused.status_code == 400
    get = await client.get(url(world.private.id, "tool/1.0/f.txt"), headers=world.headers("owner"))
    assert get.status_code == 404
    assert get.json() == FILE_NOT_FOUND


# --------------------------------------------------------------- order: validation, then project


async def test_bad_params_are_reported_before_the_project_is_looked_up(
    client: httpx.AsyncClient, registry: Registry, world: World
) -> None:
    # Spec §2/§3: validation (step 3) comes before the project lookup (step 4), so a
    # non-member, or anyone on a missing project, sees the 400.
    for project in (world.private.id, 999999):
        upload = await put(client, project, "tool/..1/f.txt", b"x", world.headers("stranger"))
        assert upload.status_code == 400
        assert upload.json() == {"error": "package_version is invalid"}
        download = await client.get(url(project, "tool/1.0/~f.txt"))
        assert download.status_code == 400
        assert download.json() == {"error": "file_name is invalid"}
    await assert_nothing_created(registry, world)

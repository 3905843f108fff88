"""Checksum-asserted uploads, checksum-deploy and conditional PUT on the generic URL
(Cargobay's own, docs/extensions.md; design shared/spec/beyond-gitlab.md §4, §8 steps 1
and 5), on every backend: a refused body leaves no package, file row, audit event, blob
or upload in flight behind."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import AsyncIterator

import httpx
import orjson
import pytest

from cargobay.services.registry import Registry
from cargobay.settings import Settings
from cargobay.storage.db import tables
from tests.api.generic_support import (
    CREATED,
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

BODY = b"release bytes \x00\xff" * 64
SHA256 = hashlib.sha256(BODY).hexdigest()
SHA1 = hashlib.sha1(BODY).hexdigest()
MD5 = hashlib.md5(BODY).hexdigest()
WRONG_SHA256 = hashlib.sha256(b"something else").hexdigest()


def b64(hex_digest: str) -> str:
    return base64.b64encode(bytes.fromhex(hex_digest)).decode()


REPR_DIGEST = f"sha-256=:{b64(SHA256)}:"
MATCHING = [
    {"X-Checksum-Sha256": SHA256},
    {"X-Checksum-Sha1": SHA1},
    {"X-Checksum-Md5": MD5},
    {"X-Checksum": SHA256},
    {"Content-MD5": b64(MD5)},
    {"Content-Digest": REPR_DIGEST},
    {"Repr-Digest": f"sha-256=:{b64(SHA256)}:, md5=:{b64(MD5)}:"},
    {"Digest": f"SHA-256={b64(SHA256)}"},
    {"X-Checksum-Sha256": SHA256, "X-Checksum-Sha1": SHA1, "Content-MD5": b64(MD5)},
]
WRONG = {
    "X-Checksum-Sha256": ({"X-Checksum-Sha256": WRONG_SHA256}, "sha256", WRONG_SHA256, SHA256),
    "X-Checksum-Sha1": ({"X-Checksum-Sha1": "0" * 40}, "sha1", "0" * 40, SHA1),
    "Content-MD5": ({"Content-MD5": b64("00" * 16)}, "md5", "00" * 16, MD5),
    "Content-Digest": (
        {"Content-Digest": f"sha-256=:{b64(WRONG_SHA256)}:"},
        "sha256",
        WRONG_SHA256,
        SHA256,
    ),
    "Digest": ({"Digest": f"MD5={b64('11' * 16)}"}, "md5", "11" * 16, MD5),
}


async def assert_nothing_stored(registry: Registry, settings: Settings, project_id: int) -> None:
    assert await packages(registry, project_id) == []
    assert await all_package_files(registry) == []
    assert await rows(registry, tables.audit_events) == []
    assert await rows(registry, tables.blobs) == []
    assert stored_blobs(settings) == []
    assert temp_files(settings) == []


@pytest.mark.parametrize("headers", MATCHING, ids=lambda h: "+".join(h))
async def test_matching_checksums_store_the_file_and_the_answer_names_what_was_stored(
    client: httpx.AsyncClient, registry: Registry, world: World, headers: dict[str, str]
) -> None:
    response = await put(
        client, world.private.id, "tool/1.0/tool.bin", BODY, world.headers("developer") | headers
    )
    assert response.status_code == 201, response.text
    assert response.json() == CREATED
    assert response.headers["x-checksum-sha256"] == SHA256
    assert response.headers["repr-digest"] == REPR_DIGEST
    download = await client.get(
        url(world.private.id, "tool/1.0/tool.bin"), headers=world.headers("developer")
    )
    assert download.content == BODY
    assert download.headers["repr-digest"] == REPR_DIGEST


@pytest.mark.parametrize("form", list(WRONG))
async def test_a_wrong_checksum_answers_400_and_leaves_nothing(
    client: httpx.AsyncClient, registry: Registry, settings: Settings, world: World, form: str
) -> None:
    headers, algorithm, expected, actual = WRONG[form]
    response = await put(
        client, world.private.id, "tool/1.0/tool.bin", BODY, world.headers("developer") | headers
    )
    assert response.status_code == 400
    assert response.json() == {
        "message": "400 Bad request - Checksum mismatch",
        "checksums": {algorithm: {"expected": expected, "actual": actual}},
    }
    await assert_nothing_stored(registry, settings, world.private.id)
    listed = await client.get(
        f"/api/v4/projects/{world.private.id}/packages", headers=world.headers("developer")
    )
    assert listed.json() == []


async def test_a_wrong_checksum_on_a_large_body_aborts_the_upload(
    client: httpx.AsyncClient, registry: Registry, settings: Settings, world: World
) -> None:
    """Larger than one S3 part: the multipart upload is aborted, not completed."""
    body = bytes(range(256)) * (36 * 1024)  # 9 MiB
    response = await put(
        client,
        world.private.id,
        "tool/1.0/big.bin",
        body,
        world.headers("developer") | {"X-Checksum-Sha256": WRONG_SHA256},
    )
    assert response.status_code == 400
    assert response.json()["checksums"]["sha256"]["actual"] == hashlib.sha256(body).hexdigest()
    await assert_nothing_stored(registry, settings, world.private.id)


async def test_a_wrong_checksum_into_an_existing_version_adds_nothing_to_it(
    client: httpx.AsyncClient, registry: Registry, world: World
) -> None:
    headers = world.headers("developer")
    assert (await put(client, world.private.id, "tool/1.0/a.txt", b"a", headers)).status_code == 201
    wrong = headers | {"X-Checksum-Md5": "0" * 32}
    assert (await put(client, world.private.id, "tool/1.0/a.txt", BODY, wrong)).status_code == 400
    (package,) = await packages(registry, world.private.id)
    assert [f["file_name"] for f in await files_of(registry, package["id"])] == ["a.txt"]
    download = await client.get(url(world.private.id, "tool/1.0/a.txt"), headers=headers)
    assert download.content == b"a"


async def test_a_malformed_checksum_header_is_refused_before_the_body_is_read(
    client: httpx.AsyncClient, registry: Registry, settings: Settings, world: World
) -> None:
    sent: list[int] = []

    async def body() -> AsyncIterator[bytes]:
        for _ in range(4):
            sent.append(1)
            yield b"x" * 65536

    response = await client.put(
        url(world.private.id, "tool/1.0/f.bin"),
        content=body(),
        headers=world.headers("developer") | {"X-Checksum-Sha256": "abc"},
    )
    assert response.status_code == 400
    assert response.json() == {"error": "X-Checksum-Sha256 is invalid"}
    assert sent == []
    await assert_nothing_stored(registry, settings, world.private.id)


async def test_credentials_are_checked_before_the_checksum_headers(
    client: httpx.AsyncClient, world: World
) -> None:
    response = await put(client, world.private.id, "tool/1.0/f", BODY, {"Content-MD5": "?"})
    assert response.status_code == 401


async def test_only_unknown_algorithms_store_the_file_and_ask_for_sha256(
    client: httpx.AsyncClient, world: World
) -> None:
    sha512 = base64.b64encode(hashlib.sha512(BODY).digest()).decode()
    response = await put(
        client,
        world.private.id,
        "tool/1.0/f",
        BODY,
        world.headers("developer") | {"Content-Digest": f"sha-512=:{sha512}:"},
    )
    assert response.status_code == 201
    assert response.headers["want-content-digest"] == "sha-256=10"


async def test_checksums_can_be_ignored_as_gitlab_does(
    registry: Registry, settings: Settings, world: World
) -> None:
    relaxed = settings.model_copy(update={"verify_upload_checksums": False})
    async with client_for(relaxed) as client:
        response = await put(
            client,
            world.private.id,
            "tool/1.0/f",
            BODY,
            world.headers("developer") | {"X-Checksum-Sha256": "stale", "Content-MD5": "x"},
        )
    assert response.status_code == 201
    assert response.headers["x-checksum-sha256"] == SHA256


# ---------------------------------------------------------------- checksum-deploy


def deploy(sha256: str = SHA256) -> dict[str, str]:
    return {"X-Checksum-Deploy": "true", "X-Checksum-Sha256": sha256}


async def test_checksum_deploy_of_known_content_creates_the_file_without_a_body(
    client: httpx.AsyncClient, registry: Registry, world: World
) -> None:
    headers = world.headers("developer")
    assert (await put(client, world.private.id, "tool/1.0-rc1/t", BODY, headers)).status_code == 201
    response = await put(client, world.private.id, "tool/1.0/dir/t.bin", b"", headers | deploy())
    assert response.status_code == 201, response.text
    assert response.json() == CREATED
    assert response.headers["x-checksum-sha256"] == SHA256
    download = await client.get(url(world.private.id, "tool/1.0/dir/t.bin"), headers=headers)
    assert download.content == BODY
    assert len(await rows(registry, tables.blobs)) == 1  # one copy of the bytes
    event = (await rows(registry, tables.audit_events))[-1]
    assert event["event_name"] == "package_published"
    assert orjson.loads(event["details"])["checksum_deploy"] is True


async def test_checksum_deploy_answers_the_file_record_under_select(
    client: httpx.AsyncClient, world: World
) -> None:
    headers = world.headers("developer")
    await put(client, world.private.id, "tool/1.0/t", BODY, headers)
    response = await put(
        client, world.private.id, "tool/2.0/t?select=package_file", b"", headers | deploy()
    )
    assert response.status_code == 200
    assert (response.json()["file_sha256"], response.json()["size"]) == (SHA256, len(BODY))


async def test_checksum_deploy_of_unknown_content_answers_404_and_creates_nothing(
    client: httpx.AsyncClient, registry: Registry, settings: Settings, world: World
) -> None:
    response = await put(
        client, world.private.id, "tool/1.0/t", b"", world.headers("developer") | deploy()
    )
    assert response.status_code == 404
    assert response.json() == {"message": "404 Checksum Not Found"}
    await assert_nothing_stored(registry, settings, world.private.id)


async def test_checksum_deploy_never_finds_content_of_another_project(
    client: httpx.AsyncClient, registry: Registry, world: World
) -> None:
    """Not even of a public project the caller can read: no oracle for what is stored."""
    headers = world.headers("developer")
    assert (await put(client, world.public.id, "tool/1.0/t", BODY, headers)).status_code == 201
    response = await put(client, world.private.id, "tool/1.0/t", b"", headers | deploy())
    assert response.status_code == 404
    assert await packages(registry, world.private.id) == []


async def test_checksum_deploy_does_not_find_deleted_content(
    client: httpx.AsyncClient, world: World
) -> None:
    headers = world.headers("maintainer")
    await put(client, world.private.id, "tool/1.0/t", BODY, headers)
    assert (
        await client.delete(url(world.private.id, "tool/1.0/t"), headers=headers)
    ).status_code == 204
    response = await put(client, world.private.id, "tool/2.0/t", b"", headers | deploy())
    assert response.status_code == 404


@pytest.mark.parametrize(
    ("extra", "error"),
    [
        ({"X-Checksum-Deploy": "true"}, "X-Checksum-Sha256 is missing"),
        ({"X-Checksum-Deploy": "true", "X-Checksum-Sha1": SHA1}, "X-Checksum-Sha256 is missing"),
        (
            {"X-Checksum-Deploy": "maybe", "X-Checksum-Sha256": SHA256},
            "X-Checksum-Deploy is invalid",
        ),
    ],
)
async def test_checksum_deploy_needs_a_sha256(
    client: httpx.AsyncClient, world: World, extra: dict[str, str], error: str
) -> None:
    response = await put(
        client, world.private.id, "tool/1.0/t", b"", world.headers("developer") | extra
    )
    assert response.status_code == 400
    assert response.json() == {"error": error}


async def test_checksum_deploy_with_a_body_is_refused(
    client: httpx.AsyncClient, registry: Registry, world: World
) -> None:
    headers = world.headers("developer")
    await put(client, world.private.id, "tool/1.0/t", BODY, headers)
    response = await put(client, world.private.id, "tool/2.0/t", BODY, headers | deploy())
    assert response.status_code == 400
    assert response.json() == {"error": "X-Checksum-Deploy needs an empty body"}

    async def chunked() -> AsyncIterator[bytes]:
        yield b"x"

    response = await client.put(
        url(world.private.id, "tool/2.0/t"), content=chunked(), headers=headers | deploy()
    )
    assert response.status_code == 400
    assert [p["version"] for p in await packages(registry, world.private.id)] == ["1.0"]


async def test_checksum_deploy_keeps_the_upload_rules(
    client: httpx.AsyncClient, registry: Registry, world: World
) -> None:
    """Permission, duplicates and the size limit apply as to any upload."""
    await put(client, world.private.id, "tool/1.0/t", BODY, world.headers("developer"))
    reporter = await put(
        client, world.private.id, "tool/2.0/t", b"", world.headers("reporter") | deploy()
    )
    assert reporter.status_code == 403
    small = registry.settings.model_copy(update={"max_file_size": len(BODY)})
    async with client_for(small) as limited:
        response = await put(
            limited, world.private.id, "tool/2.0/t", b"", world.headers("developer") | deploy()
        )
    assert response.status_code == 400
    assert response.json() == {"message": "400 Bad request - File is too large"}


# ---------------------------------------------------------------- conditional PUT


async def test_if_none_match_star_refuses_to_overwrite_before_the_body(
    client: httpx.AsyncClient, registry: Registry, world: World
) -> None:
    headers = world.headers("developer") | {"If-None-Match": "*"}
    assert (await put(client, world.private.id, "tool/1.0/t", b"one", headers)).status_code == 201
    again = await put(client, world.private.id, "tool/1.0/t", b"two", headers)
    assert again.status_code == 412
    assert again.json() == {"message": "412 Precondition Failed"}
    (package,) = await packages(registry, world.private.id)
    assert len(await files_of(registry, package["id"])) == 1


async def test_if_match_publishes_only_over_the_expected_file(
    client: httpx.AsyncClient, world: World
) -> None:
    headers = world.headers("developer")
    await put(client, world.private.id, "tool/1.0/t", BODY, headers)
    stale = headers | {"If-Match": f'"{WRONG_SHA256}"'}
    assert (await put(client, world.private.id, "tool/1.0/t", b"new", stale)).status_code == 412
    current = headers | {"If-Match": f'"{SHA256}"'}
    assert (await put(client, world.private.id, "tool/1.0/t", b"new", current)).status_code == 201
    assert (
        await client.get(url(world.private.id, "tool/1.0/t"), headers=headers)
    ).content == b"new"
    missing = headers | {"If-Match": "*"}
    assert (await put(client, world.private.id, "tool/1.0/other", b"x", missing)).status_code == 412

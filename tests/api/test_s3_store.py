"""What only the S3 store does: multipart uploads that leave nothing behind when they fail,
identical content stored once, ranged reads across part boundaries, and downloads
redirected to presigned URLs (CARGOBAY_S3_DOWNLOAD=redirect)."""

from __future__ import annotations

import hashlib
import os
from collections.abc import AsyncIterator
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from cargobay.services.registry import Registry
from cargobay.settings import Settings
from cargobay.storage.db import tables
from tests.api.generic_support import (
    CREATED,
    TOO_LARGE,
    all_package_files,
    client_for,
    inventory,
    put,
    rows,
    url,
)
from tests.world import World

pytestmark = [pytest.mark.anyio, pytest.mark.backends("pg-s3")]

MIB = 1024 * 1024
PART = 5 * MIB  # the smallest part S3 allows: several parts from a small body


def small_parts(settings: Settings, **more: object) -> Settings:
    return settings.model_copy(update={"s3_part_size": PART, **more})


async def test_a_body_of_several_parts_round_trips_with_ranges_across_parts(
    settings: Settings, world: World
) -> None:
    body = os.urandom(2 * PART + 123_457)
    async with client_for(small_parts(settings)) as client:
        answer = await put(
            client, world.private.id, "big/1.0.0/big.bin", body, world.headers("developer")
        )
        assert (answer.status_code, answer.json()) == (201, CREATED)
        target = url(world.private.id, "big/1.0.0/big.bin")
        whole = await client.get(target, headers=world.headers("guest"))
        assert whole.content == body
        assert whole.headers["x-checksum-sha256"] == hashlib.sha256(body).hexdigest()
        assert whole.headers["content-length"] == str(len(body))
        # A range spanning the first part boundary, and a suffix range.
        span = await client.get(
            target, headers={**world.headers("guest"), "Range": f"bytes={PART - 10}-{PART + 9}"}
        )
        assert (span.status_code, span.content) == (206, body[PART - 10 : PART + 10])
        tail = await client.get(target, headers={**world.headers("guest"), "Range": "bytes=-7"})
        assert tail.content == body[-7:]
        several = await client.get(
            target, headers={**world.headers("guest"), "Range": "bytes=0-1,-2"}
        )
        assert several.status_code == 206
        assert several.headers["content-type"].startswith("multipart/byteranges")
        assert body[:2] in several.content and body[-2:] in several.content
        head = await client.head(target, headers=world.headers("guest"))
        assert (head.status_code, head.content) == (200, b"")
        assert head.headers["content-length"] == str(len(body))
    stored = inventory(settings)
    assert (len(stored.stored), stored.in_flight) == (1, [])


async def test_a_chunked_body_over_the_limit_mid_way_leaves_no_object_and_no_row(
    settings: Settings, registry: Registry, world: World
) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(3 * PART // MIB):
            yield os.urandom(MIB)

    # Refused after two parts were uploaded: the multipart upload is aborted.
    limited = small_parts(settings, max_file_size=2 * PART + MIB)
    async with client_for(limited) as client:
        answer = await client.put(
            url(world.private.id, "big/1.0.0/big.bin"),
            content=chunks(),
            headers=world.headers("developer"),
        )
    assert (answer.status_code, answer.json()) == (400, TOO_LARGE)
    assert await all_package_files(registry) == []
    stored = inventory(settings)
    assert (stored.stored, stored.in_flight) == ([], [])


async def test_a_client_gone_mid_upload_leaves_no_object_and_no_row(
    settings: Settings, registry: Registry, world: World
) -> None:
    class Gone(Exception):
        pass

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(2 * PART // MIB + 2):
            yield os.urandom(MIB)
        raise Gone  # the connection drops: the app's receive() fails

    async with client_for(small_parts(settings)) as client:
        with pytest.raises(Gone):
            await client.put(
                url(world.private.id, "big/1.0.0/big.bin"),
                content=chunks(),
                headers=world.headers("developer"),
            )
    assert await all_package_files(registry) == []
    stored = inventory(settings)
    assert (stored.stored, stored.in_flight) == ([], [])


async def test_identical_content_is_stored_once(
    client: httpx.AsyncClient, settings: Settings, registry: Registry, world: World
) -> None:
    body = os.urandom(300_000)
    headers = world.headers("developer")
    for rest in ("a/1.0/x.bin", "b/2.0/y.bin", "a/1.0/x.bin"):
        assert (await put(client, world.private.id, rest, body, headers)).status_code == 201
    assert len(await all_package_files(registry)) == 3
    (blob,) = await rows(registry, tables.blobs)
    assert inventory(settings).stored == [blob["storage_key"]]
    for rest in ("a/1.0/x.bin", "b/2.0/y.bin"):
        got = await client.get(url(world.private.id, rest), headers=headers)
        assert got.content == body


async def test_redirect_mode_sends_the_client_to_a_presigned_url(
    settings: Settings, world: World
) -> None:
    body = b"firmware image\n" * 1000
    name = "firmware_v2.0.bin"
    redirecting = settings.model_copy(update={"s3_download": "redirect"})
    async with client_for(redirecting) as client:
        rest = f"fw/2.0.0/{name}"
        uploaded = await put(client, world.private.id, rest, body, world.headers("developer"))
        assert uploaded.status_code == 201
        target = url(world.private.id, rest)
        answer = await client.get(target, headers=world.headers("guest"))
        head = await client.head(target, headers=world.headers("guest"))

    assert answer.status_code == 302
    digest = hashlib.sha256(body).hexdigest()
    assert answer.headers["x-checksum-sha256"] == digest
    disposition = answer.headers["content-disposition"]
    assert disposition.startswith(f'attachment; filename="{name}"')
    location = answer.headers["location"]
    query = parse_qs(urlsplit(location).query)
    assert query["response-content-disposition"] == [disposition]
    assert query["response-content-type"] == ["application/octet-stream"]
    assert "X-Amz-Signature" in query and "X-Amz-Expires" in query

    # The object store honours the signature and answers with our headers.
    followed = httpx.get(location)
    assert followed.status_code == 200
    assert followed.content == body
    assert followed.headers["content-disposition"] == disposition
    assert followed.headers["content-type"] == "application/octet-stream"
    assert "/objects/" in urlsplit(location).path  # the key is ours, not the user's name

    # HEAD is answered by the server itself (a presigned URL is signed for GET only).
    assert head.status_code == 200
    assert head.headers["x-checksum-sha256"] == digest
    assert head.headers["content-length"] == str(len(body))
    assert head.headers["content-disposition"] == disposition

    # A tampered URL is refused by the store.
    tampered = location.replace("response-content-type=application", "response-content-type=text")
    assert httpx.get(tampered).status_code == 403

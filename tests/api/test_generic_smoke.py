from __future__ import annotations

import hashlib

import httpx
import pytest

from tests.world import World

pytestmark = pytest.mark.anyio


def url(project_id: int, rest: str) -> str:
    return f"/api/v4/projects/{project_id}/packages/generic/{rest}"


async def test_upload_then_download_returns_the_same_bytes(
    client: httpx.AsyncClient, world: World
) -> None:
    body = b"release binary\x00\xff" * 1000
    put = await client.put(
        url(world.private.id, "tool/1.0.0/tool.bin"),
        content=body,
        headers=world.headers("developer"),
    )
    assert put.status_code == 201
    assert put.json() == {"message": "201 Created"}
    get = await client.get(
        url(world.private.id, "tool/1.0.0/tool.bin"), headers=world.headers("guest")
    )
    assert get.status_code == 200
    assert get.content == body
    assert get.headers["x-checksum-sha256"] == hashlib.sha256(body).hexdigest()
    assert get.headers["content-type"] == "application/octet-stream"

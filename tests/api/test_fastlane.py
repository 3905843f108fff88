"""The fast lane (api/fastlane.py) answers a small GET exactly as the route would, and
leaves every other request to the route."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from cargobay.api import quick
from cargobay.api.fastlane import FastLane
from cargobay.services.registry import Registry
from cargobay.storage.blobs.base import BlobLocation
from tests.api.generic_support import BASIC_REALM, put, url
from tests.world import World

pytestmark = pytest.mark.anyio

SMALL = bytes(range(256)) * 4  # 1 KiB
LARGE = bytes(range(256)) * 400  # 100 KiB: above the in-memory limit


@pytest.fixture
def lane_hits(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The paths the lane answered itself."""
    served: list[str] = []
    serve = FastLane._serve

    async def counting(self: FastLane, scope: dict, send: object) -> bool:  # type: ignore[type-arg]
        answered = await serve(self, scope, send)  # type: ignore[arg-type]
        if answered:
            served.append(scope["path"])
        return answered

    monkeypatch.setattr(FastLane, "_serve", counting)
    yield served


def comparable(response: httpx.Response) -> dict[str, str]:
    # X-Request-Id differs per request by design (api/observability.py); both carry one.
    assert response.headers.get("x-request-id")
    skip = ("date", "server", "x-request-id")
    return {k: v for k, v in response.headers.items() if k not in skip}


@pytest.mark.backends("sqlite-local")  # the lane serves local blobs only
async def test_lane_answers_a_small_download_as_the_route_does(
    client: httpx.AsyncClient, world: World, lane_hits: list[str]
) -> None:
    path = url(world.private.id, "tool/1.0/tool.bin")
    response = await put(
        client, world.private.id, "tool/1.0/tool.bin", SMALL, world.headers("developer")
    )
    assert response.status_code == 201
    by_lane = await client.get(path, headers=world.headers("reporter"))
    assert lane_hits == [path]
    # If-None-Match with another tag: the route answers, with the whole file.
    by_route = await client.get(
        path, headers={**world.headers("reporter"), "If-None-Match": '"other"'}
    )
    assert lane_hits == [path]
    assert by_lane.status_code == by_route.status_code == 200
    assert by_lane.content == by_route.content == SMALL
    assert comparable(by_lane) == comparable(by_route)
    # A second time, from the lane's copy: the same.
    again = await client.get(path, headers=world.headers("reporter"))
    assert len(lane_hits) == 2
    assert again.content == SMALL and comparable(again) == comparable(by_lane)


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("anonymous-private", 401),
        ("unknown-token", 401),
        ("stranger", 404),
        ("missing-file", 404),
        ("range", 206),
        ("large", 200),
        ("head", 200),
        ("job-token", 200),
    ],
)
async def test_lane_leaves_everything_else_to_the_route(
    client: httpx.AsyncClient, world: World, lane_hits: list[str], case: str, expected: int
) -> None:
    developer = world.headers("developer")
    await put(client, world.private.id, "tool/1.0/tool.bin", SMALL, developer)
    await put(client, world.private.id, "tool/1.0/big.bin", LARGE, developer)
    path = url(world.private.id, "tool/1.0/tool.bin")
    headers = world.headers("reporter")
    method = "GET"
    if case == "anonymous-private":
        headers = {}
    elif case == "unknown-token":
        headers = {"PRIVATE-TOKEN": "glpat-unknown"}
    elif case == "stranger":
        headers = world.headers("stranger")
    elif case == "missing-file":
        path = url(world.private.id, "tool/1.0/nope.bin")
    elif case == "range":
        headers = {**headers, "Range": "bytes=0-9"}
    elif case == "large":
        path = url(world.private.id, "tool/1.0/big.bin")
    elif case == "head":
        method = "HEAD"
    elif case == "job-token":
        headers = {"JOB-TOKEN": (await world.job(world.private)).token}
    response = await client.request(method, path, headers=headers)
    assert response.status_code == expected
    assert lane_hits == []
    if expected == 401 and case == "anonymous-private":
        assert response.headers["www-authenticate"] == BASIC_REALM
    if case == "large":
        assert response.content == LARGE


@pytest.mark.backends("sqlite-local")
async def test_a_missing_blob_is_left_to_the_route_which_answers_500(
    client: httpx.AsyncClient, registry: Registry, world: World, lane_hits: list[str]
) -> None:
    developer = world.headers("developer")
    response = await put(client, world.private.id, "tool/1.0/gone.bin", b"soon gone", developer)
    assert response.status_code == 201
    await registry.blobs.delete(BlobLocation(hashlib.sha256(b"soon gone").hexdigest()))
    response = await client.get(url(world.private.id, "tool/1.0/gone.bin"), headers=developer)
    assert response.status_code == 500
    assert response.json() == {"message": "500 Internal Server Error"}
    assert lane_hits == []


@pytest.mark.parametrize(
    ("case", "expected", "lookups"),
    [
        ("anonymous-private", 401, 1),  # the lane looked: the route does not look again
        ("stranger", 404, 1),
        ("missing-file", 404, 1),
        ("large", 200, 1),  # the lane found it and leaves it to the route
        ("head", 200, 1),  # the lane does not take HEAD: the route looks once
        ("range", 206, 1),  # nor a Range
    ],
)
async def test_a_download_runs_the_one_statement_lookup_once(
    client: httpx.AsyncClient,
    world: World,
    monkeypatch: pytest.MonkeyPatch,
    case: str,
    expected: int,
    lookups: int,
) -> None:
    developer = world.headers("developer")
    await put(client, world.private.id, "tool/1.0/tool.bin", SMALL, developer)
    await put(client, world.private.id, "tool/1.0/big.bin", LARGE, developer)
    calls: list[str] = []
    lookup = quick.quick_file

    async def counting(*args: Any) -> Any:
        calls.append(case)
        return await lookup(*args)

    monkeypatch.setattr(quick, "quick_file", counting)
    path = url(world.private.id, "tool/1.0/tool.bin")
    headers, method = world.headers("reporter"), "GET"
    if case == "anonymous-private":
        headers = {}
    elif case == "stranger":
        headers = world.headers("stranger")
    elif case == "missing-file":
        path = url(world.private.id, "tool/1.0/nope.bin")
    elif case == "large":
        path = url(world.private.id, "tool/1.0/big.bin")
    elif case == "head":
        method = "HEAD"
    elif case == "range":
        headers = {**headers, "Range": "bytes=0-9"}
    response = await client.request(method, path, headers=headers)
    assert response.status_code == expected
    assert len(calls) == lookups

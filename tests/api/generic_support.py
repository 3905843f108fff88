"""Helpers shared by the generic package API tests: URLs, credentials, database reads
and a way to send a path that httpx would otherwise normalise."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator, MutableMapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

import httpx
import orjson
from sqlalchemy import select

from cargobay.app import create_app
from cargobay.services.registry import Registry, open_blob_store, open_registry
from cargobay.settings import Settings
from cargobay.storage.blobs.base import Inventory
from cargobay.storage.db import tables

CREATED = {"message": "201 Created"}
UNAUTHORIZED = {"message": "401 Unauthorized"}
FORBIDDEN = {"message": "403 Forbidden"}
PROJECT_NOT_FOUND = {"message": "404 Not Found"}
FILE_NOT_FOUND = {"message": "404 Not found"}
ROUTE_NOT_FOUND = {"error": "404 Not Found"}
TOO_LARGE = {"message": "400 Bad request - File is too large"}
BASIC_REALM = 'Basic realm="GitLab Packages Registry"'


def url(project: int | str, rest: str) -> str:
    return f"/api/v4/projects/{project}/packages/generic/{rest}"


def basic(user: str, password: str) -> dict[str, str]:
    raw = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {raw}"}


async def put(
    client: httpx.AsyncClient,
    project: int | str,
    rest: str,
    body: bytes = b"payload",
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    return await client.put(url(project, rest), content=body, headers=headers or {})


async def rows(registry: Registry, table: Any, *where: Any) -> list[dict[str, Any]]:
    async with registry.db.read() as conn:
        result = await conn.execute(select(table).where(*where).order_by(table.c[_key(table)]))
        return [dict(r._mapping) for r in result]


def _key(table: Any) -> str:
    return "id" if "id" in table.c else next(iter(table.c.keys()))


async def packages(registry: Registry, project_id: int, **where: Any) -> list[dict[str, Any]]:
    conditions = [tables.packages.c.project_id == project_id]
    conditions += [tables.packages.c[k] == v for k, v in where.items()]
    return await rows(registry, tables.packages, *conditions)


async def files_of(registry: Registry, package_id: int) -> list[dict[str, Any]]:
    return await rows(
        registry, tables.package_files, tables.package_files.c.package_id == package_id
    )


async def all_package_files(registry: Registry) -> list[dict[str, Any]]:
    return await rows(registry, tables.package_files)


def inventory(settings: Settings) -> Inventory:
    """What the blob store of ``settings`` holds, whichever store it is (a local
    directory, or a bucket prefix). Callable from sync code and from a running loop."""

    async def scan() -> Inventory:
        store = open_blob_store(settings)
        try:
            return await store.inventory()
        finally:
            await store.close()

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, scan()).result()


def temp_files(settings: Settings) -> list[str]:
    """Uploads in flight: local temp files, or S3 multipart uploads not completed."""
    return inventory(settings).in_flight


def stored_blobs(settings: Settings) -> list[str]:
    return inventory(settings).stored


@asynccontextmanager
async def client_for(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """A client on a second app over the same data directory, with other settings."""
    registry = open_registry(settings)
    try:
        transport = httpx.ASGITransport(app=create_app(settings, registry))
        async with httpx.AsyncClient(transport=transport, base_url="http://cargobay.test") as c:
            yield c
    finally:
        await registry.close()


@dataclass
class RawResponse:
    status_code: int
    headers: dict[str, str]
    content: bytes

    def json(self) -> Any:
        return orjson.loads(self.content)


async def send_raw(
    registry: Registry,
    method: str,
    raw_path: str,
    headers: dict[str, str] | None = None,
    body: bytes = b"",
    vanish_after: int | None = None,
) -> RawResponse:
    """Send ``raw_path`` byte for byte. httpx (like curl without --path-as-is) removes
    ``..`` segments before sending; clients that do not must still get a 400.
    ``vanish_after``: the client goes away once it has that many body bytes (sending
    more raises ConnectionResetError, as a server's send does then)."""
    app = create_app(registry.settings, registry)
    header_list = [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    header_list.append((b"content-length", str(len(body)).encode()))
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": unquote(raw_path),
        "raw_path": raw_path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"cargobay.test"), *header_list],
        "client": ("127.0.0.1", 1234),
        "server": ("cargobay.test", 80),
    }
    sent = False
    status = 0
    response_headers: dict[str, str] = {}
    chunks: list[bytes] = []

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: MutableMapping[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
            response_headers.update(
                (k.decode().lower(), v.decode()) for k, v in message.get("headers", [])
            )
        elif message["type"] == "http.response.body":
            if vanish_after is not None and sum(map(len, chunks)) >= vanish_after:
                raise ConnectionResetError("the client went away")
            chunks.append(message.get("body", b""))

    try:
        await app(scope, receive, send)
    except ConnectionResetError:
        if vanish_after is None:
            raise  # the app's own, not the vanished client's
    return RawResponse(status, response_headers, b"".join(chunks))

"""Several server processes serving one registry: separate ``cargobay serve`` processes on
different ports sharing one database and one blob store (PostgreSQL + a bucket, or one
SQLite file + one directory on a single machine), and ``serve --workers N``."""

from __future__ import annotations

import asyncio
import hashlib
import os
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest
from sqlalchemy import func, select, update

from cargobay.services.registry import open_blob_store
from cargobay.settings import Settings
from cargobay.storage.db.database import Database
from cargobay.storage.db.tables import blobs, namespaces
from tests.e2e.server import Server

DUPLICATE = {"message": "400 Bad request - Duplicate package is not allowed"}


def generic(server: Server, project: str, rest: str) -> str:
    return f"{server.api}/projects/{project}/packages/generic/{rest}"


def auth(token: str) -> dict[str, str]:
    return {"PRIVATE-TOKEN": token}


def database_url(server: Server) -> str:
    return server.env.get("CARGOBAY_DATABASE_URL") or f"sqlite:///{server.data_dir / 'cargobay.db'}"


def run_sql(server: Server, work: Callable[..., object]) -> object:
    """Run ``await work(conn)`` in a write transaction on the servers' database."""

    async def main() -> object:
        database = Database(database_url(server))
        try:
            async with database.write() as conn:
                return await work(conn)  # type: ignore[misc]
        finally:
            await database.dispose()

    return asyncio.run(main())


def store_settings(server: Server) -> Settings:
    values: dict[str, Any] = {k.removeprefix("CARGOBAY_").lower(): v for k, v in server.env.items()}
    return Settings(**{k: v for k, v in values.items() if k in Settings.model_fields})


def stored_objects(server: Server) -> list[str]:
    async def scan() -> list[str]:
        store = open_blob_store(store_settings(server))
        try:
            return (await store.inventory()).stored
        finally:
            await store.close()

    return asyncio.run(scan())


@pytest.fixture
def pair(
    make_server: Callable[..., Server], backend: str, tmp_path: Path
) -> Iterator[tuple[Server, Server, str, str]]:
    """Two servers on one registry, an administrator token and a project id. On
    PostgreSQL + S3 each has its own data directory (nothing local is shared); on SQLite
    they share the data directory, as two processes on one machine would."""
    one = make_server(tmp_path / "one")
    two = make_server(tmp_path / ("one" if backend == "sqlite-local" else "two"))
    token = one.cli("admin", "bootstrap")
    project = one.cli("admin", "create-project", "root", "demo")
    one.start()
    try:
        two.start()
        try:
            yield one, two, token, project
        finally:
            two.stop()
    finally:
        one.stop()


def test_uploads_through_one_server_are_served_and_listed_by_the_other(
    pair: tuple[Server, Server, str, str],
) -> None:
    one, two, token, project = pair
    body = os.urandom(3 * 1024 * 1024 + 17)
    put = httpx.put(generic(one, project, "app/1.0.0/app.bin"), content=body, headers=auth(token))
    assert put.status_code == 201, put.text

    got = httpx.get(generic(two, project, "app/1.0.0/app.bin"), headers=auth(token))
    assert got.status_code == 200
    assert got.content == body
    assert got.headers["x-checksum-sha256"] == hashlib.sha256(body).hexdigest()

    listed = httpx.get(f"{two.api}/projects/{project}/packages", headers=auth(token)).json()
    assert [(p["name"], p["version"]) for p in listed] == [("app", "1.0.0")]
    files = httpx.get(
        f"{two.api}/projects/{project}/packages/{listed[0]['id']}/package_files",
        headers=auth(token),
    ).json()
    assert [(f["file_name"], f["size"]) for f in files] == [("app.bin", len(body))]
    assert files[0]["file_sha256"] == hashlib.sha256(body).hexdigest()

    # And the other way round, with a Range request on the way back.
    small = b"second file " * 100
    assert (
        httpx.put(
            generic(two, project, "app/1.0.0/notes.txt"), content=small, headers=auth(token)
        ).status_code
        == 201
    )
    part = httpx.get(
        generic(one, project, "app/1.0.0/notes.txt"),
        headers={**auth(token), "Range": "bytes=7-10"},
    )
    assert (part.status_code, part.content) == (206, small[7:11])


def race(urls: list[str], bodies: list[bytes], token: str) -> list[httpx.Response]:
    """PUT each body to its URL at the same moment: every request sends its headers and a
    first chunk, then all send the rest together, so both uploads pass the early
    duplicate check and meet at the final one."""
    barrier = threading.Barrier(len(urls))

    def upload(url: str, body: bytes) -> httpx.Response:
        def chunks() -> Iterator[bytes]:
            yield body[:1024]
            barrier.wait(timeout=30)
            yield body[1024:]

        return httpx.put(
            url,
            content=chunks(),
            headers={**auth(token), "Content-Length": str(len(body))},
            timeout=60,
        )

    with ThreadPoolExecutor(len(urls)) as pool:
        return list(pool.map(upload, urls, bodies))


def test_concurrent_same_name_uploads_through_both_servers_exactly_one_wins(
    pair: tuple[Server, Server, str, str], backend: str
) -> None:
    one, two, token, project = pair
    assert (
        httpx.put(
            generic(one, project, "app/1.0.0/seed.bin"), content=b"seed", headers=auth(token)
        ).status_code
        == 201
    )

    async def forbid_duplicates(conn: object) -> None:
        await conn.execute(  # type: ignore[attr-defined]
            update(namespaces)
            .where(namespaces.c.full_path == "root")
            .values(generic_duplicates_allowed=False)
        )

    run_sql(one, forbid_duplicates)

    # A new package (both race to create it) and then files of an existing package.
    for rest in ["fresh/1.0.0/tool.bin", *(f"app/1.0.0/race-{i}.bin" for i in range(4))]:
        bodies = [os.urandom(256 * 1024), os.urandom(256 * 1024)]
        answers = race([generic(one, project, rest), generic(two, project, rest)], bodies, token)
        statuses = sorted(a.status_code for a in answers)
        assert statuses == [201, 400], [(a.status_code, a.text) for a in answers]
        loser = next(a for a in answers if a.status_code == 400)
        assert loser.json() == DUPLICATE
        winner = bodies[[a.status_code for a in answers].index(201)]
        for server in (one, two):
            got = httpx.get(generic(server, project, rest), headers=auth(token))
            assert got.content == winner

    listed = httpx.get(
        f"{two.api}/projects/{project}/packages", params={"order_by": "name"}, headers=auth(token)
    ).json()
    assert [(p["name"], p["version"]) for p in listed] == [("app", "1.0.0"), ("fresh", "1.0.0")]
    files = httpx.get(
        f"{one.api}/projects/{project}/packages/{listed[0]['id']}/package_files",
        headers=auth(token),
    ).json()
    assert sorted(f["file_name"] for f in files) == [
        "race-0.bin",
        "race-1.bin",
        "race-2.bin",
        "race-3.bin",
        "seed.bin",
    ]

    if backend == "pg-s3":
        # The losers' bytes were uploaded too: none of them is left in the bucket.
        async def blob_rows(conn: object) -> object:
            return (await conn.execute(select(func.count()).select_from(blobs))).scalar()  # type: ignore[attr-defined]

        assert len(stored_objects(one)) == run_sql(one, blob_rows) == 6


def test_serve_with_several_workers(make_server: Callable[..., Server]) -> None:
    server = make_server()
    token = server.cli("admin", "bootstrap")
    project = server.cli("admin", "create-project", "root", "demo")
    server.start("--workers", "2")
    try:
        assert server.proc is not None
        workers = psutil.Process(server.proc.pid).children(recursive=True)
        assert len(workers) >= 2, [w.cmdline() for w in workers]

        bodies = {f"f{i}.bin": os.urandom(100_000 + i) for i in range(12)}

        def round_trip(name: str) -> bytes:
            url = generic(server, project, f"many/1.0.0/{name}")
            assert httpx.put(url, content=bodies[name], headers=auth(token)).status_code == 201
            return httpx.get(url, headers=auth(token)).content

        with ThreadPoolExecutor(4) as pool:
            assert list(pool.map(round_trip, bodies)) == list(bodies.values())
        listed = httpx.get(f"{server.api}/projects/{project}/packages", headers=auth(token))
        (package,) = listed.json()
        files = httpx.get(
            f"{server.api}/projects/{project}/packages/{package['id']}/package_files",
            params={"per_page": 100},
            headers=auth(token),
        ).json()
        assert sorted(f["file_name"] for f in files) == sorted(bodies)
    finally:
        server.stop()

"""A real server under abuse: clients that vanish mid-upload, ``kill -9`` in the middle of
a large upload, racing first uploads, and a 5 GiB round trip in bounded memory."""

from __future__ import annotations

import asyncio
import hashlib
import os
import shutil
import signal
import socket
import struct
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from typing import Any, TypeVar

import httpx
import psutil
import pytest
from sqlalchemy import text

from cargobay.services.registry import open_blob_store
from cargobay.settings import Settings
from cargobay.storage.blobs.base import BlobLocation, BlobStore, Inventory
from cargobay.storage.db.database import Connection, Database
from tests.e2e.server import Server

T = TypeVar("T")

MIB = 1024**2
GIB = 1024**3


def create_project(server: Server, path: str = "demo") -> str:
    return server.cli("admin", "create-project", "root", path)


def file_url(server: Server, project: str, rest: str) -> str:
    return f"{server.api}/projects/{project}/packages/generic/{rest}"


def auth(server: Server) -> dict[str, str]:
    return {"PRIVATE-TOKEN": server.token}


def look(server: Server, work: Callable[[Connection, BlobStore], Awaitable[T]]) -> T:
    """Look at what the server keeps, as an operator would: its database and its blob
    store, opened with the server's own settings (SQLite + directory, or PostgreSQL + S3)."""
    values = {k.removeprefix("CARGOBAY_").lower(): v for k, v in server.env.items()}
    settings = Settings.model_validate(
        {k: v for k, v in values.items() if k in Settings.model_fields}
    )

    async def main() -> T:
        database = Database(settings.resolved_database_url())
        store = open_blob_store(settings)
        try:
            async with database.read() as conn:
                return await work(conn, store)
        finally:
            await store.close()
            await database.dispose()

    return asyncio.run(main())


def rows(server: Server, sql: str) -> list[tuple[Any, ...]]:
    async def work(conn: Connection, _store: BlobStore) -> list[tuple[Any, ...]]:
        return [tuple(row) for row in await conn.execute(text(sql))]

    return look(server, work)


def inventory(server: Server) -> Inventory:
    """Blobs stored, and uploads in progress (local temp files, S3 multipart uploads)."""

    async def work(_conn: Connection, store: BlobStore) -> Inventory:
        return await store.inventory()

    return look(server, work)


def local_temp_bytes(server: Server) -> int:
    total = 0
    tmp = server.data_dir / "blobs" / "tmp"
    for path in tmp.iterdir() if tmp.is_dir() else []:
        with suppress(FileNotFoundError):
            total += path.stat().st_size
    return total


def wait_for(condition: Callable[[], object], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return bool(condition())


def assert_round_trip(server: Server, project: str, rest: str, body: bytes) -> None:
    put = httpx.put(file_url(server, project, rest), content=body, headers=auth(server))
    assert put.status_code == 201, put.text
    get = httpx.get(file_url(server, project, rest), headers=auth(server))
    assert get.status_code == 200
    assert get.content == body


# --------------------------------------------------------------------------- (a)


def test_a_client_that_disconnects_mid_upload_leaves_nothing_behind(server: Server) -> None:
    project = create_project(server)
    path = f"/api/v4/projects/{project}/packages/generic/dropped/1.0.0/big.bin"
    head = (
        f"PUT {path} HTTP/1.1\r\n"
        f"Host: 127.0.0.1:{server.port}\r\n"
        f"PRIVATE-TOKEN: {server.token}\r\n"
        f"Content-Length: {GIB}\r\n"
        "\r\n"
    ).encode()

    for how in ("close", "reset"):
        sock = socket.create_connection(("127.0.0.1", server.port))
        try:
            sock.sendall(head)
            # More than one S3 part (16 MiB), so S3 has a multipart upload under way too.
            sock.sendall(os.urandom(40 * MIB))
            # The body is really being stored...
            assert wait_for(lambda: inventory(server).in_flight), f"{how}: no upload under way"
            if how == "reset":
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        finally:
            sock.close()
        # ...and goes away with the client: no temp file, no multipart upload, no blob.
        assert wait_for(lambda: not inventory(server).in_flight), f"{how}: {inventory(server)}"
        assert inventory(server).stored == []
        assert rows(server, "SELECT count(*) FROM package_files") == [(0,)]
        assert rows(server, "SELECT count(*) FROM packages") == [(0,)]

    # The server still serves.
    assert_round_trip(server, project, "kept/1.0.0/small.bin", os.urandom(100_000))
    assert rows(server, "SELECT file_name FROM package_files") == [("small.bin",)]


# --------------------------------------------------------------------------- (b)


def test_kill_9_during_a_large_upload_then_restart(
    make_server: Callable[..., Server], backend: str
) -> None:
    server = make_server()
    server.token = server.cli("admin", "bootstrap")
    server.start()
    try:
        project = create_project(server)
        before = os.urandom(300_000)
        assert_round_trip(server, project, "app/1.0.0/before.bin", before)

        stop = threading.Event()
        block = os.urandom(MIB)

        def body() -> Iterator[bytes]:
            for _ in range(4 * 1024):
                if stop.is_set():
                    return
                yield block

        def upload() -> None:
            with suppress(Exception):  # the server dies under it: any error will do
                httpx.put(
                    file_url(server, project, "app/1.0.0/huge.bin"),
                    content=body(),
                    headers={**auth(server), "Content-Length": str(4 * GIB)},
                    timeout=60,
                )

        def well_under_way() -> bool:
            if backend == "sqlite-local":
                return local_temp_bytes(server) >= 64 * MIB
            return bool(inventory(server).in_flight)  # parts are going up to S3

        uploader = threading.Thread(target=upload)
        uploader.start()
        try:
            assert wait_for(well_under_way, timeout=60)
            server.stop(signal.SIGKILL)
        finally:
            stop.set()
            uploader.join(timeout=60)
        assert not uploader.is_alive()

        server.start()

        if backend == "sqlite-local":
            assert rows(server, "PRAGMA integrity_check") == [("ok",)]
        files = rows(
            server,
            "SELECT f.file_name, f.size, f.file_sha256, b.storage_key FROM package_files f "
            "JOIN blobs b ON b.sha256 = f.file_sha256",
        )
        assert [name for name, *_ in files] == ["before.bin"]

        async def stored_sizes(_conn: Connection, store: BlobStore) -> list[int | None]:
            return [await store.size(BlobLocation(sha, key)) for _, _, sha, key in files]

        assert look(server, stored_sizes) == [size for _, size, _, _ in files]
        get = httpx.get(file_url(server, project, "app/1.0.0/before.bin"), headers=auth(server))
        assert get.content == before
        huge = httpx.get(file_url(server, project, "app/1.0.0/huge.bin"), headers=auth(server))
        assert huge.status_code == 404
        assert_round_trip(server, project, "app/1.0.0/after.bin", os.urandom(300_000))
    finally:
        server.stop()
        shutil.rmtree(server.data_dir / "blobs", ignore_errors=True)


# --------------------------------------------------------------------------- (c)


def test_ten_concurrent_first_uploads_make_one_package(server: Server) -> None:
    project = create_project(server)
    bodies = {f"part-{i}.bin": os.urandom(512 * 1024) for i in range(10)}
    start = threading.Barrier(len(bodies))

    def upload(name: str) -> int:
        start.wait()
        response = httpx.put(
            file_url(server, project, f"fleet/1.0.0/{name}"),
            content=bodies[name],
            headers=auth(server),
            timeout=60,
        )
        return response.status_code

    with ThreadPoolExecutor(len(bodies)) as pool:
        statuses = list(pool.map(upload, bodies))

    assert statuses == [201] * len(bodies)
    listed = httpx.get(f"{server.api}/projects/{project}/packages", headers=auth(server)).json()
    assert [(p["name"], p["version"]) for p in listed] == [("fleet", "1.0.0")]
    files = httpx.get(
        f"{server.api}/projects/{project}/packages/{listed[0]['id']}/package_files",
        params={"per_page": 100},
        headers=auth(server),
    ).json()
    assert sorted(f["file_name"] for f in files) == sorted(bodies)
    assert rows(server, "SELECT count(*) FROM packages") == [(1,)]
    for name, body in bodies.items():
        got = httpx.get(file_url(server, project, f"fleet/1.0.0/{name}"), headers=auth(server))
        assert got.content == body


# --------------------------------------------------------------------------- (d)


class RssSampler(threading.Thread):
    """Peak resident memory of a process and all its children, sampled every 0.2 s."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.root = psutil.Process(pid)
        self.peak = 0
        self.samples = 0
        self.done = threading.Event()

    def sample(self) -> None:
        total = 0
        for process in [self.root, *self.root.children(recursive=True)]:
            with suppress(psutil.NoSuchProcess):
                total += process.memory_info().rss
        self.peak = max(self.peak, total)
        self.samples += 1

    def run(self) -> None:
        while not self.done.is_set():
            self.sample()
            self.done.wait(0.2)

    def stop(self) -> int:
        self.done.set()
        self.join()
        self.sample()
        return self.peak


MEMORY_BUDGET = 200e6  # bytes: resident memory of the serve process and its children


@pytest.mark.slow
# The embedded default only: tests/e2e/test_s3_large.py takes 6 GiB through PostgreSQL + S3.
@pytest.mark.backends("sqlite-local")
def test_five_gib_upload_and_download_in_bounded_memory(
    make_server: Callable[..., Server],
    backend: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    size = 5 * GIB
    # GitLab's default limit is 5 GiB and refuses a file of exactly that size (>=).
    server = make_server(max_file_size=str(6 * GIB))
    server.token = server.cli("admin", "bootstrap")
    server.start()
    try:
        project = create_project(server)
        url = file_url(server, project, "dataset/1.0.0/five.bin")
        assert server.proc is not None
        sampler = RssSampler(server.proc.pid)
        sampler.sample()
        idle = sampler.peak
        sampler.start()

        sent = hashlib.sha256()
        block = bytearray(os.urandom(MIB))

        def body() -> Iterator[bytes]:
            for i in range(size // MIB):
                block[:8] = i.to_bytes(8, "big")  # every MiB different
                chunk = bytes(block)
                sent.update(chunk)
                yield chunk

        started = time.monotonic()
        put = httpx.put(
            url,
            content=body(),
            headers={**auth(server), "Content-Length": str(size)},
            timeout=600,
        )
        upload_seconds = time.monotonic() - started
        assert put.status_code == 201, put.text

        received = hashlib.sha256()
        count = 0
        started = time.monotonic()
        with httpx.stream("GET", url, headers=auth(server), timeout=600) as got:
            assert got.status_code == 200
            assert got.headers["content-length"] == str(size)
            assert got.headers["x-checksum-sha256"] == sent.hexdigest()
            for chunk in got.iter_raw(MIB):
                received.update(chunk)
                count += len(chunk)
        download_seconds = time.monotonic() - started
        peak = sampler.stop()

        with capsys.disabled():
            print(
                f"\n5 GiB round trip on {backend}: upload {upload_seconds:.1f} s "
                f"({size / MIB / upload_seconds:.0f} MiB/s), download {download_seconds:.1f} s "
                f"({size / MIB / download_seconds:.0f} MiB/s), peak server RSS "
                f"{peak / 1e6:.1f} MB (idle {idle / 1e6:.1f} MB) over {sampler.samples} "
                "samples of the serve process and its children"
            )
        assert count == size
        assert received.hexdigest() == sent.hexdigest()
        assert peak < MEMORY_BUDGET, f"peak RSS {peak / 1e6:.1f} MB, idle {idle / 1e6:.1f} MB"
    finally:
        server.stop()
        shutil.rmtree(server.data_dir / "blobs", ignore_errors=True)

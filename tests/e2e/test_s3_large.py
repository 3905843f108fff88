"""A file larger than S3's 5 GB single-request limit (where GitLab users meet 500s), up
and down through a real server on PostgreSQL + S3, with the server's memory flat."""

from __future__ import annotations

import hashlib
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import suppress

import httpx
import psutil
import pytest

from tests.e2e.server import Server

MIB = 1024**2
GIB = 1024**3
SIZE = 6 * GIB
RSS_LIMIT = 200 * 1000**2


class PeakRss(threading.Thread):
    """Peak resident memory of a process tree (granian and its workers), every 0.1 s."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.root = psutil.Process(pid)
        self.peak = 0
        self.done = threading.Event()

    def sample(self) -> None:
        total = 0
        for process in [self.root, *self.root.children(recursive=True)]:
            with suppress(psutil.NoSuchProcess):
                total += process.memory_info().rss
        self.peak = max(self.peak, total)

    def run(self) -> None:
        while not self.done.wait(0.1):
            self.sample()

    def stop(self) -> int:
        self.done.set()
        self.join()
        return self.peak


def body(block: bytes, digest: hashlib._Hash) -> Iterator[bytes]:
    """SIZE bytes: a random block, each copy made unique by its index."""
    for index in range(SIZE // len(block)):
        chunk = index.to_bytes(8, "big") + block[8:]
        digest.update(chunk)
        yield chunk


@pytest.mark.slow
@pytest.mark.backends("pg-s3")
def test_six_gib_through_s3_with_flat_server_memory(
    make_server: Callable[..., Server], capsys: pytest.CaptureFixture[str]
) -> None:
    server = make_server(max_file_size="0")
    token = server.cli("admin", "bootstrap")
    project = server.cli("admin", "create-project", "root", "big")
    server.start()
    try:
        assert server.proc is not None
        url = f"{server.api}/projects/{project}/packages/generic/dataset/1.0.0/six.bin"
        headers = {"PRIVATE-TOKEN": token}
        rss = PeakRss(server.proc.pid)
        rss.sample()
        idle = rss.peak
        rss.start()

        sent = hashlib.sha256()
        block = os.urandom(4 * MIB)
        started = time.monotonic()
        put = httpx.put(
            url,
            content=body(block, sent),
            headers={**headers, "Content-Length": str(SIZE)},
            timeout=600,
        )
        upload_seconds = time.monotonic() - started
        assert put.status_code == 201, put.text

        received = hashlib.sha256()
        count = 0
        started = time.monotonic()
        with httpx.stream("GET", url, headers=headers, timeout=600) as response:
            assert response.status_code == 200
            assert response.headers["content-length"] == str(SIZE)
            assert response.headers["x-checksum-sha256"] == sent.hexdigest()
            for chunk in response.iter_bytes(4 * MIB):
                received.update(chunk)
                count += len(chunk)
        download_seconds = time.monotonic() - started
        peak = rss.stop()

        assert count == SIZE
        assert received.hexdigest() == sent.hexdigest()
        with capsys.disabled():
            print(
                f"\n6 GiB through S3: upload {SIZE / upload_seconds / 1e6:.0f} MB/s, "
                f"download {SIZE / download_seconds / 1e6:.0f} MB/s, server peak RSS "
                f"{peak / 1e6:.0f} MB (idle {idle / 1e6:.0f} MB)"
            )
        assert peak < RSS_LIMIT, f"peak RSS {peak / 1e6:.0f} MB"
    finally:
        server.stop()

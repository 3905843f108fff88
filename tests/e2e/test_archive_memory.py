"""A 2 GiB package as one zip through a real server, on the local store and on S3, with
the server's memory flat: members stream from the store a MiB at a time."""

from __future__ import annotations

import os
from collections.abc import Iterator

import httpx
import pytest

from tests.e2e.server import Server
from tests.e2e.test_s3_large import GIB, MIB, RSS_LIMIT, PeakRss

FILES = 2
FILE_SIZE = GIB


def body(seed: int) -> Iterator[bytes]:
    block = os.urandom(MIB)
    for index in range(FILE_SIZE // MIB):
        yield seed.to_bytes(4, "big") + index.to_bytes(8, "big") + block[12:]


@pytest.mark.slow
def test_a_2_gib_archive_streams_in_constant_memory(server: Server) -> None:
    server.cli("admin", "create-project", "root", "big")
    api = f"{server.api}/projects/root%2Fbig/packages/generic/big/1.0"
    headers = {"PRIVATE-TOKEN": server.token}
    with httpx.Client(timeout=600) as client:
        for seed in range(FILES):
            response = client.put(f"{api}/part-{seed}.bin", content=body(seed), headers=headers)
            assert response.status_code == 201, response.text
        assert server.proc is not None
        rss = PeakRss(server.proc.pid)
        rss.start()
        try:
            received = 0
            tail = b""
            with client.stream("GET", f"{api}/~archive.zip", headers=headers) as response:
                assert response.status_code == 200
                for chunk in response.iter_bytes(MIB):
                    received += len(chunk)
                    tail = (tail + chunk)[-1024:]
        finally:
            peak = rss.stop()
    assert received > FILES * FILE_SIZE
    assert b"PK\x05\x06" in tail  # the end of central directory record
    assert peak < RSS_LIMIT, f"peak server RSS {peak / 1e6:.0f} MB"

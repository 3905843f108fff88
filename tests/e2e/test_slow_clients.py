"""Slow and stalled upload bodies against a real server: a stalled body is answered 408
and leaves nothing, trickling clients do not hold the upload slots others need, and an
upload that cannot get a slot in time is answered 503 with Retry-After (issue 13)."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress

import httpx

from tests.e2e.server import Server
from tests.e2e.test_robustness import inventory, wait_for

KIB = 1024


def started(make_server: Callable[..., Server], **settings: str) -> tuple[Server, str]:
    server = make_server(**settings)
    server.token = server.cli("admin", "bootstrap")
    project = server.cli("admin", "create-project", "root", "slow")
    server.start()
    return server, project


def upload_head(server: Server, project: str, rest: str, length: int) -> bytes:
    path = f"/api/v4/projects/{project}/packages/generic/{rest}"
    return (
        f"PUT {path} HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
        f"PRIVATE-TOKEN: {server.token}\r\n"
        f"Content-Length: {length}\r\n\r\n"
    ).encode()


def response_of(sock: socket.socket, timeout: float) -> bytes:
    sock.settimeout(timeout)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def listed(server: Server, project: str) -> list[str]:
    got = httpx.get(
        f"{server.api}/projects/{project}/packages",
        headers={"PRIVATE-TOKEN": server.token},
    )
    assert got.status_code == 200, got.text
    return [package["name"] for package in got.json()]


def temp_files(server: Server) -> list[str]:
    """Uploads in flight: local temp files, or S3 multipart uploads."""
    return inventory(server).in_flight


@contextmanager
def tricklers(
    server: Server, project: str, count: int, *, every: float = 2.0, size: int = KIB
) -> Iterator[list[socket.socket]]:
    """``count`` uploads that send ``size`` bytes every ``every`` seconds of a body
    announced as 100 MiB, until the block ends."""
    socks = []
    for i in range(count):
        sock = socket.create_connection(("127.0.0.1", server.port))
        sock.sendall(upload_head(server, project, f"trickle/1.0.0/t{i}.bin", 100 * 1024 * KIB))
        socks.append(sock)
    stop = threading.Event()

    def trickle() -> None:
        while not stop.wait(every):
            for sock in socks:
                with suppress(OSError):
                    sock.sendall(os.urandom(size))

    thread = threading.Thread(target=trickle, daemon=True)
    thread.start()
    try:
        yield socks
    finally:
        stop.set()
        thread.join()
        for sock in socks:
            sock.close()


def test_a_stalled_body_is_answered_408_and_leaves_nothing(
    make_server: Callable[..., Server],
) -> None:
    server, project = started(make_server, upload_idle_seconds="1")
    try:
        with socket.create_connection(("127.0.0.1", server.port)) as sock:
            sock.sendall(upload_head(server, project, "stalled/1.0.0/s.bin", 100 * KIB))
            sock.sendall(os.urandom(10 * KIB))
            t = time.monotonic()
            answer = response_of(sock, timeout=10)
            waited = time.monotonic() - t
        assert answer.startswith(b"HTTP/1.1 408"), answer
        assert b"408 Request Timeout" in answer
        assert 0.8 < waited < 5, waited
        assert listed(server, project) == []
        assert temp_files(server) == []
        assert "Traceback" not in server.log()
    finally:
        server.stop()


def test_trickling_uploads_do_not_hold_up_others(make_server: Callable[..., Server]) -> None:
    # 20 clients trickling their bodies (1 KiB every 2 s), against 4 slots: neither a
    # small upload nor a 3 MiB one waits for them.
    server, project = started(make_server, concurrent_uploads="4")
    headers = {"PRIVATE-TOKEN": server.token}
    base = f"{server.api}/projects/{project}/packages/generic"
    try:
        with tricklers(server, project, 20):
            time.sleep(2.5)
            for rest, size in (("normal/1.0.0/small.bin", KIB), ("normal/1.0.0/big.bin", 3 << 20)):
                t = time.monotonic()
                put = httpx.put(f"{base}/{rest}", content=os.urandom(size), headers=headers)
                elapsed = time.monotonic() - t
                assert put.status_code == 201, put.text
                assert elapsed < 1.0, (rest, elapsed)
        assert listed(server, project) == ["normal"]
    finally:
        server.stop()


def test_an_upload_that_cannot_get_a_slot_in_time_is_answered_503(
    make_server: Callable[..., Server],
) -> None:
    server, project = started(make_server, concurrent_uploads="1", upload_queue_seconds="1")
    headers = {"PRIVATE-TOKEN": server.token}
    base = f"{server.api}/projects/{project}/packages/generic"
    try:
        # A client sending steadily (16 KiB every 5 ms) keeps the only slot. It keeps it
        # only while its chunks come less than admission.YIELD_AFTER (50 ms) apart: on a
        # loaded machine its thread can be late, and then the queued upload rightly gets
        # the slot and is stored (201). So up to three tries, each with its own name.
        for attempt in range(3):
            with tricklers(server, project, 1, every=0.005, size=16 * KIB):
                time.sleep(0.5)
                with socket.create_connection(("127.0.0.1", server.port)) as sock:
                    rest = f"queued-{attempt}/1.0.0/q.bin"
                    sock.sendall(upload_head(server, project, rest, 256 * KIB))
                    sock.sendall(os.urandom(256 * KIB))
                    t = time.monotonic()
                    answer = response_of(sock, timeout=10)
                    waited = time.monotonic() - t
            if not answer.startswith(b"HTTP/1.1 201"):
                break
        assert answer.startswith(b"HTTP/1.1 503"), answer
        assert b"retry-after: 1" in answer.lower()
        assert 0.8 < waited < 5, waited
        # The steady client is gone, and its slot with it.
        put = httpx.put(f"{base}/after/1.0.0/a.bin", content=os.urandom(256 * KIB), headers=headers)
        assert put.status_code == 201, put.text
        stored = sorted(listed(server, project))
        assert stored == ["after", *(f"queued-{n}" for n in range(attempt))]
        # The steady client's upload is dropped when its connection is seen to close,
        # which on S3 is a multipart abort that may still be under way here.
        assert wait_for(lambda: temp_files(server) == []), temp_files(server)
    finally:
        server.stop()

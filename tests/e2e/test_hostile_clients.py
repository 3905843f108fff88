"""Clients that break the body's framing or guess tokens, against a real server process
(issue 19): a client abort is an info line and a 400 where an answer can still be sent,
never a 500 or a traceback, and leaves nothing behind; token guessing is throttled."""

from __future__ import annotations

import socket
from collections.abc import Callable

import httpx
import pytest

from tests.e2e.server import Server
from tests.e2e.test_robustness import create_project, inventory, rows, wait_for


def _exchange(server: Server, head: str, body: bytes) -> bytes:
    """Send a request, half-close, and read whatever answer comes."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(head.encode() + body)
        sock.shutdown(socket.SHUT_WR)
        answer = b""
        try:
            while chunk := sock.recv(65536):
                answer += chunk
        except (ConnectionResetError, TimeoutError):
            pass
    return answer


BROKEN_BODIES = {
    "content-length cut short": ("Content-Length: 1000000\r\n", b"abc"),
    "chunk size zz": ("Transfer-Encoding: chunked\r\n", b"zz\r\nabc\r\n0\r\n\r\n"),
    "chunk size overflows": (
        "Transfer-Encoding: chunked\r\n",
        b"ffffffffffffffffffffffff\r\nabc\r\n0\r\n\r\n",
    ),
    "no last chunk": ("Transfer-Encoding: chunked\r\n", b"3\r\nabc\r\n"),
}


def test_client_aborts_are_logged_as_such_and_leave_nothing(server: Server) -> None:
    project = create_project(server)
    for label, (framing, body) in BROKEN_BODIES.items():
        path = f"/api/v4/projects/{project}/packages/generic/cut/1.0.0/file.bin"
        head = (
            f"PUT {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"PRIVATE-TOKEN: {server.token}\r\n"
            f"{framing}Connection: close\r\n\r\n"
        )
        answer = _exchange(server, head, body)
        status = answer.split(b" ", 2)[1] if answer.startswith(b"HTTP/") else b""
        assert status in (b"", b"400"), f"{label}: {answer[:200]!r}"
    assert wait_for(lambda: not inventory(server).in_flight), inventory(server)
    assert inventory(server).stored == []
    assert rows(server, "SELECT count(*) FROM package_files") == [(0,)]
    assert rows(server, "SELECT count(*) FROM packages") == [(0,)]
    log = server.log()
    assert "Traceback" not in log
    assert "500 Internal Server Error" not in log
    assert "unhandled error" not in log
    assert "client aborted PUT /api/v4/projects/{id}/packages/generic/" in log
    # The server still takes a whole upload.
    put = httpx.put(
        f"{server.api}/projects/{project}/packages/generic/cut/1.0.0/file.bin",
        content=b"whole",
        headers={"PRIVATE-TOKEN": server.token},
    )
    assert put.status_code == 201


@pytest.mark.backends("sqlite-local")
def test_token_guessing_is_throttled_per_address(make_server: Callable[..., Server]) -> None:
    server = make_server(auth_ban_max_failures="5", auth_ban_window_seconds="60")
    server.token = server.cli("admin", "bootstrap")
    server.start()
    try:
        project = create_project(server)
        url = f"{server.api}/projects/{project}/packages"
        good = {"PRIVATE-TOKEN": server.token}
        small = f"{url}/generic/tool/1.0.0/small.bin"  # the fast lane's kind of file
        assert httpx.put(small, content=b"small", headers=good).status_code == 201
        assert httpx.get(small, headers=good).content == b"small"
        with httpx.Client() as client:
            statuses = [
                client.get(url, headers={"PRIVATE-TOKEN": f"glpat-guess{i:04d}"}).status_code
                for i in range(8)
            ]
            assert statuses[:5] == [401] * 5
            assert statuses[5:] == [429] * 3
            banned = client.get(url, headers={"PRIVATE-TOKEN": "glpat-guess9999"})
            assert banned.status_code == 429
            assert int(banned.headers["Retry-After"]) > 0
            assert banned.json() == {"message": "429 Too Many Requests - Retry later"}
            # From the banned address even the right token waits (it may be a guess)...
            assert client.get(url, headers=good).status_code == 429
            assert client.get(small, headers=good).status_code == 429
            # ...and anonymous requests, which guess nothing, still get their answer.
            assert client.get(f"{server.base_url}/-/health").status_code == 200
        # Another address (a trusted proxy forwards it) is not slowed.
        other = {**good, "X-Forwarded-For": "198.51.100.7"}
        assert httpx.get(url, headers=other).status_code == 200
        assert httpx.get(small, headers=other).content == b"small"
        wrong_elsewhere = {"PRIVATE-TOKEN": "glpat-nope", "X-Forwarded-For": "198.51.100.8"}
        assert httpx.get(url, headers=wrong_elsewhere).status_code == 401
        assert "Traceback" not in server.log()
    finally:
        server.stop()

"""Cargobay behind the nginx of docs/deployment.md, with CARGOBAY_ACCEL_REDIRECT: nginx
sends the bytes of large local downloads, Cargobay decides everything else."""

from __future__ import annotations

import hashlib
import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.api.generic_support import FILE_NOT_FOUND
from tests.e2e.nginx import nginx_in_front
from tests.e2e.server import Server, free_port, make_server

pytestmark = pytest.mark.backends("sqlite-local")  # nginx reads the local store

BIG = os.urandom(3 * 1024 * 1024 + 7)
SMALL = os.urandom(1000)
SHA = hashlib.sha256(BIG).hexdigest()
# The headers of a file response, whoever sends the bytes.
FILE_HEADERS = (
    "content-type",
    "content-length",
    "content-disposition",
    "content-transfer-encoding",
    "x-checksum-sha256",
    "etag",
    "last-modified",
    "cache-control",
    "accept-ranges",
    "x-frame-options",
    "x-content-type-options",
)


@pytest.fixture(scope="module")
def front(
    tmp_path_factory: pytest.TempPathFactory, module_backend_env: dict[str, str]
) -> Iterator[tuple[Server, str, dict[str, str]]]:
    """A server with accel_redirect on, nginx in front of it, and root's token header."""
    tmp = tmp_path_factory.mktemp("behind-nginx")
    server = make_server(tmp, accel_redirect="/_cargobay/blobs/", **module_backend_env)
    token = server.cli("admin", "bootstrap")
    server.cli("admin", "create-project", "root", "tools")
    server.start()
    try:
        with nginx_in_front(
            tmp / "nginx", free_port(), server.port, server.data_dir / "blobs"
        ) as url:
            auth = {"PRIVATE-TOKEN": token}
            generic = f"{url}/api/v4/projects/root%2Ftools/packages/generic/tool/1.0"
            for name, body in (("big.bin", BIG), ("small.bin", SMALL)):
                put = httpx.put(f"{generic}/{name}", content=body, headers=auth)
                assert put.status_code == 201, put.text
            yield server, generic, auth
    finally:
        server.stop()


def direct(server: Server, front_url: str) -> str:
    """The same URL on Cargobay itself, not through nginx."""
    return f"{server.base_url}/api/v4{front_url.split('/api/v4', 1)[1]}"


def test_nginx_sends_a_large_file_with_cargobays_headers(
    front: tuple[Server, str, dict[str, str]],
) -> None:
    server, generic, auth = front
    through = httpx.get(f"{generic}/big.bin", headers=auth)
    itself = httpx.get(direct(server, f"{generic}/big.bin"), headers=auth)
    assert through.status_code == 200 and through.content == BIG
    assert itself.content == BIG  # no X-Sendfile-Type: Cargobay sends the bytes
    for name in FILE_HEADERS:
        assert through.headers[name] == itself.headers[name], name
    assert through.headers["etag"] == f'"{SHA}"'
    assert "x-accel-redirect" not in through.headers
    assert through.headers.get_list("last-modified") == [itself.headers["last-modified"]]
    # What nginx was handed: the headers and the blob's internal URI, no body.
    handed = httpx.get(
        direct(server, f"{generic}/big.bin"),
        headers={**auth, "X-Sendfile-Type": "X-Accel-Redirect"},
    )
    assert handed.content == b""
    assert handed.headers["x-accel-redirect"] == (
        f"/_cargobay/blobs/sha256/{SHA[:2]}/{SHA[2:4]}/{SHA}"
    )


def test_curl_downloads_through_nginx(
    front: tuple[Server, str, dict[str, str]], tmp_path: Path
) -> None:
    _server, generic, auth = front
    out = tmp_path / "big.bin"
    subprocess.run(
        [
            "curl",
            "--fail",
            "--silent",
            "--show-error",
            "--header",
            f"PRIVATE-TOKEN: {auth['PRIVATE-TOKEN']}",
            "--output",
            str(out),
            f"{generic}/big.bin",
        ],
        check=True,
    )
    assert hashlib.sha256(out.read_bytes()).hexdigest() == SHA


def test_range_head_conditional_and_small_files_are_answered_by_cargobay(
    front: tuple[Server, str, dict[str, str]],
) -> None:
    _server, generic, auth = front
    ranged = httpx.get(f"{generic}/big.bin", headers={**auth, "Range": "bytes=100-199"})
    assert ranged.status_code == 206 and ranged.content == BIG[100:200]
    assert ranged.headers["content-range"] == f"bytes 100-199/{len(BIG)}"
    malformed = httpx.get(f"{generic}/big.bin", headers={**auth, "Range": "bytes=abc"})
    assert malformed.status_code == 416  # GitLab's answer, not nginx's (the whole file)
    head = httpx.head(f"{generic}/big.bin", headers=auth)
    assert head.status_code == 200 and head.headers["content-length"] == str(len(BIG))
    cached = httpx.get(f"{generic}/big.bin", headers={**auth, "If-None-Match": f'"{SHA}"'})
    assert cached.status_code == 304 and cached.content == b""
    assert httpx.get(f"{generic}/small.bin", headers=auth).content == SMALL


def test_refusals_pass_through_and_blobs_are_not_reachable_directly(
    front: tuple[Server, str, dict[str, str]],
) -> None:
    _server, generic, auth = front
    anonymous = httpx.get(f"{generic}/big.bin")
    assert anonymous.status_code == 401
    assert anonymous.json() == {"message": "401 Unauthorized"}
    missing = httpx.get(f"{generic}/nope.bin", headers=auth)
    assert missing.status_code == 404
    assert missing.json() == FILE_NOT_FOUND
    base = generic.split("/api/v4", 1)[0]
    blob = httpx.get(f"{base}/_cargobay/blobs/sha256/{SHA[:2]}/{SHA[2:4]}/{SHA}")
    assert blob.status_code == 404


def audit_addresses(server_api: str, auth: dict[str, str]) -> list[str | None]:
    events = httpx.get(f"{server_api}/projects/root%2Ftools/audit_events", headers=auth).json()
    return [event["details"].get("ip_address") for event in events]


def test_audit_events_record_the_address_nginx_forwards(
    front: tuple[Server, str, dict[str, str]],
) -> None:
    """nginx appends the address it saw to X-Forwarded-For; Cargobay believes its trusted
    proxies (settings.trusted_proxies, loopback by default), so the audit log names the
    client, not the proxy. Here the client says it forwards for 203.0.113.7, and nginx,
    on loopback like the client, is trusted with the rest."""
    _server, generic, auth = front
    put = httpx.put(
        f"{generic}/audited.bin",
        content=b"x",
        headers={**auth, "X-Forwarded-For": "203.0.113.7"},
    )
    assert put.status_code == 201
    api = generic.split("/projects/", 1)[0]
    assert audit_addresses(api, auth)[0] == "203.0.113.7"


def test_x_forwarded_for_from_an_untrusted_peer_is_ignored(
    make_server: Callable[..., Server],
) -> None:
    server = make_server(trusted_proxies="10.9.9.9")
    token = server.cli("admin", "bootstrap")
    server.cli("admin", "create-project", "root", "tools")
    server.start()
    try:
        auth = {"PRIVATE-TOKEN": token}
        url = f"{server.api}/projects/root%2Ftools/packages/generic/tool/1.0/a.bin"
        put = httpx.put(url, content=b"x", headers={**auth, "X-Forwarded-For": "203.0.113.7"})
        assert put.status_code == 201
        assert audit_addresses(server.api, auth)[0] == "127.0.0.1"
    finally:
        server.stop()

"""The curl lines of docs/extensions.md against a real server, on every backend: checksum
assertions (a malformed one refused before curl sends its body), checksum-deploy and
DELETE on the generic URL."""

from __future__ import annotations

import hashlib
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pytest

from tests.e2e.server import Server


@pytest.fixture
def demo(server: Server) -> Iterator[tuple[Server, str]]:
    server.cli("admin", "create-project", "root", "demo")
    yield server, f"{server.api}/projects/root%2Fdemo/packages/generic"


def curl(*args: str) -> tuple[int, dict[str, str], str, str]:
    """(status, the final answer's headers, body, bytes of the body curl sent)."""
    with tempfile.TemporaryDirectory() as scratch:
        head, body = Path(scratch, "head"), Path(scratch, "body")
        done = subprocess.run(
            [
                *("curl", "--silent", "--show-error", "--dump-header", str(head)),
                *("--output", str(body), "--write-out", "%{http_code} %{size_upload}", *args),
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
        status, sent = done.stdout.split()
        headers: dict[str, str] = {}
        for line in head.read_text().splitlines():
            if line.startswith("HTTP/"):
                headers = {}  # the final answer's block counts (a 100 Continue may come first)
            elif ":" in line:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
        return int(status), headers, body.read_text(), sent


def test_a_checksum_asserted_upload_as_the_docs_show_it(
    demo: tuple[Server, str], tmp_path: Path
) -> None:
    server, api = demo
    tool = tmp_path / "tool.tar.gz"
    tool.write_bytes(b"\x1f\x8b release " * 1000)
    sha256 = hashlib.sha256(tool.read_bytes()).hexdigest()
    token = ["--header", f"PRIVATE-TOKEN: {server.token}"]
    status, headers, body, _ = curl(
        *token,
        "--header",
        f"X-Checksum-Sha256: {sha256}",
        "--upload-file",
        str(tool),
        f"{api}/tool/1.0.0/tool.tar.gz",
    )
    assert (status, body) == (201, '{"message":"201 Created"}')
    assert headers["x-checksum-sha256"] == sha256
    assert headers["repr-digest"].startswith("sha-256=:")
    assert headers["x-cargobay-version"]

    # Promote it to 1.0.1 without sending the bytes again.
    status, _, body, sent = curl(
        *token,
        "--request",
        "PUT",
        "--header",
        "X-Checksum-Deploy: true",
        "--header",
        f"X-Checksum-Sha256: {sha256}",
        f"{api}/tool/1.0.1/tool.tar.gz",
    )
    assert (status, sent) == (201, "0")
    download = httpx.get(f"{api}/tool/1.0.1/tool.tar.gz", headers={"PRIVATE-TOKEN": server.token})
    assert download.content == tool.read_bytes()
    status, _, body, _ = curl(
        *token,
        "--request",
        "PUT",
        "--header",
        "X-Checksum-Deploy: true",
        "--header",
        f"X-Checksum-Sha256: {'0' * 64}",
        f"{api}/tool/1.0.1/other.tar.gz",
    )
    assert (status, body) == (404, '{"message":"404 Checksum Not Found"}')

    # Delete one file, then a whole version.
    assert curl(*token, "--request", "DELETE", f"{api}/tool/1.0.0/tool.tar.gz")[0] == 204
    assert curl(*token, f"{api}/tool/1.0.0/tool.tar.gz")[0] == 404
    assert curl(*token, "--request", "DELETE", f"{api}/tool/1.0.1")[0] == 204
    listed = httpx.get(
        f"{server.api}/projects/root%2Fdemo/packages", headers={"PRIVATE-TOKEN": server.token}
    )
    assert listed.json() == []


def test_a_malformed_checksum_is_refused_before_curl_sends_the_body(
    demo: tuple[Server, str], tmp_path: Path
) -> None:
    """curl sends ``Expect: 100-continue`` for a large body and waits: the refusal
    arrives first, so none of the 32 MiB goes up."""
    server, api = demo
    big = tmp_path / "big.bin"
    big.write_bytes(b"\x00" * (32 * 1024 * 1024))
    status, _, body, sent = curl(
        "--header",
        f"PRIVATE-TOKEN: {server.token}",
        "--header",
        "Expect: 100-continue",
        "--expect100-timeout",
        "30",
        "--header",
        "Content-MD5: not-base64",
        "--upload-file",
        str(big),
        f"{api}/tool/1.0.0/big.bin",
    )
    assert (status, body) == (400, '{"error":"Content-MD5 is invalid"}')
    assert int(sent) < 1024 * 1024


def test_a_wrong_checksum_on_a_large_upload_keeps_nothing(
    demo: tuple[Server, str], tmp_path: Path
) -> None:
    server, api = demo
    big = tmp_path / "big.bin"
    big.write_bytes(bytes(range(256)) * (96 * 1024))  # 24 MiB: several S3 parts
    status, _, body, sent = curl(
        "--header",
        f"PRIVATE-TOKEN: {server.token}",
        "--header",
        f"X-Checksum-Sha256: {'a' * 64}",
        "--upload-file",
        str(big),
        f"{api}/tool/1.0.0/big.bin",
    )
    assert status == 400
    assert orjson.loads(body)["message"] == "400 Bad request - Checksum mismatch"
    assert int(sent) == big.stat().st_size
    listed = httpx.get(
        f"{server.api}/projects/root%2Fdemo/packages", headers={"PRIVATE-TOKEN": server.token}
    )
    assert listed.json() == []
    assert "checksum mismatch" in server.log()

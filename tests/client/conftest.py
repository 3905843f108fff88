"""The client against a real ``cargobay serve`` process (tests/e2e's fixtures)."""

from __future__ import annotations

import http.client
import os
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.e2e.conftest import make_server, server
from tests.e2e.server import BIN, Server

__all__ = ["make_server", "server"]


@dataclass
class Run:
    code: int
    out: str
    err: str


def cargobay(env: dict[str, str], *args: str, cwd: Path | None = None) -> Run:
    """The real ``cargobay`` script, as a user runs it."""
    result = subprocess.run(
        [str(BIN / "cargobay"), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        cwd=cwd,
    )
    return Run(result.returncode, result.stdout, result.stderr)


def client_env(srv: Server, project: str = "root/demo", url: str = "") -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CARGOBAY_", "CI_"))}
    env.update(CARGOBAY_URL=url or srv.base_url, CARGOBAY_TOKEN=srv.token)
    # No profile file of the user running the tests (docs/cli.md: config.toml).
    env["XDG_CONFIG_HOME"] = str(Path(tempfile.gettempdir()) / "cargobay-tests-no-config")
    env["CARGOBAY_PROJECT"] = project
    return env


@pytest.fixture
def demo(server: Server) -> Server:
    """The server with a project root/demo."""
    server.cli("admin", "create-project", "root", "demo")
    return server


class Recorder:
    """A tiny HTTP proxy in front of a server that records every request line and its
    headers: what a client really sent. ``lose``: numbers (1 = the first) of the PUTs
    whose answer is lost after the server took them: the connection is closed without
    an answer, or ``502`` is answered instead of the server's own (a proxy timing out)."""

    def __init__(self, target_port: int, lose: dict[int, str] | None = None) -> None:
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        self.lose = dict(lose or {})
        self.lost: list[tuple[str, str, int]] = []  # (how, path, the server's status)
        self.puts = 0
        lock = threading.Lock()
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                pass

            def _forward(self) -> None:
                headers = {k: v for k, v in self.headers.items()}
                recorder.requests.append((self.command, self.path, headers))
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                upstream = http.client.HTTPConnection("127.0.0.1", target_port, timeout=60)
                try:
                    upstream.request(self.command, self.path, body=body, headers=headers)
                    answer = upstream.getresponse()
                    data = answer.read()
                finally:
                    upstream.close()
                how = ""
                if self.command == "PUT":
                    with lock:
                        recorder.puts += 1
                        how = recorder.lose.pop(recorder.puts, "")
                        if how:
                            recorder.lost.append((how, self.path, answer.status))
                if how == "close":
                    self.close_connection = True
                    return
                if how == "502":
                    self.send_response(502, "Bad Gateway")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(answer.status, answer.reason)
                for key, value in answer.getheaders():
                    if key.lower() not in ("transfer-encoding", "content-length", "connection"):
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)

            do_GET = do_PUT = do_DELETE = do_HEAD = do_POST = _forward

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def recorder(demo: Server) -> Iterator[Recorder]:
    proxy = Recorder(demo.port)
    yield proxy
    proxy.close()

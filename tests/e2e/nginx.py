"""nginx (Debian nginx-light) on loopback, in two roles.

``nginx``: the physical-limit yardstick of the benchmarks. It serves <root>/ with sendfile
and accepts PUT under /upload/ through the DAV module, so uploads and downloads are
measured against the same machine's best.

``nginx_in_front``: the proxy of docs/deployment.md in front of a Cargobay server, with
the server block taken from that document, so that the documented configuration is the
one tested.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

DEPLOYMENT = Path(__file__).parents[2] / "docs" / "deployment.md"

CONFIG = """
user root;
worker_processes auto;
daemon off;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 100000;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    {server}
}}
"""


STATIC = """server {{
        listen 127.0.0.1:{port};
        root {root};
        location /upload/ {{
            dav_methods PUT;
            create_full_put_path on;
            client_max_body_size 0;
            client_body_buffer_size 1m;
        }}
    }}"""


def documented_server_block(port: int, upstream_port: int, blobs: Path) -> str:
    """The nginx server block of docs/deployment.md, listening on loopback without TLS,
    in front of a Cargobay on ``upstream_port`` whose blob store is ``blobs``."""
    block = re.search(r"```nginx\n(server \{.*?\n\})\n```", DEPLOYMENT.read_text(), re.S)
    assert block, "docs/deployment.md has no nginx server block"
    text = block.group(1)
    for documented, here in (
        ("listen 443 ssl;", f"listen 127.0.0.1:{port};"),
        ("proxy_pass http://127.0.0.1:8080;", f"proxy_pass http://127.0.0.1:{upstream_port};"),
        ("alias /var/lib/cargobay/blobs/;", f"alias {blobs}/;"),
    ):
        assert documented in text, f"docs/deployment.md: no {documented!r}"
        text = text.replace(documented, here)
    return text


@contextmanager
def nginx(tmp: Path, port: int) -> Iterator[Path]:
    """Start nginx; yields the document root (files there are served at /<name>)."""
    root = tmp / "www"
    (root / "upload").mkdir(parents=True, exist_ok=True)
    with _running(tmp, port, STATIC.format(port=port, root=root)):
        yield root


@contextmanager
def nginx_in_front(tmp: Path, port: int, upstream_port: int, blobs: Path) -> Iterator[str]:
    """Start nginx with the documented server block; yields its base URL."""
    with _running(tmp, port, documented_server_block(port, upstream_port, blobs)):
        yield f"http://127.0.0.1:{port}"


@contextmanager
def _running(tmp: Path, port: int, server_block: str) -> Iterator[None]:
    binary = shutil.which("nginx") or "/usr/sbin/nginx"
    tmp.mkdir(parents=True, exist_ok=True)
    config = tmp / "nginx.conf"
    config.write_text(CONFIG.format(tmp=tmp, server=server_block))
    proc = subprocess.Popen([binary, "-c", str(config), "-p", str(tmp)])
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                httpx.get(f"http://127.0.0.1:{port}/", timeout=1)
                break
            except httpx.TransportError:
                if proc.poll() is not None:
                    raise RuntimeError(f"nginx exited: {(tmp / 'error.log').read_text()}") from None
                time.sleep(0.05)
        yield
    finally:
        proc.terminate()
        proc.wait(timeout=10)

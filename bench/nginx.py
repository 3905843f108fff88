"""nginx (Debian nginx-light) on loopback: the physical-limit yardstick of the benchmarks.

Serves <root>/ with sendfile and accepts PUT under /upload/ through the DAV module, so
uploads and downloads are measured against the same machine's best.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

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
    server {{
        listen 127.0.0.1:{port};
        root {root};
        location /upload/ {{
            dav_methods PUT;
            create_full_put_path on;
            client_max_body_size 0;
            client_body_buffer_size 1m;
        }}
    }}
}}
"""


@contextmanager
def nginx(tmp: Path, port: int) -> Iterator[Path]:
    """Start nginx; yields the document root (files there are served at /<name>)."""
    binary = shutil.which("nginx") or "/usr/sbin/nginx"
    root = tmp / "www"
    (root / "upload").mkdir(parents=True, exist_ok=True)
    config = tmp / "nginx.conf"
    config.write_text(CONFIG.format(tmp=tmp, port=port, root=root))
    proc = subprocess.Popen([binary, "-c", str(config), "-p", str(tmp)])
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                httpx.get(f"http://127.0.0.1:{port}/", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.05)
        yield root
    finally:
        proc.terminate()
        proc.wait(timeout=10)

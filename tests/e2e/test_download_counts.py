"""Download counts on real ``cargobay serve`` processes (beyond-gitlab §7.1): two
workers' counts add up, and what a server counted since its last write is written when
it stops, not lost."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from tests.e2e.server import Server
from tests.e2e.test_robustness import auth, create_project, file_url


def downloads_today(server: Server, project: str) -> int:
    base = f"{server.api}/projects/{project}/packages"
    (package,) = httpx.get(base, headers=auth(server)).json()
    stats = httpx.get(f"{base}/{package['id']}/download_stats", headers=auth(server))
    assert stats.status_code == 200, stats.text
    return int(stats.json()[-1]["count"])


def test_counts_of_two_workers_add_up_and_a_stopping_server_writes_its_own(
    make_server: Callable[..., Server],
) -> None:
    # Written only when the server stops: the flush interval is far longer than the test.
    server = make_server(workers="2", download_count_flush_seconds="3600")
    server.token = server.cli("admin", "bootstrap")
    server.start()
    try:
        project = create_project(server, "counted")
        small = file_url(server, project, "tool/1.0/small.bin")
        large = file_url(server, project, "tool/1.0/large.bin")
        assert httpx.put(small, content=b"x" * 100, headers=auth(server)).status_code == 201
        assert httpx.put(large, content=b"y" * 300_000, headers=auth(server)).status_code == 201
        # A new connection each, which the kernel spreads over the workers (that both
        # answer is test_metrics's to check).
        for _ in range(6):
            assert httpx.get(small, headers=auth(server)).status_code == 200
        for _ in range(4):
            assert httpx.get(large, headers=auth(server)).status_code == 200
        assert httpx.head(small, headers=auth(server)).status_code == 200
        assert downloads_today(server, project) == 0
    finally:
        server.stop()  # SIGTERM: each worker writes what it counted
    server.start()
    try:
        assert downloads_today(server, project) == 10
    finally:
        server.stop()

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable

import httpx

from tests.e2e.server import BIN, Server


def test_first_serve_bootstraps_and_prints_a_working_curl_command(
    make_server: Callable[..., Server],
) -> None:
    srv = make_server()
    srv.start()
    try:
        output = srv.log()
        token = re.search(r"glpat-[\w-]+", output)
        assert token, output
        assert f'curl --header "PRIVATE-TOKEN: {token.group()}"' in output
        me = httpx.get(f"{srv.base_url}/-/readiness")
        assert me.json()["status"] == "ok"
    finally:
        srv.stop()
    # A second start on the same data directory creates no second administrator.
    srv.start()
    srv.stop()
    assert srv.log().count("Created administrator") == 1


def test_admin_bootstrap_prints_only_the_token_once(make_server: Callable[..., Server]) -> None:
    srv = make_server()
    token = srv.cli("admin", "bootstrap")
    assert re.fullmatch(r"glpat-[\w-]{32}", token)
    again = subprocess.run(
        [str(BIN / "cargobay"), "admin", "bootstrap"], env=srv.env, capture_output=True, text=True
    )
    assert again.returncode != 0
    assert "already exists" in again.stderr


def test_health_endpoints(server: Server) -> None:
    assert httpx.get(f"{server.base_url}/-/health").text == "GitLab OK"
    assert httpx.get(f"{server.base_url}/-/liveness").json() == {"status": "ok"}
    ready = httpx.get(f"{server.base_url}/-/readiness").json()
    assert ready["status"] == "ok" and ready["db_check"] == [{"status": "ok"}]

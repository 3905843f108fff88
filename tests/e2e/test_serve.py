from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import psutil
import pytest

from tests.e2e.server import BIN, Server
from tests.e2e.test_robustness import wait_for


def test_first_serve_bootstraps_and_prints_a_working_curl_command(
    make_server: Callable[..., Server],
) -> None:
    srv = make_server()
    srv.start()
    try:
        # The banner follows the first accepted connection (serving.announce_when_listening),
        # so it may land just after the readiness probe that ended start().
        assert wait_for(lambda: "curl --header" in srv.log()), srv.log()
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


def test_serve_on_a_taken_port_fails_at_once(
    make_server: Callable[..., Server], tmp_path: Path
) -> None:
    first = make_server()
    first.start()
    try:
        second = make_server(tmp_path / "second")
        t = time.monotonic()
        result = subprocess.run(
            [str(BIN / "cargobay"), "serve", "--port", str(first.port)],
            env=second.env,
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert result.returncode != 0
        assert f"cannot listen on 127.0.0.1:{first.port}" in result.stderr
        assert "already in use" in result.stderr
        assert "Traceback" not in result.stderr
        assert time.monotonic() - t < 10
        assert not (second.data_dir / "cargobay.db").exists()  # refused before any work
        assert httpx.get(f"{first.base_url}/-/liveness").status_code == 200
    finally:
        first.stop()


@pytest.mark.backends("sqlite-local")
@pytest.mark.parametrize(
    ("setting", "value", "said"),
    [
        ("workers", "two", "CARGOBAY_WORKERS: Input should be a valid integer"),
        (
            "monitoring_allowlist",
            "127.0.0.1,10.0.0.0/33",
            "CARGOBAY_MONITORING_ALLOWLIST: '10.0.0.0/33'",
        ),
        ("trusted_proxies", "127.0.0.1;10.0.0.1", "CARGOBAY_TRUSTED_PROXIES: '127.0.0.1;10.0.0.1'"),
    ],
)
def test_serve_refuses_a_bad_setting_in_one_line_before_any_work(
    make_server: Callable[..., Server], setting: str, value: str, said: str
) -> None:
    server = make_server(**{setting: value})
    result = subprocess.run(
        [str(BIN / "cargobay"), "serve"], env=server.env, capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 1
    assert result.stderr.startswith(f"Error: {said}"), result.stderr
    assert "Traceback" not in result.stderr
    assert not (server.data_dir / "cargobay.db").exists()


def test_serve_defaults_to_one_worker_per_cpu(make_server: Callable[..., Server]) -> None:
    server = make_server(workers="0")
    server.start()
    try:
        assert server.proc is not None
        expected = len(os.sched_getaffinity(0))
        assert wait_for(lambda: server.log().count("Started worker-") == expected), server.log()
        assert len(psutil.Process(server.proc.pid).children()) == expected
    finally:
        server.stop()


@pytest.mark.parametrize("delay", [0.0, 0.05, 0.2, 0.5])
def test_sigterm_at_any_moment_of_start_up_stops_the_server(
    make_server: Callable[..., Server], delay: float
) -> None:
    server = make_server(workers="2")
    server.cli("admin", "bootstrap")  # migrated and bootstrapped: start-up is granian's
    server.log_path = server.data_dir.parent / "server.log"
    with server.log_path.open("ab") as log:
        proc = subprocess.Popen(
            [str(BIN / "cargobay"), "serve", "--port", str(server.port)],
            env=server.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    # The dangerous moment: workers forked, their own signal handlers not yet installed.
    assert wait_for(lambda: "Spawning worker-" in server.log(), timeout=30), server.log()
    time.sleep(delay)
    proc.send_signal(signal.SIGTERM)  # the supervisor only, as a service manager does
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        raise AssertionError(f"still running: {server.log()}") from None
    # No worker outlives it (they are all in the session the server started).
    assert wait_for(lambda: not _in_session(proc.pid), timeout=15), server.log()
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{server.base_url}/-/liveness", timeout=1)


def _in_session(sid: int) -> list[int]:
    members = []
    for pid in psutil.pids():
        try:
            if os.getsid(pid) == sid and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                members.append(pid)
        except (OSError, psutil.Error):
            continue
    return members

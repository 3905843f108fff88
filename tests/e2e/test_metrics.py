"""/-/metrics, the request id and the JSON access log of a real ``cargobay serve`` with
two workers (issue 18, beyond-gitlab §6): counts and bytes after real uploads and
downloads (fast lane and route), ``promtool check metrics`` on the exposition, a real
Prometheus server scraping it, the monitoring allowlist and the bearer token."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.server import Server, free_port
from tests.e2e.test_robustness import create_project, file_url

pytestmark = pytest.mark.backends("sqlite-local")  # the fast lane serves local blobs only

GENERIC = "/api/v4/projects/{id}/packages/generic/{package_name}/{package_version}/{file_path}"
SMALL = os.urandom(1000)  # answered from memory, by the fast lane when nothing stops it
LARGE = os.urandom(200 * 1024)  # above the in-memory limit: the route sends the file
PROMETHEUS = shutil.which("prometheus")
PROMTOOL = shutil.which("promtool")


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return found


def value(
    found: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str
) -> float:
    return found.get((name, frozenset(labels.items())), 0.0)


def total(found: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str) -> float:
    return sum(v for (n, _), v in found.items() if n == name)


@pytest.fixture
def two_workers(make_server: Callable[..., Server]) -> Iterator[Server]:
    srv = make_server(workers="2")
    srv.token = srv.cli("admin", "bootstrap")
    srv.start()
    yield srv
    srv.stop()


def traffic(srv: Server) -> dict[str, int]:
    """Uploads and downloads through the server's two workers, each on a new connection so
    that both workers answer some; what was sent, to compare with the metrics."""
    project = create_project(srv, "metered")
    auth = {"PRIVATE-TOKEN": srv.token}
    small = file_url(srv, project, "secretpkg/1.0/small.bin")
    large = file_url(srv, project, "secretpkg/1.0/large.bin")
    assert httpx.put(small, content=SMALL, headers=auth).status_code == 201
    assert httpx.put(large, content=LARGE, headers=auth).status_code == 201
    got = 0
    for _ in range(12):  # the fast lane's answers
        answer = httpx.get(small, headers=auth)
        assert answer.status_code == 200 and answer.content == SMALL
        got += len(answer.content)
    for _ in range(3):  # the route's: If-None-Match keeps the lane out
        answer = httpx.get(small, headers={**auth, "If-None-Match": '"other"'})
        assert answer.status_code == 200 and answer.content == SMALL
        got += len(answer.content)
    for _ in range(3):  # a file the route sends from disk
        answer = httpx.get(large, headers=auth)
        assert answer.status_code == 200 and answer.content == LARGE
        got += len(answer.content)
    archive = httpx.get(file_url(srv, project, "secretpkg/1.0/~archive.tar"), headers=auth)
    assert archive.status_code == 200
    refused = httpx.get(small, headers={"PRIVATE-TOKEN": "glpat-not-a-real-token-000000000"})
    assert refused.status_code == 401
    return {
        "uploads": 2,
        "put_bytes": len(SMALL) + len(LARGE),
        "downloads": 18,
        "got": got,
        "archive_bytes": len(archive.content),
    }


def test_metrics_count_real_traffic_through_two_workers(
    two_workers: Server, tmp_path: Path
) -> None:
    srv = two_workers
    sent = traffic(srv)
    scrape = httpx.get(f"{srv.base_url}/-/metrics")
    assert scrape.status_code == 200
    assert scrape.headers["content-type"].startswith("text/plain; version=0.0.4")
    text = scrape.text
    # Both workers wrote their own files, and the scrape summed them.
    metrics_dir = srv.data_dir / "tmp" / "metrics"
    assert len({p.name.rpartition("_")[2] for p in metrics_dir.glob("counter_*.db")}) == 2
    found = samples(text)

    requests = "cargobay_http_requests_total"
    gets = sent["downloads"] + 1  # the files and the archive
    assert value(found, requests, method="get", route=GENERIC, status="200") == gets
    assert value(found, requests, method="get", route=GENERIC, status="401") == 1
    assert value(found, requests, method="put", route=GENERIC, status="201") == sent["uploads"]
    duration = "cargobay_http_request_duration_seconds_count"
    assert value(found, duration, method="get", route=GENERIC) == gets + 1
    inf = value(
        found,
        "cargobay_http_request_duration_seconds_bucket",
        method="get",
        route=GENERIC,
        le="+Inf",
    )
    assert inf == gets + 1
    assert total(found, "cargobay_upload_bytes_total") == sent["put_bytes"]
    assert value(found, "cargobay_uploads_total", result="created") == sent["uploads"]
    assert total(found, "cargobay_download_bytes_total") == sent["got"]
    assert value(found, "cargobay_download_bytes_total", delivery="memory") == 15 * len(SMALL)
    assert value(found, "cargobay_download_bytes_total", delivery="file") == 3 * len(LARGE)
    assert total(found, "cargobay_download_delegated_bytes_total") == 0
    assert value(found, "cargobay_downloads_total", delivery="memory", status="200") == 15
    archives = "cargobay_archive_downloads_total"
    assert value(found, archives, format="tar", result="complete") == 1
    assert value(found, "cargobay_archive_bytes_total", format="tar") == sent["archive_bytes"]
    writes = value(found, "cargobay_db_query_duration_seconds_count", op="write")
    assert writes >= sent["uploads"]  # each upload's record, at least
    assert value(found, "cargobay_db_query_duration_seconds_count", op="read") > 0
    assert value(found, "cargobay_uploads_in_flight") == 0
    assert value(found, "cargobay_package_files") == 2
    assert value(found, "cargobay_logical_bytes") == sent["put_bytes"]
    assert value(found, "cargobay_gc_runs_total", result="success") == 0  # none ran yet
    assert value(found, "cargobay_cleanup_runs_total", result="failed") == 0
    assert ("cargobay_gc_runs_total", frozenset({("result", "success")})) in found
    # Route templates only: no package, project or user name in any label.
    for name in ("secretpkg", "metered", "small.bin", "root"):
        assert name not in text

    # OpenMetrics on request.
    open_metrics = httpx.get(
        f"{srv.base_url}/-/metrics", headers={"Accept": "application/openmetrics-text"}
    )
    assert open_metrics.headers["content-type"].startswith("application/openmetrics-text")
    assert open_metrics.text.rstrip().endswith("# EOF")

    assert PROMTOOL, "promtool (Debian's prometheus package) is missing"
    check = subprocess.run(
        [PROMTOOL, "check", "metrics"], input=text, capture_output=True, text=True, timeout=60
    )
    assert check.returncode == 0, check.stdout + check.stderr

    # A real Prometheus scrapes it and answers the same counts through its query API.
    assert PROMETHEUS, "prometheus (Debian's prometheus package) is missing"
    queried = scraped_by_prometheus(srv, tmp_path)
    assert queried[("get", "200")] == gets
    assert queried[("get", "401")] == 1
    assert queried[("put", "201")] == sent["uploads"]


def scraped_by_prometheus(srv: Server, tmp_path: Path) -> dict[tuple[str, str], float]:
    port = free_port()
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global:\n  scrape_interval: 1s\n"
        "scrape_configs:\n"
        "  - job_name: cargobay\n"
        "    metrics_path: /-/metrics\n"
        f"    static_configs:\n      - targets: ['127.0.0.1:{srv.port}']\n"
    )
    log = (tmp_path / "prometheus.log").open("wb")
    proc = subprocess.Popen(
        [
            str(PROMETHEUS),
            f"--config.file={config}",
            f"--storage.tsdb.path={tmp_path / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        query = f'cargobay_http_requests_total{{route="{GENERIC}"}}'
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert proc.poll() is None, (tmp_path / "prometheus.log").read_text()
            try:
                answer = httpx.get(
                    f"http://127.0.0.1:{port}/api/v1/query", params={"query": query}, timeout=2
                ).json()
            except (httpx.TransportError, json.JSONDecodeError):
                answer = {}
            results = answer.get("data", {}).get("result", [])
            if results:
                return {
                    (r["metric"]["method"], r["metric"]["status"]): float(r["value"][1])
                    for r in results
                }
            time.sleep(0.5)
        raise AssertionError(
            "Prometheus never scraped: " + (tmp_path / "prometheus.log").read_text()
        )
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()


def test_metrics_allowlist_and_bearer_token(make_server: Callable[..., Server]) -> None:
    srv = make_server(monitoring_allowlist="192.0.2.0/24", metrics_token="scrape-secret-1")
    srv.start()
    try:
        url = f"{srv.base_url}/-/metrics"
        refused = httpx.get(url)  # loopback, but not in this allowlist
        assert refused.status_code == 404
        assert refused.json() == {"error": "404 Not Found"}
        wrong = httpx.get(url, headers={"Authorization": "Bearer not-the-token"})
        assert wrong.status_code == 404
        opened = httpx.get(url, headers={"Authorization": "Bearer scrape-secret-1"})
        assert opened.status_code == 200
        assert "cargobay_http_requests_total" in opened.text
    finally:
        srv.stop()
    assert "scrape-secret-1" not in srv.log()


def test_metrics_off_answers_404(make_server: Callable[..., Server]) -> None:
    srv = make_server(metrics_enabled="false")
    srv.start()
    try:
        assert httpx.get(f"{srv.base_url}/-/metrics").status_code == 404
    finally:
        srv.stop()


def access_lines(srv: Server) -> list[dict[str, object]]:
    lines = []
    for line in srv.log().splitlines():
        if line.startswith("{"):
            record = json.loads(line)
            if "correlation_id" in record:
                lines.append(record)
    return lines


def test_json_access_log_and_request_id(server: Server, make_server: Callable[..., Server]) -> None:
    project = create_project(server, "logged")
    url = file_url(server, project, "tool/1.0/tool.bin")
    token = server.token
    put = httpx.put(url, content=SMALL, headers={"PRIVATE-TOKEN": token, "X-Request-Id": "req-42"})
    assert put.status_code == 201
    assert put.headers["x-request-id"] == "req-42"  # from loopback, a trusted proxy
    got = httpx.get(url, params={"private_token": token})  # a secret in the query string
    assert got.status_code == 200
    generated = got.headers["x-request-id"]
    assert len(generated) == 26  # a ULID
    time.sleep(0.5)  # the log listener thread writes behind the requests
    lines = access_lines(server)
    by_id = {line["correlation_id"]: line for line in lines}
    upload = by_id["req-42"]
    assert upload["method"] == "PUT" and upload["status"] == 201
    assert upload["route"] == GENERIC
    assert upload["bytes_in"] == len(SMALL)
    assert upload["remote_ip"] == "127.0.0.1"
    assert isinstance(upload["duration_s"], float)
    download = by_id[generated]
    assert download["status"] == 200 and download["bytes_out"] == len(SMALL)
    assert {"key": "private_token", "value": "[FILTERED]"} in download["params"]  # type: ignore[operator]
    assert token not in server.log()

    # A peer that is no trusted proxy cannot choose the request id.
    other = make_server(server.data_dir.parent / "untrusted", trusted_proxies="192.0.2.1")
    other.start()
    try:
        answer = httpx.get(f"{other.base_url}/-/liveness", headers={"X-Request-Id": "forged"})
        assert answer.headers["x-request-id"] != "forged"
        assert len(answer.headers["x-request-id"]) == 26
    finally:
        other.stop()

"""The pure parts of the metrics and the request layer (issue 18): label values that stay
bounded (route templates of the real route tables, methods, statuses), the network
allowlists, request ids, the in-worker request tally against prometheus-client's own
``observe``, the metric-file housekeeping, and the access log's secret filtering. No
server: the Metrics objects here live in their own registry in this process."""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import anyio
import orjson
import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from starlette.routing import BaseRoute, Match, Route
from starlette.types import Message, Receive, Scope, Send

from cargobay.api.access_log import FILTERED, JsonLines, Text, filtered_params, wants_json
from cargobay.api.observability import (
    EXCHANGE,
    OTHER_METHOD,
    UNMATCHED,
    Observability,
    TrustedPeers,
    method_label,
    route_label,
    ulid,
)
from cargobay.api.routes import routes as api_routes
from cargobay.domain.networks import parse_networks
from cargobay.services.metrics import (
    _HTTP_BOUNDS,
    FLUSH_SECONDS,
    HTTP_BUCKETS,
    Metrics,
    _Inventory,
    prepare_multiprocess_dir,
    reap_dead_workers,
)
from cargobay.storage.db.inventory import Inventory
from cargobay.web.routes import routes as web_routes

GENERIC = "/api/v4/projects/{id}/packages/generic/{package_name}/{package_version}/{file_path}"
# A label value that is a template: literal segments and {name} placeholders, nothing else.
TEMPLATE = re.compile(r"^(/([A-Za-z0-9_.~-]+|\{[a-z_]+\}|-))*/?$")
SECRET_NAMES = ("acme", "secretapp", "secretpkg", "9.9.9", "report.pdf", "alice", "4711")


def samples(metrics: Metrics) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    text = generate_latest(metrics.registry).decode()
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return found


def value(metrics: Metrics, name: str, **labels: str) -> float:
    return samples(metrics).get((name, frozenset(labels.items())), 0.0)


@pytest.fixture
def metrics(monkeypatch: pytest.MonkeyPatch) -> Metrics:
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    return Metrics()


# -- labels: bounded whatever the request ------------------------------------------------


@pytest.mark.parametrize(
    ("method", "label"),
    [
        ("GET", "get"),
        ("HEAD", "head"),
        ("PUT", "put"),
        ("DELETE", "delete"),
        ("OPTIONS", "options"),
        ("get", OTHER_METHOD),  # methods are case-sensitive: not GET
        ("PROPFIND", OTHER_METHOD),
        ("X" * 200, OTHER_METHOD),  # a client may send any token
        ("", OTHER_METHOD),
    ],
)
def test_method_label_is_one_of_a_fixed_few(method: str, label: str) -> None:
    assert method_label(method) == label


def _leaf_routes(table: list[BaseRoute]) -> list[Route]:
    return [route for route in table if isinstance(route, Route)]


@pytest.mark.parametrize("table", [api_routes, web_routes], ids=["api", "web"])
def test_every_route_labels_as_a_template_without_convertors(table: list[BaseRoute]) -> None:
    cache: dict[str, str] = {}
    leaves = _leaf_routes(table)
    assert len(leaves) == len(table)  # no Mount or Host whose inner routes this misses
    for route in leaves:
        label = route_label(route, cache)
        assert ":" not in label, (route.path, label)
        assert TEMPLATE.fullmatch(label), (route.path, label)
    # One label per template: the cache holds templates, never one entry per request.
    assert len(cache) == len({route.path for route in leaves})


def test_route_label_strips_convertors_and_caches() -> None:
    cache: dict[str, str] = {}
    route = Route("/x/{id:int}/{rest:path}", lambda r: None)
    assert route_label(route, cache) == "/x/{id}/{rest}"
    assert cache == {"/x/{id:int}/{rest:path}": "/x/{id}/{rest}"}
    assert route_label(None, cache) == UNMATCHED
    assert route_label(object(), cache) == UNMATCHED  # no path: never the raw path


def _answering_route(table: list[BaseRoute], method: str, path: str) -> BaseRoute | None:
    """The route Starlette's router would hand the request to (a full match first)."""
    scope = {"type": "http", "method": method, "path": path, "root_path": "", "headers": []}
    partial = None
    for route in table:
        match, _ = route.matches(scope)
        if match is Match.FULL:
            return route
        if match is Match.PARTIAL and partial is None:
            partial = route
    return partial


@pytest.mark.parametrize(
    ("table", "method", "path", "label"),
    [
        (
            api_routes,
            "GET",
            "/api/v4/projects/acme%2Fsecretapp/packages/generic/secretpkg/9.9.9/dir/report.pdf",
            GENERIC,
        ),
        (
            api_routes,
            "PUT",
            "/api/v4/projects/4711/packages/generic/secretpkg/9.9.9/report.pdf",
            GENERIC,
        ),
        (
            api_routes,
            "GET",
            "/api/v4/projects/4711/generic/secretpkg/9.9.9/report.pdf",
            "/api/v4/projects/{id}/generic/{package_name}/{package_version}/{file_path}",
        ),
        (
            api_routes,
            "POST",  # a method the route does not take: a partial match, still the template
            "/api/v4/projects/4711/packages/generic/secretpkg/9.9.9/report.pdf",
            GENERIC,
        ),
        (
            api_routes,
            "GET",
            "/api/v4/projects/acme%2Fsecretapp/packages/4711/package_files",
            "/api/v4/projects/{id}/packages/{package_id}/package_files",
        ),
        (web_routes, "GET", "/acme/secretapp/-/packages/4711", None),
        (web_routes, "GET", "/alice", "/{path}"),
    ],
)
def test_real_requests_are_labelled_by_template_without_names(
    table: list[BaseRoute], method: str, path: str, label: str | None
) -> None:
    route = _answering_route(table, method, path)
    got = route_label(route, {})
    if label is not None:
        assert got == label
    assert TEMPLATE.fullmatch(got), got
    for name in SECRET_NAMES:
        assert name not in got


# -- network allowlists (monitoring_allowlist, trusted_proxies) --------------------------


@pytest.mark.parametrize(
    ("host", "allowed"),
    [
        ("127.0.0.1", True),
        ("127.200.3.4", True),  # all of 127.0.0.0/8
        ("::1", True),
        ("::ffff:127.0.0.1", True),  # IPv4-mapped loopback, as a dual-stack socket has it
        ("10.0.0.1", False),
        ("::2", False),
        ("::ffff:10.0.0.1", False),
        ("localhost", False),  # a name is never resolved
        ("", False),  # a Unix socket peer
    ],
)
def test_default_monitoring_allowlist_is_loopback(host: str, allowed: bool) -> None:
    assert parse_networks("127.0.0.0/8,::1/128").contains(host) is allowed


def test_network_lists_parse_addresses_cidrs_spaces_and_star() -> None:
    nets = parse_networks(" 10.0.0.0/8 , 192.0.2.7,, 2001:db8::/32 ")
    assert nets.contains("10.255.0.1") and nets.contains("192.0.2.7")
    assert nets.contains("2001:db8::5")
    assert not nets.contains("192.0.2.8")
    assert parse_networks("10.1.2.3/8").contains("10.9.9.9")  # host bits set: the network
    assert parse_networks("*").contains("203.0.113.9")
    assert parse_networks("10.0.0.0/8,*").contains("::1")
    empty = parse_networks("")
    assert not empty.contains("127.0.0.1")  # empty: no one (a token is then the only way)


@pytest.mark.parametrize("text", ["10.0.0.300", "loopback", "10.0.0.0/33", "127.0.0.1;::1"])
def test_a_typo_in_a_network_list_is_an_error_not_an_empty_list(text: str) -> None:
    with pytest.raises(ValueError):
        parse_networks(text)


def test_trusted_peers_remember_answers_and_stay_bounded() -> None:
    peers = TrustedPeers(parse_networks("192.0.2.0/24"))
    assert peers("192.0.2.1") and not peers("198.51.100.1")
    assert peers.known == {"192.0.2.1": True, "198.51.100.1": False}
    for i in range(5000):
        peers(f"10.{i // 256 % 256}.{i % 256}.1")
    assert len(peers.known) <= 4097


# -- request ids ------------------------------------------------------------------------


def test_ulid_is_26_crockford_characters_sorting_by_time() -> None:
    first = ulid()
    time.sleep(0.002)
    second = ulid()
    for one in (first, second):
        assert re.fullmatch(r"[0-9A-HJKMNP-TV-Z]{26}", one), one
    assert first < second
    assert len({ulid() for _ in range(1000)}) == 1000


# -- the request tally: what a flush writes is what observe() would have -----------------


def test_tally_bounds_are_prometheus_clients(metrics: Metrics) -> None:
    child = metrics.http_duration.labels("get", "/x")
    assert tuple(child._upper_bounds) == _HTTP_BOUNDS
    assert _HTTP_BOUNDS[:-1] == HTTP_BUCKETS


def test_tally_flush_equals_direct_observation(metrics: Metrics) -> None:
    # On each bound, just above it, below the first, above the last: the edges of <=.
    durations = [0.0, 0.005, 0.0050001, 0.01, 0.3, 1.0, 59.9, 60.0, 61.0, 500.0]
    for d in durations:
        metrics.tally.finished("get", GENERIC, "200", d, d / 2, False, None, 0)
    metrics.tally.flush()
    reference = Metrics()
    for d in durations:
        reference.http_duration.labels("get", GENERIC).observe(d)
        reference.http_time_to_header.labels("get", GENERIC).observe(d / 2)
        reference.http_requests.labels("get", GENERIC, "200").inc()
    ours, theirs = samples(metrics), samples(reference)
    for name in (
        "cargobay_http_request_duration_seconds_bucket",
        "cargobay_http_request_duration_seconds_count",
        "cargobay_http_request_duration_seconds_sum",
        "cargobay_http_time_to_write_header_seconds_bucket",
        "cargobay_http_time_to_write_header_seconds_sum",
        "cargobay_http_requests_total",
    ):
        mine = {k: v for k, v in ours.items() if k[0] == name}
        assert mine, name
        assert mine == pytest.approx({k: v for k, v in theirs.items() if k[0] == name}), name


def test_tally_counts_statuses_as_strings_and_bytes_by_who_sent_them(metrics: Metrics) -> None:
    tally = metrics.tally
    tally.finished("get", GENERIC, "200", 0.001, 0.001, False, "memory", 1024)
    tally.finished("get", GENERIC, "200", 0.001, 0.001, False, "memory", 1024)
    tally.finished("get", GENERIC, "200", 0.002, 0.001, False, "accel", 5_000_000)
    tally.finished("get", GENERIC, "304", 0.001, 0.001, False, "file", 0)
    tally.finished("get", GENERIC, "401", 0.001, 0.001, False, None, 26)
    tally.finished("put", GENERIC, "201", 0.01, 0.01, False, None, 312)
    tally.flush()
    requests = "cargobay_http_requests_total"
    assert value(metrics, requests, method="get", route=GENERIC, status="200") == 3
    assert value(metrics, requests, method="get", route=GENERIC, status="401") == 1
    assert value(metrics, requests, method="put", route=GENERIC, status="201") == 1
    assert value(metrics, "cargobay_downloads_total", delivery="memory", status="200") == 2
    assert value(metrics, "cargobay_downloads_total", delivery="file", status="304") == 1
    assert value(metrics, "cargobay_download_bytes_total", delivery="memory") == 2048
    assert value(metrics, "cargobay_download_bytes_total", delivery="file") == 0
    assert value(metrics, "cargobay_download_delegated_bytes_total", delivery="accel") == 5e6
    # A request that is no download (the 401's error body, the PUT's JSON) adds no bytes.
    total_bytes = sum(
        v for (n, _), v in samples(metrics).items() if n == "cargobay_download_bytes_total"
    )
    assert total_bytes == 2048
    tally.flush()  # nothing pending: nothing added twice
    assert value(metrics, requests, method="get", route=GENERIC, status="200") == 3


def test_health_requests_are_counted_apart(metrics: Metrics) -> None:
    metrics.tally.finished("get", "/-/liveness", "200", 0.001, 0.001, True, None, 2)
    metrics.tally.flush()
    assert value(metrics, "cargobay_http_health_requests_total", method="get", status="200") == 1
    assert not any(
        n == "cargobay_http_requests_total" or n.startswith("cargobay_http_request_duration")
        for (n, _), v in samples(metrics).items()
        if v
    )


def test_in_flight_is_written_at_flush(metrics: Metrics) -> None:
    tally = metrics.tally
    tally.started()  # no event loop here: written at once
    tally.started()
    assert value(metrics, "cargobay_http_in_flight_requests") == 2
    tally.finished("get", GENERIC, "200", 0.001, 0.001, False, None, 0)
    assert value(metrics, "cargobay_http_in_flight_requests") == 1


@pytest.mark.anyio
async def test_on_an_event_loop_a_timer_writes_the_tally(metrics: Metrics) -> None:
    tally = metrics.tally
    tally.started()
    tally.finished("get", GENERIC, "200", 0.001, 0.001, False, "memory", 10)
    assert tally.scheduled
    assert (
        value(metrics, "cargobay_http_requests_total", method="get", route=GENERIC, status="200")
        == 0
    )
    await anyio.sleep(FLUSH_SECONDS * 4)
    assert not tally.scheduled and not tally.pending
    assert (
        value(metrics, "cargobay_http_requests_total", method="get", route=GENERIC, status="200")
        == 1
    )
    assert value(metrics, "cargobay_download_bytes_total", delivery="memory") == 10


# -- the middleware, in process, around a stand-in app ----------------------------------


def _scope(method: str = "GET", headers: list[tuple[bytes, bytes]] | None = None) -> Scope:
    return {
        "type": "http",
        "method": method,
        "path": "/api/v4/projects/4711/packages/generic/secretpkg/9.9.9/report.pdf",
        "raw_path": b"/api/v4/projects/4711/packages/generic/secretpkg/9.9.9/report.pdf",
        "query_string": b"",
        "headers": headers or [],
        "client": ("127.0.0.1", 50000),
    }


async def _call(layer: Observability, scope: Scope) -> list[Message]:
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    await layer(scope, receive, send)
    return sent


def _generic_route() -> Route:
    route = _answering_route(api_routes, "GET", _scope()["path"])
    assert isinstance(route, Route)
    return route


@pytest.mark.anyio
async def test_the_layer_labels_by_template_method_and_exact_status(metrics: Metrics) -> None:
    route = _generic_route()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        scope["route"] = route  # as Starlette's router and the fast lane set it
        scope[EXCHANGE].delivery = "memory"
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"x" * 1000})

    layer = Observability(app, metrics, None, "127.0.0.1", False)
    await _call(layer, _scope())
    await _call(layer, _scope("BREW"))  # any method a client invents: one label value
    metrics.tally.flush()
    found = samples(metrics)
    assert (
        value(metrics, "cargobay_http_requests_total", method="get", route=GENERIC, status="200")
        == 1
    )
    assert (
        value(metrics, "cargobay_http_requests_total", method="other", route=GENERIC, status="200")
        == 1
    )
    assert value(metrics, "cargobay_download_bytes_total", delivery="memory") == 2000
    labels = {v for (_, pairs) in found for (_, v) in pairs}
    for name in SECRET_NAMES:
        assert not any(name in label for label in labels), name
    assert "brew" not in labels and "BREW" not in labels


@pytest.mark.anyio
async def test_an_unmatched_path_and_a_crash_are_counted(metrics: Metrics) -> None:
    async def not_found(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 404, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})

    async def crash(scope: Scope, receive: Receive, send: Send) -> None:
        raise RuntimeError("boom")

    await _call(Observability(not_found, metrics, None, "127.0.0.1", False), _scope())
    with pytest.raises(RuntimeError):
        await _call(Observability(crash, metrics, None, "127.0.0.1", False), _scope())
    metrics.tally.flush()
    requests = "cargobay_http_requests_total"
    assert value(metrics, requests, method="get", route=UNMATCHED, status="404") == 1
    assert value(metrics, requests, method="get", route=UNMATCHED, status="500") == 1
    assert value(metrics, "cargobay_http_in_flight_requests") == 0


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("trusted", "given", "kept"),
    [
        ("127.0.0.1", b"req-42", True),
        ("192.0.2.1", b"req-42", False),  # the peer is no trusted proxy
        ("127.0.0.1", b"has space", False),  # not printable ASCII without spaces
        ("127.0.0.1", b"x" * 129, False),  # longer than 128
    ],
)
async def test_request_id_from_trusted_proxies_only(trusted: str, given: bytes, kept: bool) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    layer = Observability(app, None, None, trusted, False)
    sent = await _call(layer, _scope(headers=[(b"x-request-id", given)]))
    echoed = dict(sent[0]["headers"])[b"x-request-id"]
    if kept:
        assert echoed == given
    else:
        assert echoed != given and len(echoed) == 26


# -- metric files of several workers ------------------------------------------------------


def test_prepare_multiprocess_dir_removes_only_metric_files(tmp_path: Path) -> None:
    target = tmp_path / "metrics"
    target.mkdir()
    (target / "counter_123.db").write_bytes(b"x")
    (target / "gauge_livesum_123.db").write_bytes(b"x")
    (target / "notes.txt").write_text("mine")
    prepare_multiprocess_dir(str(target))
    assert sorted(p.name for p in target.iterdir()) == ["notes.txt"]
    prepare_multiprocess_dir(str(tmp_path / "new" / "dir"))  # created when missing
    assert (tmp_path / "new" / "dir").is_dir()


def test_reap_dead_workers_drops_live_gauges_of_dead_pids_only(tmp_path: Path) -> None:
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    dead = int(gone.stdout)
    alive = os.getpid()
    for name in (
        f"gauge_livesum_{dead}.db",
        f"gauge_livesum_{alive}.db",
        f"counter_{dead}.db",  # a dead worker's counts stay in the sum
        f"gauge_mostrecent_{dead}.db",
    ):
        (tmp_path / name).write_bytes(b"")
    reap_dead_workers(str(tmp_path))
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [f"gauge_livesum_{alive}.db", f"counter_{dead}.db", f"gauge_mostrecent_{dead}.db"]
    )
    reap_dead_workers(str(tmp_path / "missing"))  # no directory: nothing to do


# -- inventory and build info --------------------------------------------------------------


def test_inventory_gauges_and_build_info() -> None:
    counts = Inventory({"default": 3, "hidden": 0}, 7, 1000, 2500)
    build = {"version": "1.2.3", "python": "3.11.7", "database": "sqlite", "blob_store": "local"}
    text = generate_latest(_Inventory(counts, build)).decode()
    assert 'cargobay_packages{status="default"} 3.0' in text
    assert 'cargobay_packages{status="hidden"} 0.0' in text
    assert "cargobay_package_files 7.0" in text
    assert "cargobay_stored_bytes 1000.0" in text
    assert "cargobay_logical_bytes 2500.0" in text
    info = 'blob_store="local",database="sqlite",python="3.11.7",version="1.2.3"'
    assert f"cargobay_build_info{{{info}}} 1.0" in text


# -- the access log: secrets never written ------------------------------------------------


def test_secret_query_parameters_are_filtered() -> None:
    params = filtered_params(
        b"private_token=glpat-abc&job_token=xyz&password=pw&X-Client-Secret=s&select=package_file"
    )
    assert params == [
        {"key": "private_token", "value": FILTERED},
        {"key": "job_token", "value": FILTERED},
        {"key": "password", "value": FILTERED},
        {"key": "X-Client-Secret", "value": FILTERED},
        {"key": "select", "value": "package_file"},
    ]


def _record(**access: Any) -> logging.LogRecord:
    record = logging.LogRecord("cargobay.access", logging.INFO, "", 0, "request", None, None)
    record.access = {
        "correlation_id": "01JF0000000000000000000000",
        "method": "GET",
        "path": "/api/v4/projects/1/packages/generic/a/1/b.bin",
        "query": b"private_token=glpat-secret-value",
        "route": GENERIC,
        "status": 200,
        "duration_s": 0.0012345678,
        "ttfb_s": 0.001,
        "bytes_in": 0,
        "bytes_out": 1024,
        "remote_ip": "127.0.0.1",
        "ua": "curl/8",
        "delivery": None,
    } | access
    return record


def test_json_access_line_has_the_fields_and_no_secret() -> None:
    line = JsonLines().format(_record())
    assert "glpat-secret-value" not in line
    fields = orjson.loads(line)
    assert fields["correlation_id"] == "01JF0000000000000000000000"
    assert fields["route"] == GENERIC and fields["status"] == 200
    assert fields["duration_s"] == 0.001235  # microseconds
    assert fields["params"] == [{"key": "private_token", "value": FILTERED}]
    assert "delivery" not in fields  # only on downloads
    assert fields["severity"] == "INFO" and fields["time"].endswith("Z")


def test_text_access_line_is_short_and_filtered() -> None:
    line = Text().format(_record(delivery="memory"))
    assert "glpat-secret-value" not in line
    assert line.startswith('127.0.0.1 "GET /api/v4/projects/1/packages/generic/a/1/b.bin?')
    assert " 200 1024B 1.2ms id=01JF0000000000000000000000" in line


class _Stream:
    def __init__(self, tty: bool) -> None:
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


def test_log_format_auto_is_text_on_a_terminal_only() -> None:
    assert not wants_json("auto", _Stream(tty=True))
    assert wants_json("auto", _Stream(tty=False))
    assert wants_json("auto", object())  # no isatty: not a terminal
    assert wants_json("json", _Stream(tty=True))
    assert not wants_json("text", _Stream(tty=False))


def test_database_timings_flush_as_direct_observation_would(metrics: Metrics) -> None:
    timings = [0.0, 0.0005, 0.00050001, 0.003, 0.2, 5.0, 7.5]
    for seconds in timings:
        metrics.tally.database("read", seconds)
    metrics.tally.database("write", 0.002)
    metrics.tally.flush()
    reference = Metrics()
    for seconds in timings:
        reference.db_duration.labels("read").observe(seconds)
    reference.db_duration.labels("write").observe(0.002)
    name = "cargobay_db_query_duration_seconds_bucket"
    ours = {k: v for k, v in samples(metrics).items() if k[0].startswith(name[:-7])}
    theirs = {k: v for k, v in samples(reference).items() if k[0].startswith(name[:-7])}
    assert ours and ours == pytest.approx(theirs)
    metrics.tally.flush()  # nothing pending: nothing added twice
    assert value(metrics, "cargobay_db_query_duration_seconds_count", op="read") == len(timings)

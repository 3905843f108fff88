"""What the metrics cost (issue 18, beyond-gitlab §6.2: at most 3 % on small GETs).

    .venv/bin/python -m bench.metrics [--runs N] [--seconds S] [--out FILE]
    (make bench runs it with the defaults)

Three `cargobay serve --workers 2` on the embedded default, started together and idle
while another is measured:
  - ``on``: the defaults (metrics and the access log);
  - ``off``: ``CARGOBAY_METRICS_ENABLED=false``, the access log still on: the difference
    to ``on`` is the metrics' cost;
  - ``bare``: metrics and access log off (``CARGOBAY_ACCESS_LOG=false``): no request
    layer at all, so ``off`` against ``bare`` is the access log's cost.
Two workloads, each server's runs taking turns (the order rotated each round, so none is
always first after a ``sync``): 1 KiB authenticated downloads over 64 connections (the
fast lane, as bench/run.py) and 1 KiB uploads over 16 connections (wrk PUT, a new name
and content each, as bench/load.py). Medians of the runs; the ratio ``on / off`` of the
medians, and the median of each round's ratio (neighbours in time, so drift of a shared
machine falls on both). After the runs the ``on`` server's own count of downloads is
read from /-/metrics and compared with what wrk sent.

On a shared 2-core machine the rate of one wrk run moves by more than 3 % from one run to
the next, so the cost is also measured where it is paid, in microseconds of CPU: the
request layer (api/observability.py) around a stand-in for the fast lane's 1 KiB answer,
in one process with prometheus-client's multiprocess files as with two workers, access
log off, with metrics and without, taking turns (``--layer-only`` runs just this part).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families
from tests.e2e.load import wrk_summary
from tests.e2e.server import Server, make_server

from bench.load import WRK_PUT

VARIANTS: dict[str, dict[str, str]] = {
    "on": {},
    "off": {"metrics_enabled": "false"},
    "bare": {"metrics_enabled": "false", "access_log": "false"},
}
GENERIC = "/api/v4/projects/{id}/packages/generic/{package_name}/{package_version}/{file_path}"


def progress(step: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {step}", file=sys.stderr, flush=True)


def wrk(
    url: str, token: str, seconds: int, connections: int, script: Path | None = None
) -> dict[str, Any]:
    args = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency"]
    if script is not None:
        args += ["-s", str(script)]
    args += ["-H", f"PRIVATE-TOKEN: {token}", url]
    out = subprocess.run(args, capture_output=True, text=True, check=True).stdout
    summary = wrk_summary(out, seconds)
    return {k: summary[k] for k in ("count", "per_second", "p50_ms", "p99_ms", "errors")}


@contextmanager
def serve(tmp: Path, name: str, settings: dict[str, str]) -> Iterator[tuple[Server, str, str]]:
    """A server with two workers, root's token and its project's generic URL."""
    server = make_server(tmp / name, workers="2", **settings)
    token = server.cli("admin", "bootstrap")
    server.cli("admin", "create-project", "root", "bench")
    server.start()
    try:
        yield server, token, f"{server.api}/projects/root%2Fbench/packages/generic"
    finally:
        server.stop()


def summarize(runs: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    rps = {name: [r["per_second"] for r in rs] for name, rs in runs.items()}
    median = {name: statistics.median(v) for name, v in rps.items()}
    rounds = len(rps["on"])
    paired = [rps["on"][i] / rps["off"][i] for i in range(rounds)]
    return {
        "rps": rps,
        "median_rps": median,
        "p99_ms": {name: statistics.median(r["p99_ms"] for r in rs) for name, rs in runs.items()},
        "errors": {name: sum(r["errors"] for r in rs) for name, rs in runs.items()},
        "on_vs_off": round(median["on"] / median["off"], 4),
        "on_vs_off_paired_median": round(statistics.median(paired), 4),
        "off_vs_bare": round(median["off"] / median["bare"], 4),
        "on_vs_bare": round(median["on"] / median["bare"], 4),
    }


def taking_turns(
    rounds: int, servers: dict[str, tuple[Server, str, str]], one_run: Any
) -> dict[str, list[dict[str, Any]]]:
    names = list(servers)
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in names}
    for i in range(rounds):
        order = names[i % len(names) :] + names[: i % len(names)]
        for name in order:
            os.sync()
            runs[name].append(one_run(i, *servers[name]))
    return runs


def counted_downloads(server: Server) -> float:
    text = httpx.get(f"{server.base_url}/-/metrics", timeout=30).text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if (
                sample.name == "cargobay_http_requests_total"
                and sample.labels.get("route") == GENERIC
                and sample.labels.get("method") == "get"
                and sample.labels.get("status") == "200"
            ):
                return sample.value
    return 0.0


def layer_cost(rounds: int = 9, batches: int = 100, batch: int = 100) -> dict[str, Any]:
    """Microseconds per request of the request layer with and without metrics, in this
    process (PROMETHEUS_MULTIPROC_DIR set by the caller); each batch of ``batch`` requests
    ends with the flush a worker's timer would do (100 per 50 ms is 2,000 req/s)."""
    from starlette.routing import Route
    from starlette.types import Receive, Scope, Send

    from cargobay.api.observability import EXCHANGE, Observability
    from cargobay.services.metrics import Metrics

    route = Route(GENERIC.replace("{file_path}", "{file_path:path}"), lambda r: None)
    body = os.urandom(1024)
    head = {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"1024")]}

    async def lane(scope: Scope, receive: Receive, send: Send) -> None:
        scope["route"] = route
        exchange = scope.get(EXCHANGE)
        if exchange is not None:
            exchange.delivery = "memory"
        await send(dict(head))
        await send({"type": "http.response.body", "body": body})

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    async def send(message: Any) -> None:
        pass

    path = "/api/v4/projects/1/packages/generic/small/1.0/small.bin"

    def scope() -> dict[str, Any]:
        return {
            "type": "http",
            "method": "GET",
            "path": path,
            "raw_path": path.encode(),
            "query_string": b"",
            "headers": [(b"private-token", b"glpat-x"), (b"user-agent", b"wrk")],
            "client": ("127.0.0.1", 40000),
        }

    metrics = Metrics()
    layers: dict[str, Any] = {
        "on": Observability(lane, metrics, None, "127.0.0.1", False),
        "off": Observability(lane, None, None, "127.0.0.1", False),
    }
    tally = getattr(metrics, "tally", None)  # absent before RequestTally (for a before/after)

    async def timed(layer: Any) -> float:
        total = 0.0
        for _ in range(batches):
            start = time.perf_counter()
            for _ in range(batch):
                await layer(scope(), receive, send)
            if tally is not None:
                tally.flush()
            total += time.perf_counter() - start
        return total / (batches * batch) * 1e6

    async def measure() -> dict[str, list[float]]:
        for layer in layers.values():
            await timed(layer)  # warm-up
        runs: dict[str, list[float]] = {name: [] for name in layers}
        for i in range(rounds):
            for name in list(layers)[i % 2 :] + list(layers)[: i % 2]:
                runs[name].append(await timed(layer=layers[name]))
        return runs

    runs = asyncio.run(measure())
    median = {name: statistics.median(v) for name, v in runs.items()}
    paired = [a - b for a, b in zip(runs["on"], runs["off"], strict=True)]
    return {
        "us_per_request": {name: [round(x, 2) for x in v] for name, v in runs.items()},
        "median_us": {name: round(v, 2) for name, v in median.items()},
        "metrics_us": round(statistics.median(paired), 2),
    }


def layer_cost_in_worker_mode() -> dict[str, Any]:
    """layer_cost in a fresh interpreter whose prometheus-client writes memory-mapped
    files, as a worker of ``--workers 2`` does (the mode is fixed at import)."""
    with tempfile.TemporaryDirectory(dir="/tmp") as files:
        out = subprocess.run(
            [sys.executable, "-m", "bench.metrics", "--layer-only"],
            env={**os.environ, "PROMETHEUS_MULTIPROC_DIR": files},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    result: dict[str, Any] = json.loads(out)
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5, help="rounds of each workload")
    parser.add_argument("--seconds", type=int, default=10, help="each wrk run")
    parser.add_argument(
        "--out", type=Path, default=Path(__file__).parent / "results" / "metrics.json"
    )
    parser.add_argument("--layer-only", action="store_true", help="the in-process part only")
    args = parser.parse_args()
    if args.layer_only:
        if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            print(json.dumps(layer_cost_in_worker_mode(), indent=2))
        else:
            print(json.dumps(layer_cost()))
        return
    progress("the request layer in process, metrics on and off")
    results: dict[str, Any] = {"runs": args.runs, "seconds": args.seconds}
    results["layer_in_process"] = layer_cost_in_worker_mode()
    small = os.urandom(1024)
    with tempfile.TemporaryDirectory(dir="/tmp") as tmp_name, ExitStack() as stack:
        tmp = Path(tmp_name)
        script = tmp / "put.lua"
        script.write_text(WRK_PUT)
        servers = {
            name: stack.enter_context(serve(tmp, name, settings))
            for name, settings in VARIANTS.items()
        }
        sent_to_on = 0
        for name, (_server, token, generic) in servers.items():
            put = httpx.put(
                f"{generic}/small/1.0/small.bin", content=small, headers={"PRIVATE-TOKEN": token}
            )
            assert put.status_code == 201, put.text
            # Warm-up, not counted: readiness proves one worker up, not both.
            warm = wrk(f"{generic}/small/1.0/small.bin", token, 3, 64)
            if name == "on":
                sent_to_on += warm["count"]

        def download(_: int, server: Server, token: str, generic: str) -> dict[str, Any]:
            return wrk(f"{generic}/small/1.0/small.bin", token, args.seconds, 64)

        def upload(i: int, server: Server, token: str, generic: str) -> dict[str, Any]:
            return wrk(f"{generic}/wrk/{i}/", token, args.seconds, 16, script)

        progress(f"1 KiB downloads, 64 connections, {args.runs} rounds of on/off/bare")
        downloads = taking_turns(args.runs, servers, download)
        sent_to_on += sum(r["count"] for r in downloads["on"])
        results["downloads_1kib_64conn"] = summarize(downloads) | {
            "on_counted_by_metrics": counted_downloads(servers["on"][0]),
            "on_sent_by_wrk": sent_to_on,
        }
        progress(f"1 KiB uploads, 16 connections, {args.runs} rounds of on/off/bare")
        results["uploads_1kib_16conn"] = summarize(taking_turns(args.runs, servers, upload))
    # The metrics' CPU per request against what a request costs the server at most: two
    # cores (shared with wrk, so this overstates it) over the rate with metrics off.
    per_request_us = (
        (os.cpu_count() or 1) * 1e6 / results["downloads_1kib_64conn"]["median_rps"]["off"]
    )
    results["layer_in_process"]["metrics_share_of_request_cpu"] = round(
        results["layer_in_process"]["metrics_us"] / per_request_us, 4
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()

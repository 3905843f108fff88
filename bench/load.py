"""The write path under load, against nginx where a reference applies (issue 13).

    .venv/bin/python -m bench.load [--quick] [--out FILE]     (make bench runs it)

Cargobay runs as `cargobay serve` with its defaults (one worker per CPU); nginx on the
same machine is the yardstick. Measures:
  - one idle 1 KiB upload at a time over a keep-alive connection: p50, p90;
  - 1 KiB uploads over 16 keep-alive connections (wrk, a unique name and content per
    request), against nginx's DAV PUT of the same bytes. nginx writes its file and does
    not fsync; Cargobay makes the blob and its database row durable before it answers;
  - a slow-body attack: 20 uploads trickling 1 KiB every 2 s, and a normal upload's
    latency meanwhile;
  - the mixed soak (tests/e2e/load.py): 70 clients downloading 1 KiB files, 20
    uploading 1 KiB files, 10 listing packages, one moving 50 MiB both ways every 30 s,
    for 5 minutes, on the embedded default and on PostgreSQL + S3 (SeaweedFS); errors,
    acknowledged uploads lost, rates, p50/p99 per kind, and the server's RSS growth
    over the last 3 minutes.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import httpx
import psutil
from tests.backends import PostgresCluster, SeaweedS3
from tests.e2e.load import KIB, MIB, Mix, run_mix
from tests.e2e.nginx import nginx
from tests.e2e.server import Server, free_port, make_server

from bench.run import wrk

WRK_PUT = """
local counter, id = 0, 0
local pad = string.rep("x", 1024)
function setup(thread)
  id = id + 1
  thread:set("id", id)
end
function request()
  counter = counter + 1
  local name = string.format("t%d-%d", id, counter)
  local body = string.sub(name .. pad, 1, 1024)
  return wrk.format("PUT", wrk.path .. name .. ".bin", nil, body)
end
"""


def progress(step: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {step}", file=sys.stderr, flush=True)


def tree_rss(pid: int) -> int:
    total = 0
    root = psutil.Process(pid)
    for proc in [root, *root.children(recursive=True)]:
        with suppress(psutil.Error):
            total += proc.memory_info().rss
    return total


@contextmanager
def default_server(tmp: Path, **settings: str) -> Iterator[tuple[Server, str, str]]:
    """`cargobay serve` with its defaults; yields it, root's token and the project."""
    server = make_server(tmp, workers="0", **settings)
    token = server.cli("admin", "bootstrap")
    project = server.cli("admin", "create-project", "root", "bench")
    server.start()
    time.sleep(1.0)  # readiness proves one worker up, not all
    try:
        yield server, token, project
    finally:
        server.stop()


def idle_uploads(server: Server, token: str, project: str, count: int) -> dict[str, float]:
    base = f"{server.api}/projects/{project}/packages/generic/idle/1.0.0"
    seconds = []
    with httpx.Client(headers={"PRIVATE-TOKEN": token}) as client:
        for i in range(count + 20):
            body = os.urandom(KIB)
            t = time.perf_counter()
            put = client.put(f"{base}/f{i}.bin", content=body)
            elapsed = time.perf_counter() - t
            assert put.status_code == 201, put.text
            if i >= 20:  # the first ones warm up connections and caches
                seconds.append(elapsed)
    seconds.sort()
    return {
        "count": count,
        "p50_ms": round(statistics.median(seconds) * 1000, 2),
        "p90_ms": round(seconds[int(0.9 * len(seconds))] * 1000, 2),
    }


def slow_body_attack(server: Server, token: str, project: str, seconds: float) -> dict[str, Any]:
    """20 uploads trickling 1 KiB every 2 s; a normal 1 KiB upload every 0.5 s meanwhile."""
    path = f"/api/v4/projects/{project}/packages/generic/trickle/1.0.0"
    socks = []
    for i in range(20):
        sock = socket.create_connection(("127.0.0.1", server.port))
        head = (
            f"PUT {path}/t{i}.bin HTTP/1.1\r\nHost: 127.0.0.1\r\nPRIVATE-TOKEN: {token}\r\n"
            f"Content-Length: {100 * MIB}\r\n\r\n"
        )
        sock.sendall(head.encode())
        socks.append(sock)
    stop = threading.Event()

    def trickle() -> None:
        while not stop.wait(2.0):
            for sock in socks:
                with suppress(OSError):
                    sock.sendall(os.urandom(KIB))

    thread = threading.Thread(target=trickle, daemon=True)
    thread.start()
    latencies, failures = [], 0
    base = f"{server.api}/projects/{project}/packages/generic/normal/1.0.0"
    try:
        with httpx.Client(headers={"PRIVATE-TOKEN": token}, timeout=60) as client:
            deadline = time.monotonic() + seconds
            i = 0
            while time.monotonic() < deadline:
                i += 1
                t = time.perf_counter()
                put = client.put(f"{base}/n{i}.bin", content=os.urandom(KIB))
                latencies.append(time.perf_counter() - t)
                failures += put.status_code != 201
                time.sleep(0.5)
    finally:
        stop.set()
        thread.join()
        for sock in socks:
            sock.close()
    return {
        "tricklers": len(socks),
        "normal_uploads": len(latencies),
        "failures": failures,
        "p50_ms": round(statistics.median(latencies) * 1000, 1),
        "max_ms": round(max(latencies) * 1000, 1),
    }


def soak(tmp: Path, seconds: float, **settings: str) -> dict[str, Any]:
    with default_server(tmp, **settings) as (server, token, project):
        assert server.proc is not None
        pid = server.proc.pid
        samples: list[tuple[float, int]] = []

        def sample() -> None:
            samples.append((time.monotonic(), tree_rss(pid)))

        mix = Mix(seconds=seconds, wrk_downloads=True)
        result = asyncio.run(run_mix(server.api, project, token, mix, sample=sample))
        errors_in_log = server.log().count("Traceback")
    summary = result.summary()
    end = samples[-1][0]
    window = min(180.0, seconds * 0.6)
    start_rss = next(rss for t, rss in samples if t >= end - window)
    summary["rss_mb_start_of_window"] = round(start_rss / MIB, 1)
    summary["rss_mb_end"] = round(samples[-1][1] / MIB, 1)
    summary["rss_growth_pct"] = round((samples[-1][1] - start_rss) / start_rss * 100, 1)
    summary["rss_window_s"] = window
    summary["tracebacks_in_log"] = errors_in_log
    return summary


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="1-minute soaks, short wrk runs")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "load.json")
    args = parser.parse_args()
    soak_seconds = 60.0 if args.quick else 300.0
    wrk_seconds = 5 if args.quick else 10
    runs = 2 if args.quick else 3
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(dir="/tmp") as tmp_name:
        tmp = Path(tmp_name)
        script = tmp / "put.lua"
        script.write_text(WRK_PUT)
        port = free_port()
        with nginx(tmp / "nginx", port), default_server(tmp / "writes") as (server, token, project):
            progress("idle 1 KiB uploads, one at a time")
            results["idle_upload_1kib"] = idle_uploads(server, token, project, 300)
            progress(f"1 KiB uploads, 16 keep-alive connections (wrk PUT), {runs} runs each")
            ours_url = f"{server.api}/projects/{project}/packages/generic/wrk/1.0.0/"
            theirs_url = f"http://127.0.0.1:{port}/upload/"
            ours, theirs = [], []
            for _ in range(runs):
                ours.append(wrk(ours_url, {"PRIVATE-TOKEN": token}, wrk_seconds, 16, script))
                theirs.append(wrk(theirs_url, {}, wrk_seconds, 16, script))
            middle = len(ours) // 2
            ours_median = sorted(ours, key=lambda r: r["rps"])[middle]
            theirs_median = sorted(theirs, key=lambda r: r["rps"])[middle]
            results["uploads_1kib_16conn"] = {
                "cargobay": ours_median,
                "nginx_dav": theirs_median,
                "cargobay_rps_runs": [r["rps"] for r in ours],
                "nginx_rps_runs": [r["rps"] for r in theirs],
                "ratio_vs_nginx": round(ours_median["rps"] / theirs_median["rps"], 3),
            }
            progress("slow-body attack: 20 trickling uploads")
            results["slow_body_attack"] = slow_body_attack(server, token, project, 20.0)

        progress(f"mixed soak, {soak_seconds:.0f} s, embedded default")
        results["soak_sqlite_local"] = soak(tmp / "soak-default", soak_seconds)
        progress(f"mixed soak, {soak_seconds:.0f} s, PostgreSQL + S3")
        cluster, s3 = PostgresCluster.start(), SeaweedS3.start()
        try:
            results["soak_pg_s3"] = soak(
                tmp / "soak-pg",
                soak_seconds,
                database_url=cluster.empty_database(),
                **s3.settings(s3.fresh_prefix()),
            )
        finally:
            s3.stop()
            cluster.stop()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()

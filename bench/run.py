"""Cargobay against nginx on the same machine, in the same run (issue: performance).

    make bench            # or: .venv/bin/python -m bench.run [--quick]

Starts Cargobay on the embedded default (SQLite + local blobs) and nginx (sendfile on,
DAV PUT) on loopback, then measures, as medians of several runs with min and max:
  - upload 1 GiB with `curl -T`: Cargobay vs the one-thread md5+sha1+sha256 rate of this
    machine (from memory) and vs nginx accepting the same upload;
  - peak memory of the server during a 5 GiB upload;
  - download 1 GiB: Cargobay vs nginx, and Cargobay behind nginx (docs/deployment.md:
    X-Accel-Redirect) vs nginx;
  - 1 KiB authenticated downloads, 64 connections (wrk): req/s vs nginx static, p50/p99;
  - Packages API list pages at 100,000 packages (bench/listing.py);
  - 100 concurrent 1 MiB uploads into one package: throughput, errors, files present;
  - a 1 GiB package as one archive against file by file (bench/archives.py);
  - metrics on against off on small downloads and uploads (bench/metrics.py);
  - peak resident memory of the server process tree during each.
Writes bench/results/results.{json,md} and bench/results/throughput.png.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import httpx
import psutil
from tests.e2e.load import wrk_summary
from tests.e2e.nginx import nginx, nginx_in_front
from tests.e2e.server import Server, free_port, make_server

GIB = 1024**3
MIB = 1024**2
RESULTS = Path(__file__).parent / "results"
SHM = Path("/dev/shm") if Path("/dev/shm").is_dir() else Path(tempfile.gettempdir())


class PeakRss:
    """Samples the resident memory of a process and all its children every 50 ms. The
    process tree is listed once a second: listing it walks all of /proc, work the
    machine under measurement need not do 20 times a second."""

    def __init__(self, pid: int) -> None:
        self.root = psutil.Process(pid)
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        tree: list[psutil.Process] = []
        listed = 0.0
        while not self._stop.is_set():
            if time.monotonic() - listed > 1:
                tree = [self.root, *self.root.children(recursive=True)]
                listed = time.monotonic()
            total = 0
            for proc in tree:
                with suppress(psutil.Error):
                    total += proc.memory_info().rss
            self.peak = max(self.peak, total)
            self._stop.wait(0.05)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def progress(step: str) -> None:
    """What the bench is doing now, on stderr (a full run takes ~15 minutes)."""
    print(f"[{time.strftime('%H:%M:%S')}] {step}", file=sys.stderr, flush=True)


def stats(values: list[float]) -> dict[str, float]:
    return {
        "median": round(statistics.median(values), 2),
        "min": round(min(values), 2),
        "max": round(max(values), 2),
    }


def curl(*args: str) -> float:
    """Run curl, return seconds taken; fail on HTTP errors."""
    out = subprocess.run(
        [
            "curl",
            "--silent",
            "--show-error",
            "--fail",
            "--output",
            "/dev/null",
            "--write-out",
            "%{time_total}",
            *args,
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return float(out.stdout)


def make_file(path: Path, size: int) -> Path:
    if not path.exists() or path.stat().st_size != size:
        block = os.urandom(min(size, 4 * MIB))
        with path.open("wb") as f:
            written = 0
            while written < size:
                f.write(block[: min(len(block), size - written)])
                written += len(block)
    return path


def interleaved(runs: int, **servers: Callable[[], float]) -> dict[str, list[float]]:
    """Seconds of each run of each server, the servers taking turns after a ``sync``:
    whatever else the machine is doing meanwhile falls on all alike instead of on
    whichever ran first."""
    seconds: dict[str, list[float]] = {name: [] for name in servers}
    for _ in range(runs):
        for name, run in servers.items():
            os.sync()
            seconds[name].append(run())
    return seconds


def blob_file(server: Server, source: Path) -> Path:
    """Where Cargobay's local store keeps the blob of ``source``'s bytes."""
    digest = hashlib.sha256()
    with source.open("rb") as f:
        while block := f.read(8 * MIB):
            digest.update(block)
    sha = digest.hexdigest()
    return server.data_dir / "blobs" / "sha256" / sha[:2] / sha[2:4] / sha


def checksum_rate(size: int = GIB) -> float:
    """MB/s at which one thread computes md5, sha1 and sha256 of `size` bytes in memory."""
    block = os.urandom(8 * MIB)
    start = time.perf_counter()
    md5, sha1, sha256 = hashlib.md5(), hashlib.sha1(), hashlib.sha256()
    for _ in range(size // len(block)):
        md5.update(block)
        sha1.update(block)
        sha256.update(block)
    return size / MIB / (time.perf_counter() - start)


def cpu_probe() -> float:
    """Milliseconds a fixed Python loop takes: taken at the start and the end of a run, it
    shows whether the machine (a shared VM) ran at the same speed throughout."""
    start = time.perf_counter()
    total = 0
    for i in range(3_000_000):
        total += i
    return round((time.perf_counter() - start) * 1000, 1)


def wrk(
    url: str,
    headers: dict[str, str],
    seconds: int,
    connections: int = 64,
    script: Path | None = None,
) -> dict[str, float]:
    """A wrk run's rate and latencies; ``errors`` counts non-2xx answers and socket
    errors. ``script``: a Lua script shaping each request (bench/load.py's PUTs)."""
    args = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency"]
    if script is not None:
        args += ["-s", str(script)]
    for key, value in headers.items():
        args += ["-H", f"{key}: {value}"]
    out = subprocess.run([*args, url], capture_output=True, text=True, check=True).stdout
    summary = wrk_summary(out, seconds)
    return {key: summary[key] for key in ("p50_ms", "p99_ms", "errors")} | {
        "rps": summary["per_second"]
    }


def median_run(runs: list[dict[str, float]]) -> dict[str, float]:
    """The run with the median request rate (its latencies go with it)."""
    return sorted(runs, key=lambda r: r["rps"])[len(runs) // 2]


@contextmanager
def cargobay(tmp: Path, workers: int) -> Iterator[tuple[Server, str, str]]:
    # Above the 5 GiB default limit: the bench uploads a file of exactly 5 GiB.
    # accel_redirect: downloads that nginx_in_front proxies are sent by nginx.
    server = make_server(
        tmp / f"cargobay-{workers}",
        max_file_size=str(6 * GIB),
        accel_redirect="/_cargobay/blobs/",
    )
    token = server.cli("admin", "bootstrap")
    server.cli("admin", "create-project", "root", "bench")
    server.start("--workers", str(workers))
    try:
        yield server, token, f"{server.api}/projects/root%2Fbench/packages/generic"
    finally:
        server.stop()


def sub_bench(module: str, extra: list[str]) -> Any:
    """Run ``bench.<module>`` as its own process; its results, from its --out file."""
    out = RESULTS / f"{module}.json"
    subprocess.run(
        [sys.executable, "-m", f"bench.{module}", "--out", str(out), *extra],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return json.loads(out.read_text())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="fewer runs, shorter wrk")
    args = parser.parse_args()
    runs = 2 if args.quick else 5
    wrk_seconds = 5 if args.quick else 10
    results: dict[str, Any] = {
        "machine": {
            "cpus": os.cpu_count(),
            "memory_gib": round(psutil.virtual_memory().total / GIB, 1),
            "cpu_probe_ms_start": cpu_probe(),
        }
    }
    with tempfile.TemporaryDirectory(dir="/tmp") as tmp_name:
        tmp = Path(tmp_name)
        big = make_file(SHM / "cargobay-bench-1g.bin", GIB)
        rate = checksum_rate()
        results["checksum_rate_mb_s"] = round(rate, 1)
        port = free_port()
        with nginx(tmp / "nginx", port) as www, cargobay(tmp, 1) as (server, token, generic):
            auth = ["--header", f"PRIVATE-TOKEN: {token}"]
            nginx_url = f"http://127.0.0.1:{port}"

            progress(f"upload 1 GiB, {runs} runs each")
            # Upload 1 GiB: each server's runs together, after a sync, so that neither
            # writes while the other's uploads are still being written back.
            os.sync()
            with PeakRss(server.proc.pid) as rss:  # type: ignore[union-attr]
                ours = [
                    curl(*auth, "-T", str(big), f"{generic}/big/{i}/big.bin") for i in range(runs)
                ]
            os.sync()
            theirs = [curl("-T", str(big), f"{nginx_url}/upload/big-{i}.bin") for i in range(runs)]
            os.sync()
            up = GIB / MIB / statistics.median(ours)
            up_nginx = GIB / MIB / statistics.median(theirs)
            results["upload_1gib"] = {
                "cargobay_mb_s": stats([GIB / MIB / t for t in ours]),
                "nginx_mb_s": stats([GIB / MIB / t for t in theirs]),
                "ratio_vs_checksum_rate": round(up / rate, 3),
                "ratio_vs_nginx": round(up / up_nginx, 3),
                "peak_rss_mb": round(rss.peak / MIB, 1),
            }

            progress("upload 5 GiB (peak memory)")
            # Peak memory during a 5 GiB upload (a sparse file: reading it costs nothing)
            five = tmp / "five-gib.bin"
            with five.open("wb") as f:
                f.truncate(5 * GIB)
            with PeakRss(server.proc.pid) as rss:  # type: ignore[union-attr]
                seconds = curl(*auth, "-T", str(five), f"{generic}/five/1.0/five.bin")
            results["upload_5gib"] = {
                "mb_s": round(5 * GIB / MIB / seconds, 1),
                "peak_rss_mb": round(rss.peak / MIB, 1),
            }
            five.unlink()

            progress(f"download 1 GiB, {runs} runs each: direct, behind nginx, nginx")
            # Download 1 GiB: nginx serves the very file Cargobay stored. Cargobay sends
            # it itself, and behind the nginx of docs/deployment.md hands it to nginx.
            (www / "big.bin").symlink_to(blob_file(server, big))
            with (
                PeakRss(server.proc.pid) as rss,  # type: ignore[union-attr]
                nginx_in_front(
                    tmp / "front", free_port(), server.port, server.data_dir / "blobs"
                ) as front,
            ):
                runs_of = interleaved(
                    runs,
                    ours=lambda: curl(*auth, f"{generic}/big/0/big.bin"),
                    behind=lambda: curl(
                        *auth, f"{front}{generic.split(server.base_url)[1]}/big/0/big.bin"
                    ),
                    theirs=lambda: curl(f"{nginx_url}/big.bin"),
                )
            ours, behind, theirs = runs_of["ours"], runs_of["behind"], runs_of["theirs"]
            results["download_1gib"] = {
                "cargobay_mb_s": stats([GIB / MIB / t for t in ours]),
                "behind_nginx_mb_s": stats([GIB / MIB / t for t in behind]),
                "nginx_mb_s": stats([GIB / MIB / t for t in theirs]),
                "ratio_vs_nginx": round(statistics.median(theirs) / statistics.median(ours), 3),
                "behind_nginx_ratio_vs_nginx": round(
                    statistics.median(theirs) / statistics.median(behind), 3
                ),
                "peak_rss_mb": round(rss.peak / MIB, 1),
            }

            progress("throughput against file size, 1 KiB to 1 GiB")
            # Throughput against file size, both ways, for the plot
            sizes = [1024, 64 * 1024, MIB, 16 * MIB, 256 * MIB, GIB]
            curve: dict[str, dict[str, list[float]]] = {}
            for size in sizes:
                src = big if size == GIB else make_file(tmp / f"f{size}", size)
                n = max(2, min(20, (64 * MIB) // size)) if size < GIB else runs
                point = {
                    "cargobay_upload": [
                        curl(*auth, "-T", str(src), f"{generic}/curve/{size}-{i}/f.bin")
                        for i in range(n)
                    ],
                    "nginx_upload": [
                        curl("-T", str(src), f"{nginx_url}/upload/c{size}-{i}") for i in range(n)
                    ],
                }
                (www / f"f{size}").symlink_to(blob_file(server, src))
                point["cargobay_download"] = [
                    curl(*auth, f"{generic}/curve/{size}-0/f.bin") for i in range(n)
                ]
                point["nginx_download"] = [curl(f"{nginx_url}/f{size}") for i in range(n)]
                curve[str(size)] = {k: size / MIB / statistics.median(v) for k, v in point.items()}  # type: ignore[misc]
            results["throughput_by_size_mb_s"] = curve

            progress("100 concurrent 1 MiB uploads")
            # 100 concurrent 1 MiB uploads into one package
            payloads = [os.urandom(MIB) for _ in range(100)]

            async def burst() -> tuple[float, list[int]]:
                limits = httpx.Limits(max_connections=100)
                async with httpx.AsyncClient(
                    headers={"PRIVATE-TOKEN": token}, limits=limits, timeout=120
                ) as client:
                    start = time.perf_counter()
                    responses = await asyncio.gather(
                        *[
                            client.put(f"{generic}/burst/1.0/file-{i}.bin", content=payloads[i])
                            for i in range(100)
                        ]
                    )
                    return time.perf_counter() - start, [r.status_code for r in responses]

            with PeakRss(server.proc.pid) as rss:  # type: ignore[union-attr]
                elapsed, codes = asyncio.run(burst())
            listing = httpx.get(
                f"{server.api}/projects/root%2Fbench/packages",
                params={"package_name": "burst"},
                headers={"PRIVATE-TOKEN": token},
            ).json()
            files = httpx.get(
                f"{server.api}/projects/root%2Fbench/packages/{listing[0]['id']}/package_files",
                params={"per_page": 100},
                headers={"PRIVATE-TOKEN": token},
            ).json()
            results["concurrent_uploads_100x1mib"] = {
                "seconds": round(elapsed, 2),
                "mb_s": round(100 / elapsed, 1),
                "errors": sum(1 for c in codes if c != 201),
                "files_present": len(files),
                "peak_rss_mb": round(rss.peak / MIB, 1),
            }

        progress(f"1 KiB authenticated downloads, {runs} wrk runs each")
        # 1 KiB authenticated downloads, 64 connections: both servers with 2 workers
        with nginx(tmp / "nginx2", port) as www, cargobay(tmp, 2) as (server, token, generic):
            small = make_file(tmp / "small.bin", 1024)
            (www / "small.bin").symlink_to(small)
            curl(
                "--header",
                f"PRIVATE-TOKEN: {token}",
                "-T",
                str(small),
                f"{generic}/small/1.0/small.bin",
            )
            ours_url = f"{generic}/small/1.0/small.bin"
            theirs_url = f"http://127.0.0.1:{port}/small.bin"
            # Warm-up, not counted: readiness proves one worker up, not both.
            wrk(ours_url, {"PRIVATE-TOKEN": token}, 3)
            wrk(theirs_url, {}, 3)
            with PeakRss(server.proc.pid) as rss:  # type: ignore[union-attr]
                small_ours = [
                    wrk(ours_url, {"PRIVATE-TOKEN": token}, wrk_seconds) for _ in range(runs)
                ]
            small_theirs = [wrk(theirs_url, {}, wrk_seconds) for _ in range(runs)]
            ours_median, theirs_median = median_run(small_ours), median_run(small_theirs)
            results["small_downloads_1kib_64conn"] = {
                "cargobay": ours_median,
                "cargobay_rps": stats([r["rps"] for r in small_ours]),
                "nginx": theirs_median,
                "nginx_rps": stats([r["rps"] for r in small_theirs]),
                "ratio_vs_nginx": round(ours_median["rps"] / theirs_median["rps"], 3),
                "peak_rss_mb": round(rss.peak / MIB, 1),
            }

    progress("Packages API pages at 100,000 packages (bench/listing.py)")
    listing_out = RESULTS / "listing.json"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.listing",
            "--runs",
            "5" if args.quick else "20",
            "--out",
            str(listing_out),
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    listing_results = json.loads(listing_out.read_text())["results"]
    results["packages_list_100k"] = {
        "worst_median_ms": max(r["median_ms"] for r in listing_results),
        "best_median_ms": min(r["median_ms"] for r in listing_results),
    }
    progress("the write path under load, the mixed soaks (bench/load.py)")
    results["load"] = sub_bench("load", ["--quick"] if args.quick else [])
    progress("a 1 GiB package as one archive against file by file (bench/archives.py)")
    results["archives_1gib"] = sub_bench("archives", ["--runs", "1"] if args.quick else [])
    progress("publishing a directory against a curl loop (bench/publish.py)")
    results["publish_tree"] = sub_bench("publish", ["--quick"] if args.quick else [])
    progress("metrics on against off, same run (bench/metrics.py)")
    results["metrics_overhead"] = sub_bench(
        "metrics", ["--runs", "2", "--seconds", "5"] if args.quick else []
    )
    results["machine"]["cpu_probe_ms_end"] = cpu_probe()
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "results.json").write_text(json.dumps(results, indent=2))
    (RESULTS / "results.md").write_text(render(results))
    plot(results["throughput_by_size_mb_s"], RESULTS / "throughput.png")
    print(render(results))


def render(r: dict[str, Any]) -> str:
    up, down, small, burst = (
        r["upload_1gib"],
        r["download_1gib"],
        r["small_downloads_1kib_64conn"],
        r["concurrent_uploads_100x1mib"],
    )
    lines = [
        f"Machine: {r['machine']['cpus']} cores, {r['machine']['memory_gib']} GiB. "
        f"One-thread md5+sha1+sha256: {r['checksum_rate_mb_s']} MB/s. "
        f"CPU probe (a fixed Python loop): {r['machine']['cpu_probe_ms_start']} ms at the "
        f"start, {r['machine']['cpu_probe_ms_end']} ms at the end.",
        "",
        "| measure | Cargobay (median [min-max]) | reference | ratio | peak RSS |",
        "|---|---|---|---|---|",
        f"| upload 1 GiB, MB/s | {fmt(up['cargobay_mb_s'])} | checksums {r['checksum_rate_mb_s']}; nginx {fmt(up['nginx_mb_s'])} | "
        f"{up['ratio_vs_checksum_rate']} of checksum rate; {up['ratio_vs_nginx']} of nginx | {up['peak_rss_mb']} MB |",
        f"| upload 5 GiB (memory) | {r['upload_5gib']['mb_s']:.0f} MB/s | | | {r['upload_5gib']['peak_rss_mb']} MB |",
        f"| download 1 GiB, MB/s | {fmt(down['cargobay_mb_s'])} | nginx {fmt(down['nginx_mb_s'])} | {down['ratio_vs_nginx']} | {down['peak_rss_mb']} MB |",
        f"| download 1 GiB behind nginx (X-Accel-Redirect), MB/s | {fmt(down['behind_nginx_mb_s'])} | nginx {fmt(down['nginx_mb_s'])} | {down['behind_nginx_ratio_vs_nginx']} | |",
        f"| 1 KiB auth downloads, 64 conn, req/s | {fmt(small['cargobay_rps'])} (p50 {small['cargobay']['p50_ms']} ms, p99 {small['cargobay']['p99_ms']} ms) | "
        f"nginx static {fmt(small['nginx_rps'])} | {small['ratio_vs_nginx']} | {small['peak_rss_mb']} MB |",
        f"| 100 concurrent 1 MiB uploads | {burst['seconds']} s, {burst['mb_s']} MB/s, {burst['errors']} errors, {burst['files_present']} files | | | {burst['peak_rss_mb']} MB |",
        f"| Packages API page at 100k packages | worst median {r['packages_list_100k']['worst_median_ms']} ms | | | |",
        *render_load(r["load"]),
        *render_archives(r["archives_1gib"]),
        *render_publish(r["publish_tree"]),
        *render_metrics(r["metrics_overhead"]),
    ]
    return "\n".join(lines) + "\n"


def render_load(r: dict[str, Any]) -> list[str]:
    idle, puts, attack = r["idle_upload_1kib"], r["uploads_1kib_16conn"], r["slow_body_attack"]
    lines = [
        f"| one idle 1 KiB upload | p50 {idle['p50_ms']} ms, p90 {idle['p90_ms']} ms | | | |",
        f"| 1 KiB uploads, 16 keep-alive conn (wrk PUT), req/s | {puts['cargobay']['rps']:.0f} "
        f"(p50 {puts['cargobay']['p50_ms']} ms, p99 {puts['cargobay']['p99_ms']} ms, {puts['cargobay']['errors']} errors) | "
        f"nginx DAV PUT, no fsync: {puts['nginx_dav']['rps']:.0f} | {puts['ratio_vs_nginx']} | |",
        f"| normal 1 KiB uploads beside 20 trickling ones | p50 {attack['p50_ms']} ms, max {attack['max_ms']} ms, "
        f"{attack['failures']} failures | | | |",
    ]
    for name in ("soak_sqlite_local", "soak_pg_s3"):
        soak = r[name]
        up, down, lst = soak["upload"], soak["download"], soak["list"]
        lines.append(
            f"| mixed soak {soak['seconds']:.0f} s, {name.removeprefix('soak_')}: errors, lost | "
            f"{soak['errors']} errors, {soak['uploads_lost']} lost of {soak['uploads_acknowledged']}; "
            f"uploads {up['per_second']}/s p50 {up['p50_ms']} p99 {up['p99_ms']} ms; "
            f"downloads {down['per_second']}/s p99 {down['p99_ms']} ms; lists p50 {lst['p50_ms']} p99 {lst['p99_ms']} ms | | | "
            f"{soak['rss_mb_end']} MB, {soak['rss_growth_pct']}% over the last {soak['rss_window_s']:.0f} s |"
        )
    return lines


def render_archives(r: dict[str, Any]) -> list[str]:
    reference = fmt(r["file_by_file"]["mb_s"])
    return [
        f"| 1 GiB package (16 files) as ~archive.{kind.replace('_', '.')}, MB/s | "
        f"{fmt(r[kind]['mb_s'])} | file by file (16 curl calls) {reference} | "
        f"{r[kind]['ratio_vs_file_by_file']} | {r['peak_rss_mb']} MB |"
        for kind in ("tar", "zip", "tar_gz")
    ] + [
        f"| ~archive.tar.gz against one-thread zlib level 1 | "
        f"{r['tar_gz']['mb_s']['median']:.0f} MB/s | zlib {r['zlib_level1_mb_s']} MB/s | "
        f"{r['tar_gz']['ratio_vs_zlib']} | |"
    ]


def render_publish(r: dict[str, Any]) -> list[str]:
    tree = f"{r['files']} files of {r['size'] // 1024} KiB"
    return [
        f"| publish a tree of {tree}, `cargobay publish --jobs {r['jobs']}`, files/s | "
        f"{fmt(r['cargobay_publish']['files_s'])} | sequential `curl -T` loop "
        f"{fmt(r['curl_loop']['files_s'])} | {r['ratio_vs_curl_loop']} | |",
        f"| the same, `python -m cargobay.client publish` (no server imports), files/s | "
        f"{fmt(r['client_only_publish']['files_s'])} | the same loop | "
        f"{r['client_only_publish']['ratio_vs_curl_loop']} | |",
        f"| re-publish of the unchanged tree (0 sent), s | "
        f"{r['republish_unchanged']['seconds']['median']} | | | |",
    ]


def render_metrics(r: dict[str, Any]) -> list[str]:
    return [
        f"| {label} with metrics on, req/s | {w['median_rps']['on']:.0f} | metrics off "
        f"{w['median_rps']['off']:.0f}; no request layer {w['median_rps']['bare']:.0f} | "
        f"{w['on_vs_off']} (paired {w['on_vs_off_paired_median']}) | |"
        for label, w in (
            ("1 KiB downloads, 64 conn", r["downloads_1kib_64conn"]),
            ("1 KiB uploads, 16 conn", r["uploads_1kib_16conn"]),
        )
    ]


def fmt(s: dict[str, float]) -> str:
    return f"{s['median']:.0f} [{s['min']:.0f}-{s['max']:.0f}]"


def plot(curve: dict[str, dict[str, float]], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = [int(s) for s in curve]
    fig, ax = plt.subplots(figsize=(8, 5))
    for key, style in (
        ("cargobay_upload", "o-"),
        ("nginx_upload", "o--"),
        ("cargobay_download", "s-"),
        ("nginx_download", "s--"),
    ):
        ax.plot(sizes, [curve[str(s)][key] for s in sizes], style, label=key.replace("_", " "))
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("file size (bytes)")
    ax.set_ylabel("MB/s (one curl at a time)")
    ax.set_title("Throughput against file size, loopback, same run")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.savefig(out, dpi=110, bbox_inches="tight")


if __name__ == "__main__":
    main()

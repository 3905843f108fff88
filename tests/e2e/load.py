"""A mixed load of concurrent clients against a real server on loopback, for the load
test (tests/e2e/test_load.py) and the soak of ``make bench`` (bench/run.py).

Clients, each a loop of requests over its own keep-alive connection:
- downloaders: GET of 1 KiB files published before the run;
- uploaders: PUT of small files, each with a unique name and random content;
- listers: the Packages API list of the project, one page;
- one mover: a large file up and back down every ``big_every`` seconds.

Every acknowledged upload is downloaded again afterwards and compared byte for byte.
Bounded in time and only ever aimed at the loopback server it is given.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

KIB = 1024
MIB = 1024**2


@dataclass(frozen=True)
class Mix:
    downloaders: int = 70
    uploaders: int = 20
    listers: int = 10
    seconds: float = 60.0
    upload_size: int = 1 * KIB
    big_size: int = 50 * MIB
    big_every: float = 30.0
    # The downloaders as one wrk process (C) instead of Python clients: a Python client
    # spends a millisecond of CPU per request, and on a 2-core machine the load generator
    # then measures itself. wrk must be installed (make bench installs it).
    wrk_downloads: bool = False


@dataclass
class Kind:
    latencies: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)

    def summary(self, seconds: float) -> dict[str, Any]:
        ordered = sorted(self.latencies)

        def at(q: float) -> float | None:
            return (
                round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 1)
                if ordered
                else None
            )

        return {
            "count": len(ordered),
            "per_second": round(len(ordered) / seconds, 1),
            "p50_ms": at(0.50),
            "p99_ms": at(0.99),
            "max_ms": round(ordered[-1] * 1000, 1) if ordered else None,
            "errors": dict(self.errors),
        }


@dataclass
class Result:
    seconds: float
    kinds: dict[str, Kind]
    uploaded: dict[str, str]  # url -> sha256 of every acknowledged upload
    lost: list[str] = field(default_factory=list)  # acknowledged, then not served as sent
    wrk_downloads: dict[str, Any] | None = None  # the downloads, as wrk measured them

    @property
    def errors(self) -> int:
        wrk_errors = self.wrk_downloads["errors"] if self.wrk_downloads else 0
        return wrk_errors + sum(sum(kind.errors.values()) for kind in self.kinds.values())

    def summary(self) -> dict[str, Any]:
        return {
            "seconds": round(self.seconds, 1),
            "errors": self.errors,
            "uploads_acknowledged": len(self.uploaded),
            "uploads_lost": len(self.lost),
            **{name: kind.summary(self.seconds) for name, kind in self.kinds.items()},
            **({"download": self.wrk_downloads} if self.wrk_downloads else {}),
        }


async def run_mix(
    api: str,
    project: str,
    token: str,
    mix: Mix,
    *,
    sample: Callable[[], None] | None = None,
) -> Result:
    """Run ``mix`` against the server whose API base URL is ``api`` (loopback only);
    ``sample`` is called about once a second (to record the server's memory)."""
    assert api.startswith(("http://127.", "http://localhost", "http://[::1]")), api
    generic = f"{api}/projects/{project}/packages/generic"
    headers = {"PRIVATE-TOKEN": token}
    kinds = {name: Kind() for name in ("download", "upload", "list", "big")}
    uploaded: dict[str, str] = {}
    small = [os.urandom(KIB) for _ in range(8)]

    def connection() -> httpx.AsyncClient:
        # A client per simulated client: httpx's pool costs grow with the requests it
        # holds (one shared pool for 100 clients took a whole core for ~150 req/s).
        limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
        return httpx.AsyncClient(headers=headers, limits=limits, timeout=120.0)

    async with connection() as client:
        for i, body in enumerate(small):
            put = await client.put(f"{generic}/seed/1.0.0/f{i}.bin", content=body)
            assert put.status_code == 201, put.text
        started = time.monotonic()
        deadline = started + mix.seconds

        async def timed(
            kind: str, request: Awaitable[httpx.Response], ok: int
        ) -> httpx.Response | None:
            t = time.monotonic()
            try:
                response = await request
            except httpx.HTTPError as exc:
                kinds[kind].errors[type(exc).__name__] += 1
                return None
            if response.status_code != ok:
                kinds[kind].errors[str(response.status_code)] += 1
                return None
            kinds[kind].latencies.append(time.monotonic() - t)
            return response

        async def downloader(n: int) -> None:
            async with connection() as client:
                i = n
                while time.monotonic() < deadline:
                    i += 1
                    url = f"{generic}/seed/1.0.0/f{i % len(small)}.bin"
                    got = await timed("download", client.get(url), 200)
                    if got is not None and got.content != small[i % len(small)]:
                        kinds["download"].errors["wrong bytes"] += 1

        async def uploader(n: int) -> None:
            async with connection() as client:
                i = 0
                while time.monotonic() < deadline:
                    i += 1
                    body = os.urandom(mix.upload_size)
                    url = f"{generic}/load/1.0.{n}/u{i}.bin"
                    done = await timed("upload", client.put(url, content=body), 201)
                    if done is not None:
                        uploaded[url] = hashlib.sha256(body).hexdigest()

        async def lister(_n: int) -> None:
            async with connection() as client:
                url = f"{api}/projects/{project}/packages"
                while time.monotonic() < deadline:
                    await timed("list", client.get(url, params={"per_page": 20}), 200)

        async def mover() -> None:
            async with connection() as client:
                i = 0
                while time.monotonic() < deadline:
                    i += 1
                    body = os.urandom(mix.big_size)
                    url = f"{generic}/big/1.0.0/big{i}.bin"
                    done = await timed("big", client.put(url, content=body), 201)
                    if done is not None:
                        uploaded[url] = hashlib.sha256(body).hexdigest()
                        got = await timed("big", client.get(url), 200)
                        if got is not None and got.content != body:
                            kinds["big"].errors["wrong bytes"] += 1
                    del body
                    await asyncio.sleep(max(0.0, min(mix.big_every, deadline - time.monotonic())))

        async def sampler() -> None:
            while sample is not None and time.monotonic() < deadline:
                sample()
                await asyncio.sleep(1.0)

        async def wrk_downloader() -> dict[str, Any]:
            url = f"{generic}/seed/1.0.0/f0.bin"
            proc = await asyncio.create_subprocess_exec(
                *("wrk", "-t1", f"-c{mix.downloaders}", f"-d{mix.seconds:.0f}s", "--latency"),
                *("-H", f"PRIVATE-TOKEN: {token}", url),
                stdout=asyncio.subprocess.PIPE,
            )
            out = (await proc.communicate())[0].decode()
            return wrk_summary(out, mix.seconds)

        downloads = (
            [wrk_downloader()]
            if mix.wrk_downloads
            else [downloader(n) for n in range(mix.downloaders)]
        )
        done = await asyncio.gather(
            *downloads,
            *(uploader(n) for n in range(mix.uploaders)),
            *(lister(n) for n in range(mix.listers)),
            mover(),
            sampler(),
        )
        seconds = time.monotonic() - started
        result = Result(seconds, kinds, uploaded)
        if mix.wrk_downloads:
            result.wrk_downloads = done[0]

        async def check(urls: list[str]) -> None:
            async with connection() as client:
                for url in urls:
                    got = await client.get(url)
                    if (
                        got.status_code != 200
                        or hashlib.sha256(got.content).hexdigest() != uploaded[url]
                    ):
                        result.lost.append(url)

        # Every acknowledged upload, downloaded again and compared, over 8 connections.
        urls = list(uploaded)
        await asyncio.gather(*(check(urls[i::8]) for i in range(8)))
    return result


def wrk_summary(out: str, seconds: float) -> dict[str, Any]:
    """wrk's report in the shape of ``Kind.summary``."""

    def number(pattern: str) -> float:
        found = re.search(pattern, out)
        return float(found.group(1)) if found else 0.0

    def latency(pct: str) -> float:
        value, unit = re.search(rf"\s{pct}%\s+([\d.]+)(us|ms|s)", out).groups()  # type: ignore[union-attr]
        return round(float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit], 1)

    count = int(number(r"(\d+) requests in"))
    socket_errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out
    )
    errors = int(number(r"Non-2xx or 3xx responses: (\d+)"))
    errors += sum(int(g) for g in socket_errors.groups()) if socket_errors else 0
    return {
        "count": count,
        "per_second": round(number(r"Requests/sec:\s+([\d.]+)"), 1),
        "p50_ms": latency("50"),
        "p99_ms": latency("99"),
        "errors": errors,
        "by": "wrk",
    }

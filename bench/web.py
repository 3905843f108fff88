"""Web interface response times on the embedded default (SQLite + local blobs) with
10,000 packages in one project.

Fills a fresh data directory in bulk (through the schema's own tables), starts a real
`cargobay serve` on loopback, signs in as the administrator (who sees every button and
every admin page) and times each page: the median, 95th percentile and maximum of
--runs requests after two warm-up requests. A second project holds one package name with
10,000 versions: the package page lists its other versions, the worst case for it.
Anonymous pages are timed too. Prints a Markdown table and writes JSON.

    .venv/bin/python -m bench.web [--packages 10000] [--runs 30]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import httpx
from sqlalchemy import insert, select
from tests.e2e.server import make_server

from cargobay.domain.models import PackageStatus, PackageType, Visibility, utcnow
from cargobay.services import admin, sign_in
from cargobay.services.registry import open_registry
from cargobay.settings import Settings
from cargobay.storage.db.database import Connection
from cargobay.storage.db.migrate import upgrade
from cargobay.storage.db.tables import blobs, package_files, packages, packages_cleanup_policies

PASSWORD = "bench-password"
LIMIT_MS = 100.0


async def _fill_project(
    conn: Connection, project_id: int, count: int, name_of: Callable[[int], tuple[str, str]]
) -> list[int]:
    now = utcnow()
    rows = []
    for i in range(count):
        name, version = name_of(i)
        rows.append(
            {
                "project_id": project_id,
                "name": name,
                "version": version,
                "package_type": PackageType.generic,
                # one package in 50 hidden, one in 200 failed: the filters have work to do
                "status": PackageStatus.hidden
                if i % 50 == 7
                else (PackageStatus.error if i % 200 == 3 else PackageStatus.default),
                "created_at": now - timedelta(minutes=count - i),
                "updated_at": now,
            }
        )
    await conn.execute(insert(packages), rows)
    ids = [
        r[0]
        for r in await conn.execute(
            select(packages.c.id).where(packages.c.project_id == project_id)
        )
    ]
    await conn.execute(
        insert(package_files),
        [
            {
                "package_id": pid,
                "file_name": "artifact.tar.gz",
                "size": 1,
                "file_md5": "0" * 32,
                "file_sha1": "0" * 40,
                "file_sha256": "0" * 64,
                "status": 0,
                "created_at": now,
                "updated_at": now,
            }
            for pid in ids
        ],
    )
    return ids


async def fill(settings: Settings, count: int) -> dict[str, int]:
    registry = open_registry(settings)
    try:
        assert await admin.bootstrap(registry)
        await sign_in.set_password(registry, "root", PASSWORD)
        await admin.create_group(registry, "acme", visibility=Visibility.public)
        big = await admin.create_project(registry, "acme", "big", visibility=Visibility.public)
        nightly = await admin.create_project(
            registry, "acme", "nightly", visibility=Visibility.public
        )
        for i in range(20):
            await admin.create_project(registry, "acme", f"small-{i:02d}")
        async with registry.db.write() as conn:
            now = utcnow()
            await conn.execute(
                insert(blobs).values(
                    sha256="0" * 64, size=1, md5="0" * 32, sha1="0" * 40, created_at=now
                )
            )
            big_ids = await _fill_project(
                conn,
                big.id,
                count,
                lambda i: (
                    f"component-{i % (count // 2):05d}-{'lib' if i % 3 else 'app'}",
                    f"{i // (count // 2)}.{i % 10}.0",
                ),
            )
            nightly_ids = await _fill_project(
                conn, nightly.id, count, lambda i: ("nightly", f"2026.{i // 100}.{i % 100}")
            )
            # An active cleanup policy (keep the newest version of each name): its preview
            # plans over all 10,000 packages and lists ~1,700 removals.
            await conn.execute(
                insert(packages_cleanup_policies).values(
                    project_id=big.id,
                    keep_n_duplicated_package_files="all",
                    keep_n_latest_versions=1,
                    keep_pattern="",
                    created_at=now,
                    updated_at=now,
                )
            )
        return {
            "big": big.id,
            "nightly": nightly.id,
            "big_package": big_ids[len(big_ids) // 2],
            "nightly_package": nightly_ids[-1],
        }
    finally:
        await registry.close()


def sign_in_client(base_url: str) -> httpx.Client:
    client = httpx.Client(base_url=base_url, timeout=60)
    page = client.get("/users/sign_in")
    csrf = re.search(r'name="_csrf" value="([^"]+)"', page.text)
    assert csrf
    response = client.post(
        "/users/sign_in",
        data={
            "_csrf": csrf.group(1),
            "method": "password",
            "username": "root",
            "password": PASSWORD,
            "next": "/",
        },
    )
    assert response.status_code == 303, response.text
    return client


def pages(ids: dict[str, int]) -> list[tuple[str, str]]:
    big, nightly = "/acme/big/-/packages", "/acme/nightly/-/packages"
    settings = "/acme/big/-/settings/packages_and_registries"
    return [
        ("explore", "/explore"),
        ("explore groups", "/explore/groups"),
        ("group overview", "/groups/acme"),
        ("project packages (newest first)", big),
        ("  name filter", big + "?package_name=component-012"),
        ("  two-term name filter", big + "?package_name=component+lib"),
        ("  order by name, page 50", big + "?order_by=name&sort=asc&page=50"),
        ("  order by version desc", big + "?order_by=version&sort=desc"),
        ("  order by type, 100 per page", big + "?order_by=type&per_page=100"),
        ("  hidden filter", big + "?status=hidden"),
        ("  last page (500)", big + "?page=500"),
        ("group packages", "/groups/acme/-/packages"),
        ("group packages by project", "/groups/acme/-/packages?order_by=project_path"),
        ("package page", f"{big}/{ids['big_package']}"),
        ("package page, 9,999 other versions", f"{nightly}/{ids['nightly_package']}"),
        ("one name, 10,000 versions", nightly + "?package_name=nightly&order_by=version"),
        ("delete confirmation", f"{big}/{ids['big_package']}/delete"),
        ("project settings", settings),
        ("cleanup preview (keep 1 version per name)", settings + "/cleanup_preview"),
        ("group settings", "/groups/acme/-/settings/packages_and_registries"),
        ("access tokens", "/-/user_settings/personal_access_tokens"),
        ("admin users", "/admin/users"),
        ("admin registry", "/admin/registry"),
        ("404 page", "/no/such/project"),
    ]


def time_page(client: httpx.Client, url: str, runs: int) -> list[float]:
    timings = []
    for i in range(runs + 2):
        started = time.perf_counter()
        response = client.get(url)
        elapsed = (time.perf_counter() - started) * 1000
        assert response.status_code in (200, 404), (url, response.status_code)
        if i >= 2:
            timings.append(elapsed)
    return timings


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--packages", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--out", default="bench/results/web.json")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        server = make_server(Path(tmp))
        settings = Settings(data_dir=server.data_dir)
        upgrade(settings.resolved_database_url())
        started = time.perf_counter()
        ids = asyncio.run(fill(settings, args.packages))
        print(
            f"filled 2 x {args.packages} packages in {time.perf_counter() - started:.1f}s",
            file=sys.stderr,
        )
        server.start()
        results = []
        try:
            client = sign_in_client(server.base_url)
            try:
                for label, url in pages(ids):
                    timings = time_page(client, url, args.runs)
                    results.append(_summary(label, url, "administrator", timings))
            finally:
                client.close()
            with httpx.Client(base_url=server.base_url, timeout=60) as anonymous:
                for label, url in (
                    ("explore", "/explore"),
                    ("project packages", "/acme/big/-/packages"),
                    ("package page", f"/acme/big/-/packages/{ids['big_package']}"),
                    ("sign-in page", "/users/sign_in"),
                ):
                    results.append(
                        _summary(label, url, "anonymous", time_page(anonymous, url, args.runs))
                    )
        finally:
            server.stop()
    print(f"| page ({args.packages:,} packages per project) | visitor | median ms | p95 | max |")
    print("|---|---|---|---|---|")
    for r in results:
        flag = "" if r["median_ms"] < LIMIT_MS else " **over 100 ms**"
        print(
            f"| {r['page']} | {r['visitor']} | {r['median_ms']}{flag} | {r['p95_ms']} | "
            f"{r['max_ms']} |"
        )
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"packages": args.packages, "results": results}, indent=2))


def _summary(label: str, url: str, visitor: str, timings: list[float]) -> dict[str, object]:
    ordered = sorted(timings)
    return {
        "page": label.strip(),
        "url": url,
        "visitor": visitor,
        "median_ms": round(statistics.median(ordered), 1),
        "p95_ms": round(ordered[int(len(ordered) * 0.95) - 1], 1),
        "max_ms": round(ordered[-1], 1),
    }


if __name__ == "__main__":
    main()

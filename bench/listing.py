"""Packages API listing at scale: 100,000 packages in one project on the embedded default.

Fills a fresh SQLite database (through the schema's own tables, in bulk), starts a real
`cargobay serve` on loopback and times list requests: a page with a name filter, every
order_by x sort, with the total count. Prints a Markdown table and writes JSON.

    .venv/bin/python -m bench.listing [--packages 100000] [--runs 20]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx
from sqlalchemy import insert
from tests.e2e.server import make_server

from cargobay.domain.models import PackageType, utcnow
from cargobay.services import admin
from cargobay.services.registry import open_registry
from cargobay.settings import Settings
from cargobay.storage.db.migrate import upgrade
from cargobay.storage.db.tables import blobs, package_files, packages

ORDERS = [(o, s) for o in ("created_at", "name", "version", "type") for s in ("asc", "desc")]


async def fill(settings: Settings, count: int) -> tuple[int, str]:
    registry = open_registry(settings)
    try:
        token = await admin.bootstrap(registry)
        assert token
        project = await admin.create_project(registry, "root", "big")
        now = utcnow()
        async with registry.db.write() as conn:
            await conn.execute(
                insert(blobs).values(
                    sha256="0" * 64, size=1, md5="0" * 32, sha1="0" * 40, created_at=now
                )
            )
            batch = 10_000
            for start in range(0, count, batch):
                rows = [
                    {
                        "project_id": project.id,
                        "name": f"component-{i % 5000:04d}-{'lib' if i % 3 else 'app'}",
                        "version": f"{i // 5000}.{i % 100}.{i % 7}",
                        "package_type": PackageType.generic,
                        "status": 0,
                        "created_at": now,
                        "updated_at": now,
                    }
                    for i in range(start, min(start + batch, count))
                ]
                await conn.execute(insert(packages), rows)
        async with registry.db.write() as conn:
            ids = [
                r[0] for r in await conn.execute(packages.select().with_only_columns(packages.c.id))
            ]
            await conn.execute(
                insert(package_files),
                [
                    {
                        "package_id": pid,
                        "file_name": "f.bin",
                        "size": 1,
                        "file_sha256": "0" * 64,
                        "status": 0,
                        "created_at": now,
                        "updated_at": now,
                    }
                    for pid in ids
                ],
            )
        return project.id, token
    finally:
        await registry.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--packages", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--out", default="bench/results/listing.json")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        server = make_server(Path(tmp))
        settings = Settings(data_dir=server.data_dir)
        upgrade(settings.resolved_database_url())
        started = time.perf_counter()
        project_id, token = asyncio.run(fill(settings, args.packages))
        print(
            f"filled {args.packages} packages in {time.perf_counter() - started:.1f}s",
            file=sys.stderr,
        )
        server.start()
        try:
            results = []
            with httpx.Client(base_url=server.api, headers={"PRIVATE-TOKEN": token}) as client:
                for order_by, sort in ORDERS:
                    for name_filter in ("component-12", "lib"):
                        params = {
                            "order_by": order_by,
                            "sort": sort,
                            "package_name": name_filter,
                            "per_page": "20",
                            "page": "3",
                        }
                        timings = []
                        for _ in range(args.runs):
                            t0 = time.perf_counter()
                            response = client.get(f"/projects/{project_id}/packages", params=params)
                            timings.append((time.perf_counter() - t0) * 1000)
                            assert response.status_code == 200, response.text
                        results.append(
                            {
                                "order_by": order_by,
                                "sort": sort,
                                "package_name": name_filter,
                                "total": response.headers.get("x-total", ">10000"),
                                "median_ms": round(statistics.median(timings), 2),
                                "min_ms": round(min(timings), 2),
                                "max_ms": round(max(timings), 2),
                            }
                        )
        finally:
            server.stop()
    print("| order_by | sort | package_name | X-Total | median ms | min | max |")
    print("|---|---|---|---|---|---|---|")
    for r in results:
        print(
            f"| {r['order_by']} | {r['sort']} | {r['package_name']} | {r['total']} | "
            f"{r['median_ms']} | {r['min_ms']} | {r['max_ms']} |"
        )
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"packages": args.packages, "results": results}, indent=2))


if __name__ == "__main__":
    main()

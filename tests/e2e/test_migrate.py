"""Moving a running embedded install (SQLite + local blobs) to PostgreSQL + S3 with
``cargobay migrate``, as docs/deployment.md describes: copy while it serves, stop it, copy
again, start the scale-out server. Afterwards the new server serves the same bytes and
gives the same API answers."""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path
from typing import Any

import httpx

from tests.backends import PostgresCluster, SeaweedS3
from tests.e2e.server import Server, make_server

EXTERNAL_URL = "http://packages.example.com"


def generic(server: Server, project: str, rest: str, **params: str) -> str:
    query = "".join(f"&{k}={v}" for k, v in params.items()).replace("&", "?", 1)
    return f"{server.api}/projects/{project}/packages/generic/{rest}{query}"


def answers(server: Server, token: str, project: str) -> dict[str, Any]:
    """What a client sees: package lists (hidden ones too), each package, its files, and
    every file's bytes and download headers through both download routes."""
    headers = {"PRIVATE-TOKEN": token}
    seen: dict[str, Any] = {}

    def get(path: str, **params: Any) -> tuple[int, Any]:
        response = httpx.get(f"{server.api}{path}", params=params, headers=headers)
        return response.status_code, response.json()

    seen["list"] = get(f"/projects/{project}/packages", per_page=100)
    seen["hidden"] = get(f"/projects/{project}/packages", status="hidden")
    for package in seen["list"][1] + seen["hidden"][1]:
        pid = package["id"]
        seen[f"package {pid}"] = get(f"/projects/{project}/packages/{pid}")
        status, files = seen[f"files {pid}"] = get(
            f"/projects/{project}/packages/{pid}/package_files", per_page=100
        )
        for file in files if status == 200 else []:
            response = httpx.get(
                f"{server.api}/projects/{project}/packages/{pid}/package_files/{file['id']}/download",
                headers=headers,
            )
            assert response.status_code == 200
            assert hashlib.sha256(response.content).hexdigest() == file["file_sha256"]
            seen[f"bytes {file['id']}"] = response.content
            seen[f"headers {file['id']}"] = {
                k: response.headers.get(k)
                for k in ("content-disposition", "x-checksum-sha256", "etag", "content-length")
            }
    for rest in (
        "app/1.0.0/app.bin",
        "app/2.0.0/app.bin",
        "app/2.0.0/late.bin",
        "docs/1.0/sub/dir/readme.txt",
        "secret/1.0.0/hidden.bin",
        "gone/1.0.0/gone.bin",
    ):
        response = httpx.get(generic(server, project, rest), headers=headers)
        seen[f"generic {rest}"] = (response.status_code, response.content)
    return seen


def without_download_times(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: without_download_times(v) for k, v in value.items() if k != "last_downloaded_at"}
    if isinstance(value, list | tuple):
        return [without_download_times(v) for v in value]
    return value


def test_embedded_install_moves_to_postgresql_and_s3(
    tmp_path: Path, postgres: PostgresCluster, seaweed: SeaweedS3
) -> None:
    prefix = seaweed.fresh_prefix()
    target_db = postgres.empty_database()
    embedded = make_server(tmp_path / "embedded", external_url=EXTERNAL_URL)
    token = embedded.cli("admin", "bootstrap")
    project = embedded.cli("admin", "create-project", "root", "demo")
    headers = {"PRIVATE-TOKEN": token}
    first, second = os.urandom(2 * 1024 * 1024 + 5), os.urandom(70_000)

    def put(server: Server, rest: str, body: bytes, **params: str) -> None:
        response = httpx.put(
            generic(server, project, rest, **params), content=body, headers=headers
        )
        assert response.status_code == 201, response.text

    embedded.start()
    try:
        put(embedded, "app/1.0.0/app.bin", first)
        put(embedded, "app/1.0.0/app.bin", second)  # a duplicate file name: newest wins
        put(embedded, "app/2.0.0/app.bin", first)  # identical content: one blob
        put(embedded, "docs/1.0/sub/dir/readme.txt", b"read me\n")
        put(embedded, "secret/1.0.0/hidden.bin", b"not listed", status="hidden")
        put(embedded, "gone/1.0.0/gone.bin", b"deleted")
        gone = httpx.get(
            f"{embedded.api}/projects/{project}/packages",
            params={"package_name": "gone"},
            headers=headers,
        ).json()[0]
        deleted = httpx.delete(
            f"{embedded.api}/projects/{project}/packages/{gone['id']}", headers=headers
        )
        assert deleted.status_code == 204

        # The bulk of the copy, while the embedded server keeps serving.
        migrator = make_server(tmp_path / "embedded", **seaweed.settings(prefix))
        blobs_out = migrator.cli("migrate", "blobs")
        assert re.search(r"blobs copied: 5 new \(\d+ bytes\), 0 already", blobs_out), blobs_out
        db_out = migrator.cli("migrate", "database", "--to", target_db)
        assert "every row verified" in db_out

        # Uploads go on meanwhile.
        late = os.urandom(300_000)
        put(embedded, "app/2.0.0/late.bin", late)
        before = answers(embedded, token, project)
    finally:
        embedded.stop()

    # The embedded server is down: a second run copies only what changed...
    assert "blobs copied: 1 new" in migrator.cli("migrate", "blobs")
    db_out = migrator.cli("migrate", "database", "--to", target_db)
    assert "every row verified" in db_out
    assert not db_out.endswith(" 0 written this run; every row verified"), db_out
    # ... and a third finds nothing left to do.
    assert "blobs copied: 0 new (0 bytes), 6 already in the bucket" in migrator.cli(
        "migrate", "blobs"
    )
    assert " 0 written this run" in migrator.cli("migrate", "database", "--to", target_db)

    scaled = make_server(
        tmp_path / "scaled",
        database_url=target_db,
        external_url=EXTERNAL_URL,
        **seaweed.settings(prefix),
    )
    scaled.start()
    try:
        after = answers(scaled, token, project)
        # Taking the answers downloads every file, which moves last_downloaded_at on.
        downloaded = [p["last_downloaded_at"] for p in after["list"][1]]
        assert None not in downloaded  # the downloads before the move were carried over
        for package in after["list"][1]:  # and their counts (this server's are not written yet)
            stats = httpx.get(
                f"{scaled.api}/projects/{project}/packages/{package['id']}/download_stats",
                headers={"PRIVATE-TOKEN": token},
            )
            assert sum(day["count"] for day in stats.json()) > 0, stats.text
        assert after.keys() == before.keys()
        for key in before:
            assert without_download_times(after[key]) == without_download_times(before[key]), key
        assert before["generic app/1.0.0/app.bin"] == (200, second)
        assert before["generic app/2.0.0/app.bin"] == (200, first)
        assert before["generic secret/1.0.0/hidden.bin"] == (200, b"not listed")
        assert before["generic gone/1.0.0/gone.bin"][0] == 404
        assert sorted(p["name"] for p in before["list"][1]) == ["app", "app", "docs"]
        assert [p["name"] for p in before["hidden"][1]] == ["secret"]

        # New rows continue after the copied ids (sequences moved past them).
        put(scaled, "new/1.0.0/new.bin", b"after the move")
        listed = httpx.get(
            f"{scaled.api}/projects/{project}/packages",
            params={"package_name": "new"},
            headers=headers,
        ).json()
        assert listed[0]["id"] == gone["id"] + 1
    finally:
        scaled.stop()

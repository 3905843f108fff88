"""Packages API (spec §1 P1-P4, F1-F3, GR1): checks 17, 18, 26-30 of §15 and §5.6."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest

from cargobay.domain.models import Visibility
from cargobay.services import admin
from tests.world import World

pytestmark = pytest.mark.anyio


async def upload(
    client: httpx.AsyncClient,
    world: World,
    project_id: int,
    name: str,
    version: str,
    file: str = "f.bin",
    body: bytes = b"x",
    role: str = "developer",
    **params: str,
) -> httpx.Response:
    response = await client.put(
        f"/api/v4/projects/{project_id}/packages/generic/{name}/{version}/{file}",
        content=body,
        headers=world.headers(role),
        params=params,
    )
    assert response.status_code in (200, 201), response.text
    return response


async def packages(
    client: httpx.AsyncClient, world: World, project_id: int, role: str = "developer", **params: str
) -> httpx.Response:
    return await client.get(
        f"/api/v4/projects/{project_id}/packages", headers=world.headers(role), params=params
    )


async def test_list_entity_shape_and_single_get_with_versions(
    client: httpx.AsyncClient, world: World
) -> None:
    pid = world.private.id
    await upload(client, world, pid, "tool", "1.0.0")
    await upload(client, world, pid, "tool", "2.0.0")
    listed = (await packages(client, world, pid, "maintainer")).json()
    assert [p["version"] for p in listed] == ["1.0.0", "2.0.0"]
    first = listed[0]
    assert list(first) == [
        "id",
        "name",
        "version",
        "package_type",
        "status",
        "_links",
        "created_at",
        "last_downloaded_at",
        "tags",
    ]
    assert first["package_type"] == "generic" and first["status"] == "default"
    assert first["_links"]["web_path"] == f"/acme/team/private-proj/-/packages/{first['id']}"
    assert first["_links"]["delete_api_path"] == (
        f"http://cargobay.test/api/v4/projects/{pid}/packages/{first['id']}"
    )
    assert first["created_at"].endswith("Z") and first["last_downloaded_at"] is None
    # delete_api_path only for Maintainer+
    dev = (await packages(client, world, pid, "developer")).json()
    assert "delete_api_path" not in dev[0]["_links"]
    single = await client.get(
        f"/api/v4/projects/{pid}/packages/{first['id']}", headers=world.headers("guest")
    )
    assert single.status_code == 200
    assert [v["version"] for v in single.json()["versions"]] == ["2.0.0"]


async def test_hidden_package_downloadable_but_not_listed(
    client: httpx.AsyncClient, world: World
) -> None:
    pid = world.private.id
    await upload(client, world, pid, "secret", "1.0", status="hidden", body=b"hidden bytes")
    get = await client.get(
        f"/api/v4/projects/{pid}/packages/generic/secret/1.0/f.bin", headers=world.headers("guest")
    )
    assert get.status_code == 200 and get.content == b"hidden bytes"
    assert (await packages(client, world, pid)).json() == []
    hidden = (await packages(client, world, pid, status="hidden")).json()
    assert [p["name"] for p in hidden] == ["secret"]
    assert "web_path" not in hidden[0]["_links"]
    package_id = hidden[0]["id"]
    for method, suffix in (("GET", ""), ("DELETE", ""), ("GET", "/package_files")):
        r = await client.request(
            method,
            f"/api/v4/projects/{pid}/packages/{package_id}{suffix}",
            headers=world.headers("maintainer"),
        )
        assert r.status_code == 404, (method, suffix)
        assert r.json() == {"message": "404 Not found"}


async def test_upload_with_status_default_unhides(client: httpx.AsyncClient, world: World) -> None:
    pid = world.private.id
    await upload(client, world, pid, "later", "1.0", status="hidden")
    await upload(client, world, pid, "later", "1.0", file="g.bin")
    assert (await packages(client, world, pid)).json() == []  # no status: unchanged
    await upload(client, world, pid, "later", "1.0", file="h.bin", status="default")
    assert [p["name"] for p in (await packages(client, world, pid)).json()] == ["later"]


async def test_delete_package_permissions_and_effect(
    client: httpx.AsyncClient, world: World
) -> None:
    pid = world.public.id
    await upload(client, world, pid, "gone", "1.0", body=b"bytes")
    package_id = (await packages(client, world, pid)).json()[0]["id"]
    url = f"/api/v4/projects/{pid}/packages/{package_id}"
    assert (await client.delete(url, headers=world.headers("developer"))).status_code == 403
    anonymous = await client.delete(url)
    assert anonymous.status_code == 403  # public project: 403, not 401
    deleted = await client.delete(url, headers=world.headers("maintainer"))
    assert deleted.status_code == 204 and deleted.content == b""
    assert (await packages(client, world, pid)).json() == []
    dl = await client.get(f"/api/v4/projects/{pid}/packages/generic/gone/1.0/f.bin")
    assert dl.status_code == 404 and dl.json() == {"message": "404 Not found"}
    # Re-upload after delete makes a new package id (check 10)
    await upload(client, world, pid, "gone", "1.0", body=b"again")
    assert (await packages(client, world, pid)).json()[0]["id"] != package_id
    private = await client.delete(f"/api/v4/projects/{world.private.id}/packages/{package_id}")
    assert private.status_code == 404
    assert private.json() == {"message": "404 Project Not Found"}


async def test_delete_package_file(client: httpx.AsyncClient, world: World) -> None:
    pid = world.private.id
    await upload(client, world, pid, "files", "1.0", file="a.bin", body=b"a")
    await upload(client, world, pid, "files", "1.0", file="b.bin", body=b"b")
    package_id = (await packages(client, world, pid)).json()[0]["id"]
    files_url = f"/api/v4/projects/{pid}/packages/{package_id}/package_files"
    files = (await client.get(files_url, headers=world.headers("guest"))).json()
    assert [f["file_name"] for f in files] == ["a.bin", "b.bin"]
    a = files[0]
    assert a["size"] == 1 and a["file_sha256"] == hashlib.sha256(b"a").hexdigest()
    assert a["file_md5"] == hashlib.md5(b"a").hexdigest()
    assert a["file_sha1"] == hashlib.sha1(b"a").hexdigest()
    long_ago = format_datetime(datetime.now(UTC) - timedelta(days=1), usegmt=True)
    stale = await client.delete(
        f"{files_url}/{a['id']}",
        headers={**world.headers("maintainer"), "If-Unmodified-Since": long_ago},
    )
    assert stale.status_code == 412
    assert (
        await client.delete(f"{files_url}/{a['id']}", headers=world.headers("developer"))
    ).status_code == 403
    ok = await client.delete(f"{files_url}/{a['id']}", headers=world.headers("maintainer"))
    assert ok.status_code == 204
    again = await client.delete(f"{files_url}/{a['id']}", headers=world.headers("maintainer"))
    assert again.status_code == 404 and again.json() == {"message": "404 Not Found"}
    assert [
        f["file_name"] for f in (await client.get(files_url, headers=world.headers("guest"))).json()
    ] == ["b.bin"]
    dl = await client.get(
        f"/api/v4/projects/{pid}/packages/generic/files/1.0/a.bin", headers=world.headers("guest")
    )
    assert dl.status_code == 404


async def test_package_file_download_endpoint(client: httpx.AsyncClient, world: World) -> None:
    pid = world.private.id
    await upload(client, world, pid, "f3", "1.0", file="x.bin", body=b"payload")
    package_id = (await packages(client, world, pid)).json()[0]["id"]
    files = (
        await client.get(
            f"/api/v4/projects/{pid}/packages/{package_id}/package_files",
            headers=world.headers("guest"),
        )
    ).json()
    dl = await client.get(
        f"/api/v4/projects/{pid}/packages/{package_id}/package_files/{files[0]['id']}/download",
        headers=world.headers("guest"),
    )
    assert dl.status_code == 200 and dl.content == b"payload"


async def test_pagination_headers_and_link(client: httpx.AsyncClient, world: World) -> None:
    pid = world.private.id
    for i in range(25):
        await upload(client, world, pid, f"p{i:02d}", "1.0")
    first = await packages(client, world, pid)
    assert len(first.json()) == 20
    h = first.headers
    assert (h["x-page"], h["x-per-page"], h["x-total"], h["x-total-pages"]) == (
        "1",
        "20",
        "25",
        "2",
    )
    assert h["x-next-page"] == "2" and h["x-prev-page"] == ""
    rels = [part.split("; ")[1] for part in h["link"].split(", ")]
    assert rels == ['rel="next"', 'rel="first"', 'rel="last"']
    assert "order_by=created_at" in h["link"] and "page=2" in h["link"]
    last = await packages(client, world, pid, page="2")
    assert len(last.json()) == 5 and last.headers["x-next-page"] == ""
    assert [p.split("; ")[1] for p in last.headers["link"].split(", ")] == [
        'rel="prev"',
        'rel="first"',
        'rel="last"',
    ]
    big = await packages(client, world, pid, per_page="101")
    assert big.headers["x-per-page"] == "100" and len(big.json()) == 25
    zero = await packages(client, world, pid, per_page="0")
    assert zero.status_code == 400
    past = await packages(client, world, pid, page="9")
    assert past.json() == [] and past.headers["x-total-pages"] == "2"
    empty = await packages(client, world, world.public.id)
    assert empty.headers["x-total"] == "0" and empty.headers["x-total-pages"] == "1"


async def test_filters_and_ordering(client: httpx.AsyncClient, world: World) -> None:
    pid = world.private.id
    await upload(client, world, pid, "nuget-x", "9.0")
    await upload(client, world, pid, "foo_bar", "10.0")
    await upload(client, world, pid, "fooXbar", "1.0")

    def names(response: httpx.Response) -> list[str]:
        return [p["name"] for p in response.json()]

    assert names(await packages(client, world, pid, package_name="NUG")) == ["nuget-x"]
    assert names(await packages(client, world, pid, package_name="foo_")) == ["foo_bar"]
    assert names(await packages(client, world, pid, package_name="foo bar")) == [
        "foo_bar",
        "fooXbar",
    ]
    assert names(await packages(client, world, pid, package_version="10.0")) == ["foo_bar"]
    by_version = await packages(client, world, pid, order_by="version")
    assert [p["version"] for p in by_version.json()] == ["1.0", "10.0", "9.0"]
    desc = await packages(client, world, pid, order_by="name", sort="desc")
    assert names(desc) == ["nuget-x", "foo_bar", "fooXbar"]  # byte order: "_" > "X"
    assert names(await packages(client, world, pid, package_type="generic")) == [
        "nuget-x",
        "foo_bar",
        "fooXbar",
    ]
    assert (await packages(client, world, pid, package_type="maven")).json() == []
    for bad in ({"order_by": "size"}, {"sort": "up"}, {"status": "gone"}, {"package_type": "zip"}):
        r = await packages(client, world, pid, **bad)
        assert r.status_code == 400
        assert r.json() == {"error": f"{next(iter(bad))} does not have a valid value"}


async def test_packages_api_auth_matrix(client: httpx.AsyncClient, world: World) -> None:
    await upload(client, world, world.public.id, "pub", "1.0")
    await upload(client, world, world.private.id, "priv", "1.0")
    pub, priv = (f"/api/v4/projects/{p.id}/packages" for p in (world.public, world.private))
    assert (await client.get(pub)).status_code == 200
    assert (await client.get(pub, headers=world.headers("stranger"))).status_code == 200
    anon = await client.get(priv)
    assert anon.status_code == 404 and anon.json() == {"message": "404 Project Not Found"}
    assert (await client.get(priv, headers=world.headers("stranger"))).status_code == 404
    assert (await client.get(priv, headers=world.headers("guest"))).status_code == 200
    bad = await client.get(pub, headers={"PRIVATE-TOKEN": "glpat-nope"})
    assert bad.status_code == 401 and bad.json() == {"message": "401 Unauthorized"}
    assert "www-authenticate" not in bad.headers
    # Basic auth and deploy tokens are ignored on the Packages API
    deploy = await world.deploy_token(world.private, ["read_package_registry"])
    assert (await client.get(priv, headers={"DEPLOY-TOKEN": deploy})).status_code == 404
    job = await world.job(world.private)
    assert (await client.get(priv, headers={"JOB-TOKEN": job.token})).status_code == 200
    other = await world.project("other")
    other_job = await world.job(other)
    cross = await client.get(priv, headers={"JOB-TOKEN": other_job.token})
    assert cross.status_code == 403
    assert (
        "Authentication by CI/CD job token not allowed from acme/team/other"
        in cross.json()["message"]
    )
    await admin.finish_job(world.registry, job.job_id)
    assert (await client.get(priv, headers={"JOB-TOKEN": job.token})).status_code == 401


async def test_pipeline_on_packages_uploaded_with_a_job_token(
    client: httpx.AsyncClient, world: World
) -> None:
    pid = world.private.id
    job = await world.job(world.private)
    put = await client.put(
        f"/api/v4/projects/{pid}/packages/generic/ci/1.0/a.bin",
        content=b"ci",
        headers={"JOB-TOKEN": job.token},
    )
    assert put.status_code == 201
    listed = (await packages(client, world, pid)).json()[0]
    assert listed["pipeline"]["id"] == job.pipeline_id
    assert listed["pipeline"]["user"]["username"] == "developer"
    assert listed["pipelines"] == []
    files = (
        await client.get(
            f"/api/v4/projects/{pid}/packages/{listed['id']}/package_files",
            headers=world.headers("guest"),
        )
    ).json()
    assert files[0]["pipelines"][0]["id"] == job.pipeline_id
    runs = await client.get(
        f"/api/v4/projects/{pid}/packages/{listed['id']}/pipelines", headers=world.headers("guest")
    )
    assert [r["id"] for r in runs.json()] == [job.pipeline_id]


async def test_group_packages(client: httpx.AsyncClient, world: World) -> None:
    await upload(client, world, world.public.id, "pub", "1.0")
    await upload(client, world, world.private.id, "priv", "1.0")
    anon = await client.get("/api/v4/groups/acme/packages")
    assert [p["name"] for p in anon.json()] == ["pub"]
    member = await client.get("/api/v4/groups/acme%2Fteam/packages", headers=world.headers("guest"))
    items = member.json()
    assert sorted(p["name"] for p in items) == ["priv", "pub"]
    assert {"project_id", "project_path"} <= set(items[0])
    top_only = await client.get(
        "/api/v4/groups/acme/packages",
        params={"exclude_subgroups": "true"},
        headers=world.headers("guest"),
    )
    assert top_only.json() == []
    await admin.create_group(world.registry, "hidden-group", visibility=Visibility.private)
    missing = await client.get("/api/v4/groups/hidden-group/packages")
    assert missing.status_code == 404 and missing.json() == {"message": "404 Group Not Found"}

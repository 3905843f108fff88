"""``~latest``/``~newest`` and whole-package archives and SHA256SUMS on the generic URL
(Cargobay's own, docs/extensions.md; design beyond-gitlab.md §2, §3, §7.7), on every
backend, read back with Python's own zipfile and tarfile and with sha256sum -c."""

from __future__ import annotations

import hashlib
import io
import subprocess
import tarfile
import zipfile
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from cargobay.domain.models import PackageStatus
from cargobay.errors import Unavailable
from cargobay.services.admission import ArchiveSlots
from cargobay.services.registry import Registry
from cargobay.storage.db import packages as package_sql
from tests.api.generic_support import (
    BASIC_REALM,
    FILE_NOT_FOUND,
    PROJECT_NOT_FOUND,
    client_for,
    packages,
    put,
    send_raw,
    url,
)
from tests.world import World

pytestmark = pytest.mark.anyio


async def publish(
    client: httpx.AsyncClient, world: World, rest: str, body: bytes, role: str = "developer"
) -> None:
    response = await put(client, world.private.id, rest, body, world.headers(role))
    assert response.status_code == 201, response.text


async def get(client: httpx.AsyncClient, world: World, rest: str, **headers: str) -> httpx.Response:
    return await client.get(
        url(world.private.id, rest), headers=world.headers("developer") | headers
    )


async def released(client: httpx.AsyncClient, world: World) -> None:
    for version in ("1.2.0", "1.10.0", "2.0.0-rc1", "1.9.0"):  # in this order
        await publish(client, world, f"tool/{version}/tool.txt", version.encode())


# ---------------------------------------------------------------- ~latest and ~newest


async def test_latest_is_the_highest_release_and_newest_the_last_created(
    client: httpx.AsyncClient, world: World
) -> None:
    await released(client, world)
    latest = await get(client, world, "tool/~latest/tool.txt")
    assert (latest.status_code, latest.content) == (200, b"1.10.0")
    assert latest.headers["content-location"] == (
        f"/api/v4/projects/{world.private.id}/packages/generic/tool/1.10.0/tool.txt"
    )
    assert latest.headers["x-cargobay-version-resolved"] == "1.10.0"
    assert latest.headers["etag"] == f'"{hashlib.sha256(b"1.10.0").hexdigest()}"'
    newest = await get(client, world, "tool/%7Enewest/tool.txt")  # ~ percent-encoded
    assert (newest.status_code, newest.content) == (200, b"1.9.0")
    assert newest.headers["content-location"].endswith("/tool/1.9.0/tool.txt")
    head = await client.head(
        url(world.private.id, "tool/~latest/tool.txt"), headers=world.headers("developer")
    )
    assert head.headers["x-cargobay-version-resolved"] == "1.10.0"


async def test_latest_skips_hidden_deprecated_and_unorderable_versions(
    client: httpx.AsyncClient, registry: Registry, world: World
) -> None:
    await released(client, world)
    await publish(client, world, "tool/3.0.0/tool.txt?status=hidden", b"hidden")
    await publish(client, world, "tool/latest/tool.txt", b"a real version called latest")
    await publish(client, world, "tool/2.5.0/tool.txt", b"deprecated")
    (deprecated,) = await packages(registry, world.private.id, version="2.5.0")
    async with registry.db.write() as conn:
        await package_sql.set_package_status(
            conn, deprecated["id"], PackageStatus.deprecated, deprecated["created_at"]
        )
    assert (await get(client, world, "tool/~latest/tool.txt")).content == b"1.10.0"
    # ~newest is the last created of the default ones: the real "latest".
    assert (await get(client, world, "tool/~newest/tool.txt")).content == (
        b"a real version called latest"
    )
    # The version itself is still there by its name.
    assert (await get(client, world, "tool/latest/tool.txt")).status_code == 200


async def test_latest_resolves_the_version_first_and_never_falls_back(
    client: httpx.AsyncClient, world: World
) -> None:
    await publish(client, world, "tool/1.0.0/only-in-1.0", b"old")
    await publish(client, world, "tool/1.1.0/other", b"new")
    missing = await get(client, world, "tool/~latest/only-in-1.0")
    assert (missing.status_code, missing.json()) == (404, FILE_NOT_FOUND)
    await publish(client, world, "pre/1.0.0-rc1/f", b"x")
    none = await get(client, world, "pre/~latest/f")
    assert (none.status_code, none.json()) == (404, {"message": "404 Version Not Found"})
    assert (await get(client, world, "pre/~newest/f")).content == b"x"
    assert (await get(client, world, "nothing/~latest/f")).status_code == 404


async def test_latest_is_only_for_reading(client: httpx.AsyncClient, world: World) -> None:
    headers = world.headers("maintainer")
    for method, rest in (
        ("PUT", "tool/~latest/f"),
        ("PUT", "tool/~newest/dir/f"),
        ("DELETE", "tool/~latest/f"),
        ("DELETE", "tool/~newest"),
        ("DELETE", "tool/~latest/"),
    ):
        response = await client.request(
            method, url(world.private.id, rest), content=b"x", headers=headers
        )
        assert response.status_code == 400, (method, rest)
        assert response.json() == {"error": "package_version is invalid"}


async def test_a_tilde_file_or_directory_name_is_still_invalid(
    client: httpx.AsyncClient, world: World
) -> None:
    await publish(client, world, "tool/1.0/f", b"x")
    for rest in ("tool/1.0/~other", "tool/1.0/dir/~archive.zip", "tool/~oldest/f"):
        assert (await get(client, world, rest)).status_code == 400, rest


async def test_the_version_resource_answers_latest_too(
    client: httpx.AsyncClient, world: World
) -> None:
    await released(client, world)
    response = await get(client, world, "tool/~latest")
    assert response.json()["version"] == "1.10.0"
    assert response.headers["content-location"].endswith("/tool/1.10.0")


async def test_the_packages_api_filters_on_latest(client: httpx.AsyncClient, world: World) -> None:
    await released(client, world)
    await publish(client, world, "other/0.9/f", b"x")
    await publish(client, world, "other/0.10/f", b"x")
    await publish(client, world, "other/1.0-beta/f", b"x")

    async def versions(query: str) -> list[tuple[str, str]]:
        response = await client.get(
            f"/api/v4/projects/{world.private.id}/packages?{query}",
            headers=world.headers("developer"),
        )
        assert response.status_code == 200, response.text
        return sorted((p["name"], p["version"]) for p in response.json())

    assert await versions("package_version=~latest") == [("other", "0.10"), ("tool", "1.10.0")]
    assert await versions("package_version=%7Enewest&package_name=tool") == [("tool", "1.9.0")]
    group = await client.get(
        "/api/v4/groups/acme/packages?package_version=~latest&package_name=tool",
        headers=world.headers("developer"),
    )
    assert [(p["name"], p["version"]) for p in group.json()] == [("tool", "1.10.0")]


# ---------------------------------------------------------------- archives


FILES = {
    "tool.txt": b"first",
    "dir/sub/data.bin": bytes(range(256)) * 300,
    "c++.txt": b"plus plus",
    "empty": b"",
    "docs/été/read-me.md": b"# hello\n",
}


async def nested(client: httpx.AsyncClient, world: World) -> dict[str, bytes]:
    for path, body in FILES.items():
        await publish(client, world, f"tool/1.0/{quote(path)}", body)
    await publish(client, world, "tool/1.0/tool.txt", b"re-uploaded")  # the newest wins
    return {**FILES, "tool.txt": b"re-uploaded"}


@pytest.mark.parametrize(
    "keyword", ["~archive.zip", "~archive.tar", "~archive.tar.gz", "~archive.tgz"]
)
async def test_an_archive_holds_the_newest_bytes_of_each_name_under_its_path(
    client: httpx.AsyncClient, world: World, keyword: str
) -> None:
    expected = await nested(client, world)
    response = await get(client, world, f"tool/1.0/{keyword}")
    assert response.status_code == 200, response.text
    assert response.headers["x-content-type-options"] == "nosniff"
    extension = keyword.removeprefix("~archive.")
    assert f'filename="tool-1.0.{extension}"' in response.headers["content-disposition"]
    if keyword.endswith("zip"):
        assert response.headers["content-type"] == "application/zip"
        with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
            assert archive.testzip() is None
            found = {i.filename: archive.read(i) for i in archive.infolist()}
            assert [i.filename for i in archive.infolist()] == sorted(expected)
    else:
        with tarfile.open(fileobj=io.BytesIO(response.content)) as archive:
            members = archive.getmembers()
            found = {m.name: archive.extractfile(m).read() for m in members}  # type: ignore[union-attr]
            assert [m.name for m in members] == sorted(expected)
            assert {(m.mode, m.uid, m.gid) for m in members} == {(0o644, 0, 0)}
    assert found == expected


async def test_archives_are_the_same_bytes_every_time(
    client: httpx.AsyncClient, world: World
) -> None:
    await nested(client, world)
    for keyword in ("~archive.zip", "~archive.tar", "~archive.tar.gz"):
        one = await get(client, world, f"tool/1.0/{keyword}")
        two = await get(client, world, f"tool/1.0/{keyword}")
        assert one.content == two.content
        assert one.headers["etag"] == two.headers["etag"]
        assert one.headers["etag"].startswith('"')  # strong
        revalidated = await get(
            client, world, f"tool/1.0/{keyword}", **{"If-None-Match": one.headers["etag"]}
        )
        assert revalidated.status_code == 304


async def test_a_tar_has_its_length_and_byte_ranges_up_front(
    client: httpx.AsyncClient, world: World
) -> None:
    await nested(client, world)
    whole = await get(client, world, "tool/1.0/~archive.tar")
    assert whole.headers["content-length"] == str(len(whole.content))
    assert whole.headers["accept-ranges"] == "bytes"
    for start, end in (
        (0, 0),
        (500, 2047),
        (1000, 90000),
        (len(whole.content) - 10, len(whole.content) - 1),
    ):
        part = await get(client, world, "tool/1.0/~archive.tar", Range=f"bytes={start}-{end}")
        assert part.status_code == 206
        assert part.content == whole.content[start : end + 1]
    resumed = await get(
        client,
        world,
        "tool/1.0/~archive.tar",
        Range="bytes=100-",
        **{"If-Range": whole.headers["etag"]},
    )
    assert resumed.content == whole.content[100:]
    beyond = await get(client, world, "tool/1.0/~archive.tar", Range=f"bytes={len(whole.content)}-")
    assert beyond.status_code == 416


async def test_sha256sums_lists_what_the_archive_holds_for_sha256sum(
    client: httpx.AsyncClient, world: World, tmp_path: Path
) -> None:
    expected = await nested(client, world)
    sums = await get(client, world, "tool/1.0/~sha256sums")
    assert sums.headers["content-type"] == "text/plain; charset=utf-8"
    lines = sums.text.splitlines()
    assert lines == [f"{hashlib.sha256(expected[p]).hexdigest()}  {p}" for p in sorted(expected)]
    archive = await get(client, world, "tool/1.0/~archive.tar.gz")
    with tarfile.open(fileobj=io.BytesIO(archive.content)) as opened:
        opened.extractall(tmp_path, filter="data")
    (tmp_path / "SHA256SUMS").write_text(sums.text)
    checked = subprocess.run(
        ["sha256sum", "-c", "SHA256SUMS"], cwd=tmp_path, capture_output=True, text=True
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


async def test_path_and_prefix_choose_and_place_the_members(
    client: httpx.AsyncClient, world: World
) -> None:
    expected = await nested(client, world)
    response = await get(client, world, "tool/1.0/~archive.zip?path=dir&prefix=tool-1.0/")
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        assert {i.filename: archive.read(i) for i in archive.infolist()} == {
            "tool-1.0/dir/sub/data.bin": expected["dir/sub/data.bin"]
        }
    sums = await get(client, world, "tool/1.0/~sha256sums?path=docs/")
    assert sums.text.endswith("  docs/été/read-me.md\n") and len(sums.text.splitlines()) == 1
    for query in ("path=../x", "prefix=/abs", "prefix=a/../b", "path=a//b", "prefix=a%5Cb"):
        bad = await get(client, world, f"tool/1.0/~archive.tar?{query}")
        assert bad.status_code == 400, query
        assert bad.json()["error"].endswith("is invalid")


async def test_archives_of_latest_and_of_an_empty_version(
    client: httpx.AsyncClient, world: World
) -> None:
    await released(client, world)
    latest = await get(client, world, "tool/~latest/~archive.zip")
    assert latest.headers["content-location"].endswith("/tool/1.10.0/~archive.zip")
    assert 'filename="tool-1.10.0.zip"' in latest.headers["content-disposition"]
    with zipfile.ZipFile(io.BytesIO(latest.content)) as archive:
        assert archive.read("tool.txt") == b"1.10.0"
    # GitLab's delete by file id leaves an empty package: its archive is empty, not a 404.
    await publish(client, world, "empty/1.0/f", b"x")
    files = await client.get(
        f"/api/v4/projects/{world.private.id}/packages?package_name=empty",
        headers=world.headers("developer"),
    )
    package_id = files.json()[0]["id"]
    listed = await client.get(
        f"/api/v4/projects/{world.private.id}/packages/{package_id}/package_files",
        headers=world.headers("developer"),
    )
    deleted = await client.delete(
        f"/api/v4/projects/{world.private.id}/packages/{package_id}/package_files/{listed.json()[0]['id']}",
        headers=world.headers("maintainer"),
    )
    assert deleted.status_code == 204
    empty = await get(client, world, "empty/1.0/~archive.zip")
    with zipfile.ZipFile(io.BytesIO(empty.content)) as archive:
        assert archive.infolist() == []
    assert (await get(client, world, "nothing/1.0/~archive.zip")).status_code == 404


async def test_an_archive_is_served_only_to_who_may_download_its_files(
    client: httpx.AsyncClient, world: World
) -> None:
    await nested(client, world)
    for keyword in ("~archive.zip", "~archive.tar", "~sha256sums"):
        anonymous = await client.get(url(world.private.id, f"tool/1.0/{keyword}"))
        assert anonymous.status_code == 401
        assert anonymous.headers["www-authenticate"] == BASIC_REALM
        stranger = await client.get(
            url(world.private.id, f"tool/1.0/{keyword}"), headers=world.headers("stranger")
        )
        assert (stranger.status_code, stranger.json()) == (404, PROJECT_NOT_FOUND)
        assert b"re-uploaded" not in anonymous.content + stranger.content
    # A public project's archive is public, as its files are.
    await put(client, world.public.id, "tool/1.0/f", b"open", world.headers("developer"))
    public = await client.get(url(world.public.id, "tool/1.0/~archive.tar"))
    assert public.status_code == 200


async def test_archive_limits_answer_before_the_first_byte(
    registry: Registry, world: World, client: httpx.AsyncClient
) -> None:
    await nested(client, world)
    few = registry.settings.model_copy(update={"archive_max_files": 4})
    async with client_for(few) as limited:
        response = await limited.get(
            url(world.private.id, "tool/1.0/~archive.zip"), headers=world.headers("developer")
        )
    assert response.status_code == 400
    assert response.json() == {
        "message": "400 Bad request - Archive too large: 5 files, the limit is 4"
    }
    small = registry.settings.model_copy(update={"archive_max_bytes": 1000})
    async with client_for(small) as limited:
        response = await limited.get(
            url(world.private.id, "tool/1.0/~archive.tar?path=dir"),
            headers=world.headers("developer"),
        )
    assert response.json()["message"] == (
        "400 Bad request - Archive too large: 76800 bytes, the limit is 1000"
    )


async def test_archive_downloads_are_counted_by_format_and_result(
    registry: Registry, world: World, client: httpx.AsyncClient
) -> None:
    """cargobay_archive_downloads_total{format,result} and cargobay_archive_bytes_total
    (beyond-gitlab §6.2): an archive sent whole, one the client left half-way (§2.4:
    "count result=aborted"), a refused range; HEAD and 304 are not downloads."""
    await nested(client, world)
    sizes = {}
    for keyword, kind in (
        ("~archive.tar", "tar"),
        ("~archive.zip", "zip"),
        ("~archive.tgz", "tar.gz"),
    ):
        whole = await get(client, world, f"tool/1.0/{keyword}")
        assert whole.status_code == 200
        sizes[kind] = len(whole.content)
    tar = url(world.private.id, "tool/1.0/~archive.tar")
    part = await get(client, world, "tool/1.0/~archive.tar", Range="bytes=0-99")
    assert part.status_code == 206
    head = await client.head(tar, headers=world.headers("developer"))
    unchanged = await get(
        client, world, "tool/1.0/~archive.tar", **{"If-None-Match": head.headers["etag"]}
    )
    assert (head.status_code, unchanged.status_code) == (200, 304)
    beyond = await get(client, world, "tool/1.0/~archive.tar", Range="bytes=99999999-")
    assert beyond.status_code == 416
    left = await send_raw(
        registry,
        "GET",
        tar.removeprefix("http://cargobay.test"),
        world.headers("developer"),
        vanish_after=1,
    )
    assert left.status_code == 200 and 0 < len(left.content) < sizes["tar"]

    found = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in registry.metrics.registry.collect()
        for sample in family.samples
    }

    def downloads(kind: str, result: str) -> float:
        return found[("cargobay_archive_downloads_total", (("format", kind), ("result", result)))]

    def sent(kind: str) -> float:
        return found[("cargobay_archive_bytes_total", (("format", kind),))]

    assert downloads("tar", "complete") == 2  # the whole one and the range
    assert downloads("tar", "aborted") == 1
    assert downloads("tar", "refused") == 1  # the 416
    assert downloads("zip", "complete") == downloads("tar.gz", "complete") == 1
    assert downloads("zip", "aborted") == downloads("tar.gz", "refused") == 0  # listed at 0
    assert sent("tar") == sizes["tar"] + 100 + len(left.content)
    assert sent("zip") == sizes["zip"]
    assert sent("tar.gz") == sizes["tar.gz"]


def test_archives_streaming_at_once_are_bounded() -> None:
    slots = ArchiveSlots(2)
    first, second = slots.take(), slots.take()
    with pytest.raises(Unavailable) as refused:
        slots.take()
    assert refused.value.headers == {"Retry-After": "5"}
    first()
    first()  # giving a slot back twice gives back one
    third = slots.take()
    with pytest.raises(Unavailable):
        slots.take()
    second()
    third()
    assert slots.busy == 0

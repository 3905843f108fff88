"""Generic package download (spec §3, §15 checks 13-16): bodies, headers, HEAD, Range,
conditional requests, last_downloaded_at and the `files` compatibility listing."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import update

from cargobay.domain.models import utcnow
from cargobay.services.registry import Registry
from cargobay.storage.db import tables
from tests.api.generic_support import FILE_NOT_FOUND, files_of, packages, put, url
from tests.world import World

pytestmark = pytest.mark.anyio

BODY = bytes(range(256)) * 40  # 10240 bytes, every byte value


@pytest.fixture
async def uploaded(client: httpx.AsyncClient, world: World) -> str:
    response = await put(
        client, world.private.id, "tool/1.0.0/tool.bin", BODY, world.headers("developer")
    )
    assert response.status_code == 201
    return url(world.private.id, "tool/1.0.0/tool.bin")


# --------------------------------------------------------------- not found (check 13)


@pytest.mark.parametrize(
    "rest",
    [
        "nope/1.0.0/tool.bin",  # no such package
        "tool/9.9.9/tool.bin",  # no such version
        "tool/1.0.0/other.bin",  # no such file
        "TOOL/1.0.0/tool.bin",  # names are case-sensitive
        "tool/1.0.0/Tool.bin",
        "tool/1.0.0/dir/tool.bin",  # the file is not in a directory
    ],
)
async def test_missing_package_or_file_is_404_not_found_lower_case(
    client: httpx.AsyncClient, world: World, uploaded: str, rest: str
) -> None:
    response = await client.get(url(world.private.id, rest), headers=world.headers("developer"))
    assert response.status_code == 404
    assert response.json() == FILE_NOT_FOUND
    head = await client.head(url(world.private.id, rest), headers=world.headers("developer"))
    assert head.status_code == 404
    assert head.content == b""


async def test_missing_file_in_a_public_project_is_404_for_anonymous(
    client: httpx.AsyncClient, world: World
) -> None:
    response = await client.get(url(world.public.id, "tool/1.0.0/tool.bin"))
    assert response.status_code == 404
    assert response.json() == FILE_NOT_FOUND


# --------------------------------------------------------------- headers (check 14)


async def test_download_headers(client: httpx.AsyncClient, world: World, uploaded: str) -> None:
    response = await client.get(uploaded, headers=world.headers("guest"))
    assert response.status_code == 200
    assert response.content == BODY
    assert response.headers["content-type"] == "application/octet-stream"
    assert response.headers["content-disposition"] == (
        "attachment; filename=\"tool.bin\"; filename*=UTF-8''tool.bin"
    )
    assert response.headers["content-transfer-encoding"] == "binary"
    assert response.headers["x-checksum-sha256"] == hashlib.sha256(BODY).hexdigest()
    assert response.headers["content-length"] == str(len(BODY))
    assert response.headers["x-frame-options"] == "SAMEORIGIN"
    assert response.headers["x-content-type-options"] == "nosniff"


async def test_content_disposition_escapes_special_characters(
    client: httpx.AsyncClient, world: World
) -> None:
    # @ is outside both safe sets (Rails ContentDisposition); + is inside both.
    await put(
        client, world.private.id, "tool/1.0/my+file@1.1.tar.gz", b"x", world.headers("developer")
    )
    response = await client.get(
        url(world.private.id, "tool/1.0/my+file@1.1.tar.gz"), headers=world.headers("developer")
    )
    assert response.headers["content-disposition"] == (
        "attachment; filename=\"my+file%401.1.tar.gz\"; filename*=UTF-8''my+file%401.1.tar.gz"
    )


async def test_a_nested_file_downloads_under_its_own_name(
    client: httpx.AsyncClient, world: World
) -> None:
    # Stored as dir%2Fsub%2Ftool-1.bin; GitLab's Rails escaping names the download
    # dir%252Fsub%252Ftool-1.bin. Cargobay names it by its base name
    # (docs/compatibility.md), which curl -OJ, wget and browsers save as it is.
    headers = world.headers("developer")
    await put(client, world.private.id, "tool/1.0/dir/sub/tool-1.bin", b"x", headers)
    for path in ("dir/sub/tool-1.bin", "dir%2Fsub%2Ftool-1.bin"):
        response = await client.get(url(world.private.id, f"tool/1.0/{path}"), headers=headers)
        assert response.status_code == 200, path
        assert response.headers["content-disposition"] == (
            "attachment; filename=\"tool-1.bin\"; filename*=UTF-8''tool-1.bin"
        )


# --------------------------------------------------------------- HEAD (check 15)


async def test_head_matches_get_without_a_body(
    client: httpx.AsyncClient, world: World, uploaded: str
) -> None:
    get = await client.get(uploaded, headers=world.headers("guest"))
    head = await client.head(uploaded, headers=world.headers("guest"))
    assert head.status_code == 200
    assert head.content == b""
    for name in (
        "content-type",
        "content-disposition",
        "content-length",
        "x-checksum-sha256",
        "etag",
        "content-transfer-encoding",
    ):
        assert head.headers[name] == get.headers[name], name


async def test_head_follows_the_same_auth_rules(
    client: httpx.AsyncClient, world: World, uploaded: str
) -> None:
    anonymous = await client.head(uploaded)
    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"] == 'Basic realm="GitLab Packages Registry"'
    stranger = await client.head(uploaded, headers=world.headers("stranger"))
    assert stranger.status_code == 404


# --------------------------------------------------------------- Range and conditionals


@pytest.mark.parametrize(
    ("range_header", "start", "end"),
    [
        ("bytes=0-9", 0, 9),
        ("bytes=100-355", 100, 355),
        ("bytes=10230-", 10230, 10239),
        ("bytes=-5", 10235, 10239),
        ("bytes=10000-99999", 10000, 10239),  # an end past the file is clamped
    ],
)
async def test_range_gives_206_with_the_right_bytes(
    client: httpx.AsyncClient, world: World, uploaded: str, range_header: str, start: int, end: int
) -> None:
    response = await client.get(uploaded, headers={**world.headers("guest"), "Range": range_header})
    assert response.status_code == 206
    assert response.content == BODY[start : end + 1]
    assert response.headers["content-range"] == f"bytes {start}-{end}/{len(BODY)}"
    assert response.headers["content-length"] == str(end - start + 1)


@pytest.mark.parametrize("range_header", ["bytes=10240-", "bytes=20000-30000"])
async def test_unsatisfiable_range_is_416(
    client: httpx.AsyncClient, world: World, uploaded: str, range_header: str
) -> None:
    response = await client.get(uploaded, headers={**world.headers("guest"), "Range": range_header})
    assert response.status_code == 416
    assert response.headers["content-range"] == f"bytes */{len(BODY)}"


@pytest.mark.parametrize("range_header", ["bytes=abc", "items=0-9", "bytes=9-3", "bytes=-"])
async def test_a_range_that_cannot_be_parsed_is_416_as_gitlab_answers(
    client: httpx.AsyncClient, world: World, uploaded: str, range_header: str
) -> None:
    """GitLab's Workhorse serves files with Go's http.ServeContent: "invalid range", 416
    (Starlette alone would answer 400)."""
    response = await client.get(uploaded, headers={**world.headers("guest"), "Range": range_header})
    assert response.status_code == 416


@pytest.mark.parametrize("range_header", ["bytes=", "bytes=,"])
async def test_a_range_header_naming_no_range_gets_the_whole_file(
    client: httpx.AsyncClient, world: World, uploaded: str, range_header: str
) -> None:
    response = await client.get(uploaded, headers={**world.headers("guest"), "Range": range_header})
    assert response.status_code == 200
    assert response.content == BODY


async def test_resuming_a_download_with_range_reassembles_the_file(
    client: httpx.AsyncClient, world: World, uploaded: str
) -> None:
    head = await client.get(uploaded, headers={**world.headers("guest"), "Range": "bytes=0-4095"})
    tail = await client.get(uploaded, headers={**world.headers("guest"), "Range": "bytes=4096-"})
    assert head.content + tail.content == BODY


async def test_if_none_match_with_the_etag_is_304(
    client: httpx.AsyncClient, world: World, uploaded: str
) -> None:
    first = await client.get(uploaded, headers=world.headers("guest"))
    etag = first.headers["etag"]
    assert etag == f'"{hashlib.sha256(BODY).hexdigest()}"'
    again = await client.get(uploaded, headers={**world.headers("guest"), "If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == etag
    other = await client.get(uploaded, headers={**world.headers("guest"), "If-None-Match": '"abc"'})
    assert other.status_code == 200
    assert other.content == BODY


async def test_if_modified_since_last_modified_is_304(
    client: httpx.AsyncClient, world: World, uploaded: str
) -> None:
    first = await client.get(uploaded, headers=world.headers("guest"))
    modified = first.headers["last-modified"]
    again = await client.get(
        uploaded, headers={**world.headers("guest"), "If-Modified-Since": modified}
    )
    assert again.status_code == 304
    assert again.content == b""
    old = await client.get(
        uploaded,
        headers={**world.headers("guest"), "If-Modified-Since": "Mon, 01 Jan 2001 00:00:00 GMT"},
    )
    assert old.status_code == 200
    assert old.content == BODY


# --------------------------------------------------------------- X-Accel-Redirect

LARGE = bytes(range(256)) * 1024  # 256 KiB: above what is sent from memory


async def test_nginx_in_front_is_handed_large_local_files_by_x_accel_redirect(
    client: httpx.AsyncClient, world: World, registry: Registry, backend: str
) -> None:
    """docs/deployment.md: with settings.accel_redirect, a GET that nginx marks with
    X-Sendfile-Type gets the file's headers and an X-Accel-Redirect naming its blob (local
    store only); everything else is answered as without it. tests/e2e/test_behind_nginx.py
    runs the same through a real nginx."""
    registry.settings.accel_redirect = "/_cargobay/blobs/"
    developer = world.headers("developer")
    await put(client, world.private.id, "tool/1.0.0/big.bin", LARGE, developer)
    await put(client, world.private.id, "tool/1.0.0/small.bin", BODY, developer)
    big, small = (
        url(world.private.id, "tool/1.0.0/big.bin"),
        url(world.private.id, "tool/1.0.0/small.bin"),
    )
    marked = {**developer, "X-Sendfile-Type": "X-Accel-Redirect"}
    sha = hashlib.sha256(LARGE).hexdigest()

    plain = await client.get(big, headers=developer)
    handed = await client.get(big, headers=marked)
    assert plain.content == LARGE and "x-accel-redirect" not in plain.headers
    if backend == "sqlite-local":
        assert handed.status_code == 200
        assert handed.content == b""
        assert (
            handed.headers["x-accel-redirect"]
            == f"/_cargobay/blobs/sha256/{sha[:2]}/{sha[2:4]}/{sha}"
        )
        for name in (
            "content-type",
            "content-disposition",
            "x-checksum-sha256",
            "etag",
            "last-modified",
            "cache-control",
            "content-transfer-encoding",
        ):
            assert handed.headers[name] == plain.headers[name], name
    else:  # an S3 blob is streamed by the server whatever nginx can do
        assert handed.content == LARGE and "x-accel-redirect" not in handed.headers
    # Range, HEAD, conditional requests and small files: answered here, as without nginx.
    ranged = await client.get(big, headers={**marked, "Range": "bytes=10-19"})
    assert ranged.status_code == 206 and ranged.content == LARGE[10:20]
    assert (await client.get(big, headers={**marked, "Range": "bytes=abc"})).status_code == 416
    head = await client.head(big, headers=marked)
    assert (
        head.headers["content-length"] == str(len(LARGE)) and "x-accel-redirect" not in head.headers
    )
    cached = await client.get(big, headers={**marked, "If-None-Match": f'"{sha}"'})
    assert cached.status_code == 304 and "x-accel-redirect" not in cached.headers
    assert (await client.get(small, headers=marked)).content == BODY
    # Refusals come first, as ever.
    anonymous = await client.get(big, headers={"X-Sendfile-Type": "X-Accel-Redirect"})
    assert anonymous.status_code == 401 and "x-accel-redirect" not in anonymous.headers
    stranger = {**world.headers("stranger"), "X-Sendfile-Type": "X-Accel-Redirect"}
    assert (await client.get(big, headers=stranger)).status_code == 404


async def test_etag_changes_when_a_newer_file_replaces_the_name(
    client: httpx.AsyncClient, world: World, uploaded: str
) -> None:
    old = (await client.get(uploaded, headers=world.headers("guest"))).headers["etag"]
    await put(client, world.private.id, "tool/1.0.0/tool.bin", b"new", world.headers("developer"))
    response = await client.get(uploaded, headers={**world.headers("guest"), "If-None-Match": old})
    assert response.status_code == 200
    assert response.content == b"new"


async def test_conditional_request_still_needs_access(
    client: httpx.AsyncClient, world: World, uploaded: str
) -> None:
    etag = (await client.get(uploaded, headers=world.headers("guest"))).headers["etag"]
    response = await client.get(uploaded, headers={"If-None-Match": etag})
    assert response.status_code == 401


# --------------------------------------------------------------- last_downloaded_at (check 16)


async def test_last_downloaded_at_is_set_by_the_first_download_and_throttled(
    client: httpx.AsyncClient, registry: Registry, world: World, uploaded: str
) -> None:
    (package,) = await packages(registry, world.private.id)
    assert package["last_downloaded_at"] is None

    before = utcnow()
    assert (await client.get(uploaded, headers=world.headers("guest"))).status_code == 200
    (package,) = await packages(registry, world.private.id)
    first = package["last_downloaded_at"]
    assert first is not None
    assert before - timedelta(seconds=1) <= first <= utcnow() + timedelta(seconds=1)

    # Within a minute: not written again.
    assert (await client.get(uploaded, headers=world.headers("guest"))).status_code == 200
    assert (await client.head(uploaded, headers=world.headers("guest"))).status_code == 200
    (package,) = await packages(registry, world.private.id)
    assert package["last_downloaded_at"] == first

    # Over a minute old: the next download writes it again.
    stale = utcnow() - timedelta(minutes=2)
    async with registry.db.write() as conn:
        await conn.execute(
            update(tables.packages)
            .where(tables.packages.c.id == package["id"])
            .values(last_downloaded_at=stale)
        )
    assert (await client.get(uploaded, headers=world.headers("guest"))).status_code == 200
    (package,) = await packages(registry, world.private.id)
    assert package["last_downloaded_at"] > stale + timedelta(minutes=1)


async def test_refused_or_missing_downloads_do_not_mark_the_package(
    client: httpx.AsyncClient, registry: Registry, world: World, uploaded: str
) -> None:
    assert (await client.get(uploaded)).status_code == 401
    assert (await client.get(uploaded, headers=world.headers("stranger"))).status_code == 404
    missing = url(world.private.id, "tool/1.0.0/missing.bin")
    assert (await client.get(missing, headers=world.headers("guest"))).status_code == 404
    (package,) = await packages(registry, world.private.id)
    assert package["last_downloaded_at"] is None


async def test_head_marks_the_package_downloaded(
    client: httpx.AsyncClient, registry: Registry, world: World, uploaded: str
) -> None:
    # Spec §3 step 8 [inferred]: HEAD runs the same handler.
    assert (await client.head(uploaded, headers=world.headers("guest"))).status_code == 200
    (package,) = await packages(registry, world.private.id)
    assert package["last_downloaded_at"] is not None


async def test_download_marks_only_its_own_package(
    client: httpx.AsyncClient, registry: Registry, world: World, uploaded: str
) -> None:
    await put(client, world.private.id, "tool/2.0.0/tool.bin", b"2", world.headers("developer"))
    await client.get(uploaded, headers=world.headers("guest"))
    marked = {
        p["version"]: p["last_downloaded_at"] for p in await packages(registry, world.private.id)
    }
    assert marked["1.0.0"] is not None
    assert marked["2.0.0"] is None


# --------------------------------------------------------------- `files` listing (spec §0)


async def test_files_listing_returns_the_package_files_as_json(
    client: httpx.AsyncClient, registry: Registry, world: World
) -> None:
    headers = world.headers("developer")
    await put(client, world.private.id, "pkg/1.0/a.txt", b"aaa", headers)
    await put(client, world.private.id, "pkg/1.0/dir/b.txt", b"bb", headers)
    await put(client, world.private.id, "pkg/2.0/c.txt", b"c", headers)
    response = await client.get(
        url(world.private.id, "pkg/1.0/files"), headers=world.headers("guest")
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    listing = response.json()
    assert [(f["file_name"], f["size"]) for f in listing] == [("a.txt", 3), ("dir%2Fb.txt", 2)]
    (package,) = await packages(registry, world.private.id, version="1.0")
    for entry, body in zip(listing, (b"aaa", b"bb"), strict=True):
        assert entry["package_id"] == package["id"]
        assert entry["file_sha256"] == hashlib.sha256(body).hexdigest()
        assert isinstance(entry["id"], int)
        # The docs' "download an entire package" loop fetches each listed name.
        get = await client.get(
            url(world.private.id, f"pkg/1.0/{entry['file_name']}"), headers=headers
        )
        assert get.content == body


async def test_files_listing_needs_the_same_access_as_a_download(
    client: httpx.AsyncClient, world: World
) -> None:
    await put(client, world.private.id, "pkg/1.0/a.txt", b"a", world.headers("developer"))
    listing = url(world.private.id, "pkg/1.0/files")
    assert (await client.get(listing)).status_code == 401
    assert (await client.get(listing, headers=world.headers("stranger"))).status_code == 404
    missing = await client.get(
        url(world.private.id, "pkg/9.9/files"), headers=world.headers("guest")
    )
    assert missing.status_code == 404
    assert missing.json() == FILE_NOT_FOUND


async def test_a_file_named_files_is_served_instead_of_the_listing(
    client: httpx.AsyncClient, world: World
) -> None:
    headers = world.headers("developer")
    await put(client, world.private.id, "pkg/1.0/a.txt", b"a", headers)
    await put(client, world.private.id, "pkg/1.0/files", b"the real file", headers)
    response = await client.get(url(world.private.id, "pkg/1.0/files"), headers=headers)
    assert response.status_code == 200
    assert response.content == b"the real file"
    assert response.headers["content-type"] == "application/octet-stream"


async def test_files_in_a_directory_is_an_ordinary_file_name(
    client: httpx.AsyncClient, world: World
) -> None:
    headers = world.headers("developer")
    await put(client, world.private.id, "pkg/1.0/a.txt", b"a", headers)
    response = await client.get(url(world.private.id, "pkg/1.0/dir/files"), headers=headers)
    assert response.status_code == 404
    assert response.json() == FILE_NOT_FOUND


# --------------------------------------------------------------- statuses (§3 steps 6-7, §10)


async def _set_package_status(registry: Registry, package_id: int, status: int) -> None:
    async with registry.db.write() as conn:
        await conn.execute(
            update(tables.packages).where(tables.packages.c.id == package_id).values(status=status)
        )


@pytest.mark.parametrize(
    ("status", "served"),
    [(0, True), (1, True), (5, True), (2, False), (3, False), (4, False)],
    ids=["default", "hidden", "deprecated", "processing", "error", "pending_destruction"],
)
async def test_only_installable_packages_are_downloadable(
    client: httpx.AsyncClient,
    registry: Registry,
    world: World,
    uploaded: str,
    status: int,
    served: bool,
) -> None:
    (package,) = await packages(registry, world.private.id)
    await _set_package_status(registry, package["id"], status)
    response = await client.get(uploaded, headers=world.headers("guest"))
    if served:
        assert (response.status_code, response.content) == (200, BODY)
    else:
        assert response.status_code == 404
        assert response.json() == FILE_NOT_FOUND


async def test_files_being_destroyed_are_not_served(
    client: httpx.AsyncClient, registry: Registry, world: World, uploaded: str
) -> None:
    await put(client, world.private.id, "tool/1.0.0/tool.bin", b"newer", world.headers("developer"))
    (package,) = await packages(registry, world.private.id)
    newest = max(f["id"] for f in await files_of(registry, package["id"]))
    async with registry.db.write() as conn:
        await conn.execute(
            update(tables.package_files)
            .where(tables.package_files.c.id == newest)
            .values(status=1)  # pending_destruction
        )
    # The older file of the same name is served again.
    response = await client.get(uploaded, headers=world.headers("guest"))
    assert (response.status_code, response.content) == (200, BODY)
    async with registry.db.write() as conn:
        await conn.execute(update(tables.package_files).values(status=1))
    gone = await client.get(uploaded, headers=world.headers("guest"))
    assert gone.status_code == 404
    assert gone.json() == FILE_NOT_FOUND

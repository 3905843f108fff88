"""Hostile integers and paths (issue 19): every id in every route, page numbers, bytes
that are not UTF-8. Each is a 4xx with GitLab's JSON body, never a 500; a full-width or
superscript digit is not a digit; an id past the database's range names nothing."""

from __future__ import annotations

import re

import httpx
import pytest
from starlette.routing import Route

from cargobay.api.routes import routes
from cargobay.domain.models import Visibility
from cargobay.services import admin
from tests.world import World

pytestmark = pytest.mark.anyio

# Superscript two, full-width one, Arabic-Indic one, past 64 bits, past 4300 digits
# (int()'s own limit), not UTF-8, a sign, spaces, an underscore (int() takes it).
HOSTILE = [
    "%C2%B2",
    "%EF%BC%91",
    "%D9%A1",
    "99999999999999999999",
    "2147483648",
    "9" * 5000,
    "%ff",
    "-1",
    "+1",
    "%201%20",
    "1_0",
]


async def _upload(client: httpx.AsyncClient, world: World, project_id: int) -> int:
    put = await client.put(
        f"/api/v4/projects/{project_id}/packages/generic/tool/1.0.0/f.bin",
        content=b"x",
        headers=world.headers("maintainer"),
        params={"select": "package_file"},
    )
    assert put.status_code == 200, put.text
    listed = await client.get(
        f"/api/v4/projects/{project_id}/packages", headers=world.headers("maintainer")
    )
    return int(listed.json()[0]["id"])


def _assert_refusal(response: httpx.Response, what: str) -> None:
    assert 400 <= response.status_code < 500, f"{what}: {response.status_code} {response.text}"
    body = response.json()
    assert isinstance(body, dict) and ("message" in body or "error" in body), f"{what}: {body}"


async def test_every_route_refuses_hostile_ids_without_a_server_error(
    client: httpx.AsyncClient, world: World
) -> None:
    package_id = await _upload(client, world, world.private.id)
    valid = {
        "id": str(world.private.id),
        "package_id": str(package_id),
        "package_name": "tool",
        "package_version": "1.0.0",
        "file_path": "f.bin",
    }
    tried = 0
    for route in routes:
        if not isinstance(route, Route) or not route.path.startswith("/api/v4/"):
            continue
        names = re.findall(r"{(\w+)(?::\w+)?}", route.path)
        for name in names:
            for hostile in HOSTILE:
                path = route.path
                for other in names:
                    value = hostile if other == name else valid.get(other, "1")
                    path = re.sub(r"{" + other + r"(?::\w+)?}", value, path)
                for method in sorted(route.methods or {"GET"}):
                    if method == "HEAD":
                        continue
                    response = await client.request(
                        method, path, headers=world.headers("admin"), content=b"{}"
                    )
                    what = f"{method} {path[:120]}"
                    if response.status_code >= 500:
                        pytest.fail(f"{what}: {response.status_code} {response.text}")
                    if response.status_code >= 400:
                        _assert_refusal(response, what)
                    tried += 1
    assert tried > 500  # every id of every route, not a handful


@pytest.mark.parametrize("ref", ["%EF%BC%91", "%C2%B2", "%D9%A1", "99999999999999999999", "%ff"])
async def test_a_project_id_that_is_not_ascii_digits_names_no_project(
    client: httpx.AsyncClient, world: World, ref: str
) -> None:
    # world.public is project 1: a full-width "1" must not answer it.
    assert world.public.id == 1
    for path in (f"/api/v4/projects/{ref}/packages", f"/api/v4/projects/{ref}/packages/1"):
        response = await client.get(path, headers=world.headers("admin"))
        assert response.status_code == 404, (path, response.text)
        assert response.json() == {"message": "404 Project Not Found"}
    generic = await client.get(
        f"/api/v4/projects/{ref}/packages/generic/tool/1.0.0/f.bin",
        headers=world.headers("admin"),
    )
    assert generic.status_code == 404
    assert generic.json() == {"message": "404 Not Found"}


async def test_package_and_file_ids_take_ascii_digits_only(
    client: httpx.AsyncClient, world: World
) -> None:
    pid = world.public.id
    package_id = await _upload(client, world, pid)
    headers = world.headers("maintainer")
    base = f"/api/v4/projects/{pid}/packages"
    assert (await client.get(f"{base}/{package_id}", headers=headers)).status_code == 200
    for bad in ("%C2%B2", "%EF%BC%91", "1_0", "%201"):
        got = await client.get(f"{base}/{bad}", headers=headers)
        assert got.status_code == 400
        assert got.json() == {"error": "package_id is invalid"}
        files = await client.delete(f"{base}/{package_id}/package_files/{bad}", headers=headers)
        assert files.json() == {"error": "package_file_id is invalid"}
    for far in ("2147483648", "99999999999999999999", "9" * 5000):
        got = await client.get(f"{base}/{far}", headers=headers)
        assert got.status_code == 404
        assert got.json() == {"message": "404 Not found"}
    rule = await client.delete(f"{base}/protection/rules/%C2%B2", headers=headers)
    assert rule.json() == {"error": "package_protection_rule_id is invalid"}
    users = await client.get("/api/v4/users/99999999999999999999", headers=world.headers("admin"))
    assert users.status_code == 404


@pytest.mark.parametrize(
    ("query", "error"),
    [
        ("page=99999999999999999999", "page is invalid"),
        ("page=%C2%B2", "page is invalid"),
        ("page=%EF%BC%92", "page is invalid"),
        ("per_page=%EF%BC%92", "per_page is invalid"),
        ("per_page=0", "per_page has a value not allowed"),
    ],
)
async def test_page_numbers_are_ascii_and_in_range(
    client: httpx.AsyncClient, world: World, query: str, error: str
) -> None:
    for path in (
        f"/api/v4/projects/{world.public.id}/packages",
        "/api/v4/groups/acme/packages",
        "/api/v4/users",
    ):
        response = await client.get(f"{path}?{query}", headers=world.headers("admin"))
        assert response.status_code == 400, (path, response.text)
        assert response.json() == {"error": error}


async def test_huge_per_page_clamps_and_negative_page_is_page_one(
    client: httpx.AsyncClient, world: World
) -> None:
    response = await client.get(
        f"/api/v4/projects/{world.public.id}/packages?per_page=99999999999999999999&page=-99999999999999999999"
    )
    assert response.status_code == 200
    assert response.headers["X-Per-Page"] == "100"
    assert response.headers["X-Page"] == "1"


async def test_cursor_must_name_an_id_in_range(client: httpx.AsyncClient, world: World) -> None:
    package_id = await _upload(client, world, world.public.id)
    base = f"/api/v4/projects/{world.public.id}/packages/{package_id}/pipelines"
    for cursor in ("eyJpZCI6OTk5OTk5OTk5OTk5OTk5OTk5OTl9", "eyJpZCI6MS41fQ", "eyJpZCI6dHJ1ZX0"):
        # {"id":99999999999999999999}, {"id":1.5}, {"id":true}
        response = await client.get(f"{base}?cursor={cursor}")
        assert response.status_code == 400, response.text
        assert response.json() == {"error": "cursor is invalid"}


# ---------------------------------------------------------------- authorize, then validate


async def test_a_bad_parameter_does_not_reveal_a_private_project(
    client: httpx.AsyncClient, world: World
) -> None:
    """GitLab finds the project and authorizes in a ``before`` block, which Grape runs
    before it validates parameters (spec §0): outsiders get 404, members the 400."""
    package_id = await _upload(client, world, world.private.id)
    base = f"/api/v4/projects/{world.private.id}/packages"
    lists = [
        f"{base}?order_by=size",
        f"{base}?page=x",
        f"{base}?per_page=0",
        f"{base}/{package_id}/package_files?sort=sideways",
        f"{base}/{package_id}/pipelines?per_page=99",
        f"{base}/%C2%B2/package_files",
    ]
    for url in lists:
        for headers in ({}, world.headers("stranger")):
            response = await client.get(url, headers=headers)
            assert response.status_code == 404, (url, headers, response.text)
            assert response.json() == {"message": "404 Project Not Found"}
        member = await client.get(url, headers=world.headers("guest"))
        assert member.status_code == 400, (url, member.text)
        assert "error" in member.json()


async def test_a_bad_parameter_does_not_reveal_a_private_group(
    client: httpx.AsyncClient, world: World
) -> None:
    await admin.create_group(world.registry, "hidden", visibility=Visibility.private)
    for query in ("order_by=size", "page=x", "exclude_subgroups=maybe"):
        url = f"/api/v4/groups/hidden/packages?{query}"
        anonymous = await client.get(url)
        assert anonymous.status_code == 404, anonymous.text
        assert anonymous.json() == {"message": "404 Group Not Found"}
        visible = await client.get(f"/api/v4/groups/acme/packages?{query}")
        assert visible.status_code == 400
        assert "error" in visible.json()

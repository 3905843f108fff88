"""Page numbers and ids in web URLs (issue 19): any digit that is not ASCII, and any
number past the database's range, is a refusal page, never a 500."""

from __future__ import annotations

import httpx
import pytest

from tests.world import World

pytestmark = pytest.mark.anyio

HOSTILE = ["%C2%B2", "%EF%BC%91", "000000000001" + "9" * 5000, "99999999999999999999"]


async def test_web_page_numbers_and_ids_never_fail(client: httpx.AsyncClient, world: World) -> None:
    project = world.public
    urls = []
    for bad in HOSTILE:
        urls += [
            f"/explore?page={bad}",
            f"/explore/groups?page={bad}",
            f"/{project.full_path}/-/packages?page={bad}",
            f"/{project.full_path}/-/packages/{bad}",
            f"/{project.full_path}/-/packages/1/files/{bad}",
            f"/%ff/-/packages?page={bad}",
        ]
    for url in urls:
        response = await client.get(url)
        assert 400 <= response.status_code < 500, (url[:80], response.status_code)

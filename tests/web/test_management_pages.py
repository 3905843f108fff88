"""The management pages in process: who may open them, as the API's services decide."""

from __future__ import annotations

import httpx
import pytest

from cargobay.services.registry import Registry
from tests.web.test_security import signed_in
from tests.world import World

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(("role", "status"), [("reporter", 403), ("maintainer", 200)])
async def test_project_tokens_need_a_maintainer(
    client: httpx.AsyncClient, registry: Registry, world: World, role: str, status: int
) -> None:
    await signed_in(client, registry, role)
    page = await client.get(f"/{world.private.full_path}/-/settings/access_tokens")
    assert page.status_code == status, page.text[-2000:]


@pytest.mark.parametrize(("role", "can_add"), [("reporter", False), ("maintainer", True)])
async def test_members_page_offers_adding_only_to_managers(
    client: httpx.AsyncClient, registry: Registry, world: World, role: str, can_add: bool
) -> None:
    await signed_in(client, registry, role)
    page = await client.get(f"/{world.private.full_path}/-/project_members")
    assert page.status_code == 200
    assert "@maintainer" in page.text
    assert ("Add member" in page.text) is can_add

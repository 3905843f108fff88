"""The generic_packages feature flag through GitLab's Features API, the project package
registry access level (the seeds' "403: the package registry is not enabled"), guests
(§15 check 21), and the size limit through the plan limits API (§15 check 12)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from cargobay.domain.models import AccessLevel, RegistryAccess, Visibility
from cargobay.services import admin
from tests.api.generic_support import CREATED, FORBIDDEN, TOO_LARGE, put, url
from tests.world import World

pytestmark = pytest.mark.anyio

NOT_FOUND = {"message": "404 Not Found"}
FEATURE = "/api/v4/features/generic_packages"


async def flag(client: httpx.AsyncClient, world: World, **body: object) -> httpx.Response:
    response = await client.post(FEATURE, json=body, headers=world.headers("admin"))
    assert response.status_code == 201, response.text
    return response


async def works(client: httpx.AsyncClient, world: World, project_id: int) -> tuple[int, int]:
    """(upload status, download status) of a fresh file in the project."""
    up = await put(client, project_id, "tool/1.0/f.bin", b"x", world.headers("developer"))
    down = await client.get(url(project_id, "tool/1.0/f.bin"), headers=world.headers("developer"))
    return up.status_code, down.status_code


# ---------------------------------------------------------------- the Features API


async def test_only_admins_use_the_features_api(client: httpx.AsyncClient, world: World) -> None:
    assert (await client.get("/api/v4/features")).status_code == 401
    for role in ("owner", "developer"):
        response = await client.get("/api/v4/features", headers=world.headers(role))
        assert response.status_code == 403
        assert response.json() == FORBIDDEN
        posted = await client.post(FEATURE, json={"value": False}, headers=world.headers(role))
        assert posted.status_code == 403
    assert (await works(client, world, world.private.id)) == (201, 200)


async def test_flag_listing(client: httpx.AsyncClient, world: World) -> None:
    listed = await client.get("/api/v4/features", headers=world.headers("admin"))
    [feature] = listed.json()
    assert feature["name"] == "generic_packages"
    assert feature["state"] == "on"
    assert feature["gates"] == []
    assert feature["definition"]["default_enabled"] is True

    await flag(client, world, value="false", project=world.private.full_path)
    [feature] = (await client.get("/api/v4/features", headers=world.headers("admin"))).json()
    assert feature["state"] == "conditional"
    assert feature["gates"] == [
        {"key": "disabled_actors", "value": [f"Project:{world.private.id}"]}
    ]


async def test_instance_off_answers_404_on_generic_routes(
    client: httpx.AsyncClient, world: World
) -> None:
    assert (await works(client, world, world.private.id)) == (201, 200)
    body = (await flag(client, world, value=False)).json()
    assert body["state"] == "off"
    assert body["gates"] == [{"key": "boolean", "value": False}]
    for project in (world.private, world.public):
        up = await put(client, project.id, "tool/1.0/g.bin", b"x", world.headers("developer"))
        assert up.status_code == 404
        assert up.json() == NOT_FOUND
        down = await client.get(url(project.id, "tool/1.0/f.bin"), headers=world.headers("admin"))
        assert down.status_code == 404
        assert down.json() == NOT_FOUND
    # the Packages API is not a generic route: the package is still listed
    listed = await client.get(
        f"/api/v4/projects/{world.private.id}/packages", headers=world.headers("developer")
    )
    assert [p["name"] for p in listed.json()] == ["tool"]
    # DELETE /features/:name restores the default (on)
    reset = await client.delete(FEATURE, headers=world.headers("admin"))
    assert reset.status_code == 204
    assert (await works(client, world, world.private.id)) == (201, 200)


async def test_off_for_one_project_only(client: httpx.AsyncClient, world: World) -> None:
    await flag(client, world, value="false", project=str(world.private.id))
    assert (await works(client, world, world.private.id)) == (404, 404)
    assert (await works(client, world, world.public.id)) == (201, 200)


async def test_a_project_gate_beats_its_group_which_beats_the_instance(
    client: httpx.AsyncClient, world: World
) -> None:
    third = await world.project("third")
    await flag(client, world, value=False)
    await flag(client, world, value=True, group="acme")
    await flag(client, world, value=False, project=world.public.full_path)
    assert (await works(client, world, world.private.id)) == (201, 200)  # group on
    assert (await works(client, world, third.id)) == (201, 200)
    assert (await works(client, world, world.public.id)) == (404, 404)  # project off
    await admin.create_group(world.registry, "elsewhere")
    outside = await admin.create_project(world.registry, "elsewhere", "proj")
    await admin.add_member(
        world.registry, "developer", access_level=AccessLevel.DEVELOPER, project=outside.id
    )
    assert (await works(client, world, outside.id)) == (404, 404)  # instance off


async def test_bad_feature_requests(client: httpx.AsyncClient, world: World) -> None:
    admin = world.headers("admin")
    missing = await client.post(FEATURE, json={}, headers=admin)
    assert missing.status_code == 400
    assert missing.json() == {"error": "value is missing"}
    percentage = await client.post(FEATURE, json={"value": 30}, headers=admin)
    assert percentage.status_code == 400
    unknown = await client.post(
        "/api/v4/features/no_such_flag", json={"value": True}, headers=admin
    )
    assert unknown.status_code == 400
    assert "generic_packages" in unknown.json()["message"]
    no_project = await client.post(FEATURE, json={"value": True, "project": "a/b"}, headers=admin)
    assert no_project.status_code == 400
    assert no_project.json() == {"message": "400 Bad request - a/b is not found!"}


# ---------------------------------------------------------------- registry access level


async def test_disabled_registry_answers_403_on_generic_routes(
    client: httpx.AsyncClient, world: World
) -> None:
    """The seeds' troubleshooting: 403 when the package registry is not enabled."""
    disabled = await world.project(
        "no-registry", visibility=Visibility.public, registry_access=RegistryAccess.disabled
    )
    for role in ("developer", "maintainer", "owner"):
        up = await put(client, disabled.id, "tool/1.0/f.bin", b"x", world.headers(role))
        assert up.status_code == 403, role
        assert up.json() == FORBIDDEN
        down = await client.get(url(disabled.id, "tool/1.0/f.bin"), headers=world.headers(role))
        assert down.status_code == 403, role
        assert down.json() == FORBIDDEN


async def test_check_21_guests_download_but_do_not_upload(
    client: httpx.AsyncClient, world: World
) -> None:
    assert (
        await put(client, world.private.id, "t/1.0/f", b"x", world.headers("developer"))
    ).status_code == 201
    guest_up = await put(client, world.private.id, "t/1.0/g", b"x", world.headers("guest"))
    assert guest_up.status_code == 403
    assert guest_up.json() == FORBIDDEN
    guest_down = await client.get(url(world.private.id, "t/1.0/f"), headers=world.headers("guest"))
    assert guest_down.status_code == 200
    assert guest_down.content == b"x"


# ---------------------------------------------------------------- plan limits (§15 12)

LIMITS = "/api/v4/application/plan_limits"


async def test_plan_limits_default_to_the_setting(client: httpx.AsyncClient, world: World) -> None:
    response = await client.get(LIMITS, headers=world.headers("admin"))
    assert response.status_code == 200
    assert response.json() == {"generic_packages_max_file_size": 5 * 1024**3}
    assert (await client.get(LIMITS, headers=world.headers("owner"))).status_code == 403
    assert (await client.put(LIMITS, json={"generic_packages_max_file_size": 1})).status_code == 401


async def test_check_12_file_size_limit(client: httpx.AsyncClient, world: World) -> None:
    changed = await client.put(
        LIMITS, json={"generic_packages_max_file_size": 10}, headers=world.headers("admin")
    )
    assert changed.status_code == 200
    assert changed.json() == {"generic_packages_max_file_size": 10}
    assert (await client.get(LIMITS, headers=world.headers("admin"))).json() == changed.json()
    developer = world.headers("developer")
    at_limit = await put(client, world.private.id, "t/1.0/ten", b"x" * 10, developer)
    assert at_limit.status_code == 400
    assert at_limit.json() == TOO_LARGE  # GitLab's >=: exactly the limit is refused
    below = await put(client, world.private.id, "t/1.0/nine", b"x" * 9, developer)
    assert below.status_code == 201
    assert below.json() == CREATED

    # 0 means no limit
    await client.put(
        "/api/v4/application/plan_limits?plan_name=default&generic_packages_max_file_size=0",
        headers=world.headers("admin"),
    )
    big = await put(client, world.private.id, "t/1.0/big", b"x" * 100_000, developer)
    assert big.status_code == 201


async def test_a_chunked_upload_over_the_limit_is_cut_off(
    client: httpx.AsyncClient, world: World
) -> None:
    await client.put(
        LIMITS, json={"generic_packages_max_file_size": 100_000}, headers=world.headers("admin")
    )

    async def body() -> AsyncIterator[bytes]:
        for _ in range(4):
            yield b"x" * 65536

    response = await client.put(
        url(world.private.id, "t/1.0/stream"), content=body(), headers=world.headers("developer")
    )
    assert response.status_code == 400
    assert response.json() == TOO_LARGE


async def test_bad_plan_limits(client: httpx.AsyncClient, world: World) -> None:
    admin = world.headers("admin")
    negative = await client.put(LIMITS, json={"generic_packages_max_file_size": -1}, headers=admin)
    assert negative.status_code == 400
    assert negative.json() == {
        "message": {"generic_packages_max_file_size": ["must be greater than or equal to 0"]}
    }
    text = await client.put(LIMITS, json={"generic_packages_max_file_size": "big"}, headers=admin)
    assert text.json() == {"error": "generic_packages_max_file_size is invalid"}
    plan = await client.put(
        LIMITS, json={"plan_name": "gold", "generic_packages_max_file_size": 1}, headers=admin
    )
    assert plan.json() == {"error": "plan_name does not have a valid value"}

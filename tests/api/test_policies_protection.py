"""Package protection rules: GitLab's REST API (/projects/:id/packages/protection/rules),
and their effect: pushes below the minimum level are refused before the body is read,
deletes below the minimum level are refused, and both pass at the level."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from cargobay.domain.models import Project
from cargobay.services.registry import Registry
from tests.api.generic_support import CREATED, packages, put, url
from tests.world import World

pytestmark = pytest.mark.anyio

PROTECTED = {"message": "403 Forbidden - Package protected."}
DELETION_PROTECTED = {"message": "403 Forbidden - Package is deletion protected."}


def rules_url(project: Project) -> str:
    return f"/api/v4/projects/{project.id}/packages/protection/rules"


async def add_rule(
    client: httpx.AsyncClient, world: World, project: Project, **fields: Any
) -> dict[str, Any]:
    body = {"package_type": "generic", **fields}
    response = await client.post(rules_url(project), json=body, headers=world.headers("maintainer"))
    assert response.status_code == 201, response.text
    rule: dict[str, Any] = response.json()
    return rule


# ---------------------------------------------------------------- the rules API


async def test_create_list_update_delete(client: httpx.AsyncClient, world: World) -> None:
    project = world.private
    rule = await add_rule(
        client,
        world,
        project,
        package_name_pattern="tool-*",
        minimum_access_level_for_push="maintainer",
    )
    assert rule == {
        "id": rule["id"],
        "project_id": project.id,
        "package_name_pattern": "tool-*",
        "package_type": "generic",
        "minimum_access_level_for_delete": None,
        "minimum_access_level_for_push": "maintainer",
    }
    listed = await client.get(rules_url(project), headers=world.headers("maintainer"))
    assert listed.json() == [rule]

    patched = await client.patch(
        f"{rules_url(project)}/{rule['id']}",
        json={"minimum_access_level_for_delete": "owner", "minimum_access_level_for_push": None},
        headers=world.headers("maintainer"),
    )
    assert patched.status_code == 200
    assert patched.json()["minimum_access_level_for_delete"] == "owner"
    assert patched.json()["minimum_access_level_for_push"] is None

    deleted = await client.delete(
        f"{rules_url(project)}/{rule['id']}", headers=world.headers("maintainer")
    )
    assert deleted.status_code == 204
    assert deleted.content == b""
    again = await client.delete(
        f"{rules_url(project)}/{rule['id']}", headers=world.headers("maintainer")
    )
    assert again.status_code == 404
    assert again.json() == {"message": "404 Not found"}
    assert (await client.get(rules_url(project), headers=world.headers("maintainer"))).json() == []


async def test_managing_rules_needs_maintainer(client: httpx.AsyncClient, world: World) -> None:
    body = {
        "package_name_pattern": "x",
        "package_type": "generic",
        "minimum_access_level_for_push": "owner",
    }
    for role in ("guest", "developer"):
        response = await client.post(
            rules_url(world.private), json=body, headers=world.headers(role)
        )
        assert response.status_code == 403, role
        assert (
            await client.get(rules_url(world.private), headers=world.headers(role))
        ).status_code == 403
    stranger = await client.get(rules_url(world.private), headers=world.headers("stranger"))
    assert stranger.status_code == 404
    assert stranger.json() == {"message": "404 Project Not Found"}
    anonymous = await client.post(rules_url(world.public), json=body)
    assert anonymous.status_code == 401
    owner = await client.post(rules_url(world.private), json=body, headers=world.headers("owner"))
    assert owner.status_code == 201


@pytest.mark.parametrize(
    ("body", "status", "answer"),
    [
        (
            {"package_name_pattern": "x", "package_type": "generic"},
            422,
            {
                "message": {
                    "error": "A rule must have at least a minimum access role for push or delete."
                }
            },
        ),
        (
            {"package_type": "generic", "minimum_access_level_for_push": "owner"},
            400,
            {"error": "package_name_pattern is missing"},
        ),
        (
            {
                "package_name_pattern": "x",
                "package_type": "rubygems",
                "minimum_access_level_for_push": "owner",
            },
            400,
            {"error": "package_type does not have a valid value"},
        ),
        (
            {
                "package_name_pattern": "x",
                "package_type": "generic",
                "minimum_access_level_for_push": "developer",
            },
            400,
            {"error": "minimum_access_level_for_push does not have a valid value"},
        ),
        (
            {
                "package_name_pattern": "x",
                "package_type": "generic",
                "minimum_access_level_for_delete": "maintainer",
            },
            400,
            {"error": "minimum_access_level_for_delete does not have a valid value"},
        ),
    ],
)
async def test_invalid_rules_are_refused(
    client: httpx.AsyncClient, world: World, body: dict[str, Any], status: int, answer: Any
) -> None:
    response = await client.post(
        rules_url(world.private), json=body, headers=world.headers("maintainer")
    )
    assert response.status_code == status
    assert response.json() == answer


async def test_a_pattern_is_unique_per_type(client: httpx.AsyncClient, world: World) -> None:
    await add_rule(
        client,
        world,
        world.private,
        package_name_pattern="x",
        minimum_access_level_for_push="owner",
    )
    twice = await client.post(
        rules_url(world.private),
        json={
            "package_name_pattern": "x",
            "package_type": "generic",
            "minimum_access_level_for_push": "admin",
        },
        headers=world.headers("maintainer"),
    )
    assert twice.status_code == 422
    assert twice.json() == {"message": {"error": "Package name pattern has already been taken"}}
    await add_rule(
        client,
        world,
        world.private,
        package_name_pattern="x",
        package_type="npm",
        minimum_access_level_for_push="owner",
    )


# ---------------------------------------------------------------- push protection


async def test_push_is_refused_below_the_level_and_allowed_at_it(
    client: httpx.AsyncClient, world: World, registry: Registry
) -> None:
    project = world.private
    await add_rule(
        client,
        world,
        project,
        package_name_pattern="tool-*",
        minimum_access_level_for_push="maintainer",
    )
    developer = await put(
        client, project.id, "tool-cli/1.0/a.bin", b"x", world.headers("developer")
    )
    assert developer.status_code == 403
    assert developer.json() == PROTECTED
    assert await packages(registry, project.id) == []
    for role in ("maintainer", "owner", "admin"):
        allowed = await put(
            client, project.id, f"tool-cli/1.0/{role}.bin", b"x", world.headers(role)
        )
        assert allowed.status_code == 201, role
        assert allowed.json() == CREATED
    # names outside the pattern stay open to developers
    other = await put(client, project.id, "other/1.0/a.bin", b"x", world.headers("developer"))
    assert other.status_code == 201


@pytest.mark.parametrize(
    ("level", "refused", "allowed"),
    [("owner", "maintainer", "owner"), ("admin", "owner", "admin")],
)
async def test_higher_push_levels(
    client: httpx.AsyncClient, world: World, level: str, refused: str, allowed: str
) -> None:
    await add_rule(
        client, world, world.private, package_name_pattern="*", minimum_access_level_for_push=level
    )
    below = await put(client, world.private.id, "p/1.0/f", b"x", world.headers(refused))
    assert below.status_code == 403
    assert below.json() == PROTECTED
    at = await put(client, world.private.id, "p/1.0/f", b"x", world.headers(allowed))
    assert at.status_code == 201


async def test_patterns_match_case_insensitively_with_wildcards(
    client: httpx.AsyncClient, world: World
) -> None:
    await add_rule(
        client,
        world,
        world.private,
        package_name_pattern="Rel*_build",
        minimum_access_level_for_push="owner",
    )
    cases = {
        "release_build": 403,
        "REL_BUILD": 403,
        "rel-x_build": 403,
        "relXbuild": 201,  # "_" is literal, not LIKE's any-character
        "release_build2": 201,
    }
    for name, status in cases.items():
        response = await put(
            client, world.private.id, f"{name}/1.0/f", b"x", world.headers("maintainer")
        )
        assert response.status_code == status, name


async def test_a_rule_for_another_package_type_does_not_apply(
    client: httpx.AsyncClient, world: World
) -> None:
    await add_rule(
        client,
        world,
        world.private,
        package_name_pattern="*",
        package_type="npm",
        minimum_access_level_for_push="admin",
    )
    response = await put(client, world.private.id, "tool/1.0/f", b"x", world.headers("developer"))
    assert response.status_code == 201


async def test_deploy_tokens_cannot_push_protected_packages(
    client: httpx.AsyncClient, world: World
) -> None:
    token = await world.deploy_token(world.private, ["write_package_registry"])
    await add_rule(
        client,
        world,
        world.private,
        package_name_pattern="tool",
        minimum_access_level_for_push="maintainer",
    )
    headers = {"Deploy-Token": token}
    assert (await put(client, world.private.id, "tool/1.0/f", b"x", headers)).json() == PROTECTED
    assert (await put(client, world.private.id, "other/1.0/f", b"x", headers)).status_code == 201


async def test_a_protected_push_is_refused_before_the_body_is_read(
    client: httpx.AsyncClient, world: World
) -> None:
    """Expect: 100-continue clients never send a byte of a refused upload."""
    await add_rule(
        client,
        world,
        world.private,
        package_name_pattern="big",
        minimum_access_level_for_push="owner",
    )
    sent: list[int] = []

    async def body() -> AsyncIterator[bytes]:
        for _ in range(4):
            sent.append(1)
            yield b"x" * 65536

    response = await client.put(
        url(world.private.id, "big/1.0/f.bin"),
        content=body(),
        headers=world.headers("maintainer"),
    )
    assert response.status_code == 403
    assert response.json() == PROTECTED
    assert sent == []


# ---------------------------------------------------------------- delete protection


async def _package(client: httpx.AsyncClient, world: World, name: str) -> dict[str, Any]:
    assert (
        await put(client, world.private.id, f"{name}/1.0/f", b"x", world.headers("owner"))
    ).status_code == 201
    listed = await client.get(
        f"/api/v4/projects/{world.private.id}/packages?package_name={name}",
        headers=world.headers("owner"),
    )
    [package] = [p for p in listed.json() if p["name"] == name]
    return dict(package)


async def test_delete_is_refused_below_the_level_and_allowed_at_it(
    client: httpx.AsyncClient, world: World
) -> None:
    await add_rule(
        client,
        world,
        world.private,
        package_name_pattern="keep*",
        minimum_access_level_for_delete="owner",
    )
    package = await _package(client, world, "keeper")
    path = f"/api/v4/projects/{world.private.id}/packages/{package['id']}"
    refused = await client.delete(path, headers=world.headers("maintainer"))
    assert refused.status_code == 403
    assert refused.json() == DELETION_PROTECTED
    assert (await client.get(path, headers=world.headers("maintainer"))).status_code == 200
    # a single file of a protected package is protected as well
    files = (await client.get(f"{path}/package_files", headers=world.headers("owner"))).json()
    file_path = f"{path}/package_files/{files[0]['id']}"
    assert (
        await client.delete(file_path, headers=world.headers("maintainer"))
    ).json() == DELETION_PROTECTED
    allowed = await client.delete(path, headers=world.headers("owner"))
    assert allowed.status_code == 204
    assert (await client.get(path, headers=world.headers("owner"))).status_code == 404
    # an unprotected name is deleted by a maintainer as usual
    other = await _package(client, world, "other")
    other_path = f"/api/v4/projects/{world.private.id}/packages/{other['id']}"
    assert (await client.delete(other_path, headers=world.headers("maintainer"))).status_code == 204


async def test_admin_delete_level(client: httpx.AsyncClient, world: World) -> None:
    await add_rule(
        client,
        world,
        world.private,
        package_name_pattern="*",
        minimum_access_level_for_delete="admin",
    )
    package = await _package(client, world, "thing")
    path = f"/api/v4/projects/{world.private.id}/packages/{package['id']}"
    assert (await client.delete(path, headers=world.headers("owner"))).json() == DELETION_PROTECTED
    assert (await client.delete(path, headers=world.headers("admin"))).status_code == 204


async def test_rule_changes_are_audited(client: httpx.AsyncClient, world: World) -> None:
    rule = await add_rule(
        client,
        world,
        world.private,
        package_name_pattern="x",
        minimum_access_level_for_push="owner",
    )
    events = await client.get(
        f"/api/v4/projects/{world.private.id}/audit_events", headers=world.headers("maintainer")
    )
    [event] = events.json()
    assert event["event_name"] == "package_protection_rule_created"
    assert event["details"]["target_id"] == str(rule["id"])
    assert event["details"]["target_details"] == "x"
    assert event["details"]["author_name"] == "maintainer"

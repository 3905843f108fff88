"""Namespace duplicate settings (spec §8; §15 checks 8, 9, 10): the settings API, who may
use it, regex validation, and what uploads then do, including the full matrix of
duplicates allowed/disallowed × exception regex matching the name, the version or neither.
"""

from __future__ import annotations

import time

import httpx
import pytest

from cargobay.services.registry import Registry
from tests.api.generic_support import CREATED, put, url
from tests.world import World

pytestmark = pytest.mark.anyio

DUPLICATE = {"message": "400 Bad request - Duplicate package is not allowed"}
SETTINGS = "/api/v4/groups/acme%2Fteam/packages/settings"


async def set_duplicates(
    client: httpx.AsyncClient, world: World, allowed: bool, regex: str = ""
) -> httpx.Response:
    response = await client.put(
        SETTINGS,
        json={"generic_duplicates_allowed": allowed, "generic_duplicate_exception_regex": regex},
        headers=world.headers("owner"),
    )
    assert response.status_code == 200, response.text
    return response


async def upload_twice(
    client: httpx.AsyncClient, world: World, name: str, version: str
) -> httpx.Response:
    rest = f"{name}/{version}/file.bin"
    first = await put(client, world.private.id, rest, b"one", world.headers("developer"))
    assert first.status_code == 201, first.text
    return await put(client, world.private.id, rest, b"two", world.headers("developer"))


# ---------------------------------------------------------------- the settings API


async def test_settings_default_to_duplicates_allowed_without_exceptions(
    client: httpx.AsyncClient, world: World
) -> None:
    response = await client.get(SETTINGS, headers=world.headers("owner"))
    assert response.status_code == 200
    assert response.json() == {
        "generic_duplicates_allowed": True,
        "generic_duplicate_exception_regex": "",
    }


async def test_only_owners_and_admins_change_settings(
    client: httpx.AsyncClient, world: World
) -> None:
    body = {"generic_duplicates_allowed": False}
    for role in ("developer", "maintainer", "stranger"):
        response = await client.put(SETTINGS, json=body, headers=world.headers(role))
        assert response.status_code == 403, role
        assert response.json() == {"message": "403 Forbidden"}
    anonymous = await client.put(SETTINGS, json=body)
    assert anonymous.status_code == 401
    for role in ("owner", "admin"):
        response = await client.put(SETTINGS, json=body, headers=world.headers(role))
        assert response.status_code == 200, role
        assert response.json()["generic_duplicates_allowed"] is False
    # settings reads are for owners too
    assert (await client.get(SETTINGS, headers=world.headers("maintainer"))).status_code == 403


async def test_a_form_body_works_like_json(client: httpx.AsyncClient, world: World) -> None:
    """curl --data, as the docs' examples send parameters."""
    response = await client.put(
        SETTINGS,
        content=b"generic_duplicates_allowed=false&generic_duplicate_exception_regex=.*-rc",
        headers={**world.headers("owner"), "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 200
    assert response.json() == {
        "generic_duplicates_allowed": False,
        "generic_duplicate_exception_regex": ".*-rc",
    }


async def test_unknown_or_private_group_is_404(client: httpx.AsyncClient, world: World) -> None:
    missing = await client.get(
        "/api/v4/groups/nope/packages/settings", headers=world.headers("owner")
    )
    assert missing.status_code == 404
    assert missing.json() == {"message": "404 Group Not Found"}


async def test_user_namespace_settings_belong_to_the_user(
    client: httpx.AsyncClient, world: World
) -> None:
    own = "/api/v4/namespaces/developer/packages/settings"
    response = await client.put(
        own, json={"generic_duplicates_allowed": False}, headers=world.headers("developer")
    )
    assert response.status_code == 200
    assert response.json()["generic_duplicates_allowed"] is False
    other = await client.get(own, headers=world.headers("maintainer"))
    assert other.status_code == 404
    assert other.json() == {"message": "404 Namespace Not Found"}
    # the same group settings are reachable as a namespace too
    group = await client.get(
        "/api/v4/namespaces/acme%2Fteam/packages/settings", headers=world.headers("owner")
    )
    assert group.status_code == 200


@pytest.mark.parametrize(
    ("regex", "reason"),
    [
        ("(unclosed", "not valid RE2 syntax: missing ): (unclosed"),
        ("(?<=lookbehind)x", "not valid RE2 syntax: invalid perl operator: (?<="),
        ("a" * 256, "is too long (maximum is 255 characters)"),
    ],
)
async def test_a_bad_regex_is_a_clear_400_and_changes_nothing(
    client: httpx.AsyncClient, world: World, regex: str, reason: str
) -> None:
    response = await client.put(
        SETTINGS,
        json={"generic_duplicates_allowed": False, "generic_duplicate_exception_regex": regex},
        headers=world.headers("owner"),
    )
    assert response.status_code == 400
    assert response.json() == {"message": {"generic_duplicate_exception_regex": [reason]}}
    after = await client.get(SETTINGS, headers=world.headers("owner"))
    assert after.json() == {
        "generic_duplicates_allowed": True,
        "generic_duplicate_exception_regex": "",
    }


async def test_a_non_boolean_is_a_grape_400(client: httpx.AsyncClient, world: World) -> None:
    response = await client.put(
        SETTINGS, json={"generic_duplicates_allowed": "maybe"}, headers=world.headers("owner")
    )
    assert response.status_code == 400
    assert response.json() == {"error": "generic_duplicates_allowed is invalid"}


async def test_changes_are_audited(client: httpx.AsyncClient, world: World) -> None:
    await set_duplicates(client, world, False, "release-.*")
    events = await client.get("/api/v4/groups/acme/audit_events", headers=world.headers("owner"))
    assert events.status_code == 200
    [event] = [e for e in events.json() if e["event_name"] == "package_settings_updated"]
    assert event["entity_type"] == "Group"
    assert event["details"]["author_name"] == "owner"
    assert event["details"]["token_kind"] == "personal_access_token"
    assert event["details"]["to"] == {
        "generic_duplicates_allowed": False,
        "generic_duplicate_exception_regex": "release-.*",
    }


# ---------------------------------------------------------------- uploads (§15 8, 9, 10)


async def test_check_8_duplicates_disallowed(client: httpx.AsyncClient, world: World) -> None:
    await set_duplicates(client, world, False)
    second = await upload_twice(client, world, "tool", "1.0.0")
    assert second.status_code == 400
    assert second.json() == DUPLICATE
    other_file = await put(
        client, world.private.id, "tool/1.0.0/other.bin", b"x", world.headers("developer")
    )
    assert other_file.status_code == 201
    assert other_file.json() == CREATED
    download = await client.get(
        url(world.private.id, "tool/1.0.0/file.bin"), headers=world.headers("developer")
    )
    assert download.content == b"one"  # the refused upload changed nothing


# allowed, regex, name, version -> second upload accepted?
MATRIX = [
    # duplicates allowed: the exception regex inverts (newest GitLab, MR 165467)
    (True, "", "tool", "1.0.0", True),
    (True, ".*ool", "tool", "1.0.0", False),  # matches the name
    (True, r"1\.0\..*", "tool", "1.0.0", False),  # matches the version
    (True, ".*zzz.*", "tool", "1.0.0", True),  # matches neither
    # duplicates disallowed: the exception regex allows
    (False, "", "tool", "1.0.0", False),
    (False, ".*ool", "tool", "1.0.0", True),
    (False, r"1\.0\..*", "tool", "1.0.0", True),
    (False, ".*zzz.*", "tool", "1.0.0", False),
    # a true full match: a partial match is no match (MR 265420)
    (False, "too", "tool", "1.0.0", False),
    (False, r"1\.0", "tool", "1.0.0", False),
    # GitLab's old \A<regex>\z anchored only the outer alternatives, so 9\.9\.9|8\.8\.8
    # matched 9.9.9-rc; a full match does not
    (False, r"9\.9\.9|8\.8\.8", "tool", "9.9.9-rc", False),
    (False, r"9\.9\.9|8\.8\.8", "tool", "8.8.8", True),
]


@pytest.mark.parametrize(("allowed", "regex", "name", "version", "accepted"), MATRIX)
async def test_check_9_exception_regex_matrix(
    client: httpx.AsyncClient,
    world: World,
    allowed: bool,
    regex: str,
    name: str,
    version: str,
    accepted: bool,
) -> None:
    await set_duplicates(client, world, allowed, regex)
    second = await upload_twice(client, world, name, version)
    if accepted:
        assert second.status_code == 201, second.text
        files = await client.get(
            f"/api/v4/projects/{world.private.id}/packages", headers=world.headers("developer")
        )
        [package] = files.json()
        listed = await client.get(
            f"/api/v4/projects/{world.private.id}/packages/{package['id']}/package_files",
            headers=world.headers("developer"),
        )
        assert [f["file_name"] for f in listed.json()] == ["file.bin", "file.bin"]
    else:
        assert second.status_code == 400
        assert second.json() == DUPLICATE


async def test_settings_of_the_direct_namespace_apply(
    client: httpx.AsyncClient, world: World
) -> None:
    """The project lives in acme/team: settings of acme (the parent) do not apply."""
    parent = await client.put(
        "/api/v4/groups/acme/packages/settings",
        json={"generic_duplicates_allowed": False},
        headers=world.headers("owner"),
    )
    assert parent.status_code == 200
    assert (await upload_twice(client, world, "tool", "1.0.0")).status_code == 201


async def test_check_10_a_deleted_package_is_no_duplicate(
    client: httpx.AsyncClient, world: World
) -> None:
    await set_duplicates(client, world, False)
    rest = "tool/1.0.0/file.bin"
    assert (
        await put(client, world.private.id, rest, b"one", world.headers("developer"))
    ).status_code == 201
    packages = f"/api/v4/projects/{world.private.id}/packages"
    [old] = (await client.get(packages, headers=world.headers("maintainer"))).json()
    deleted = await client.delete(f"{packages}/{old['id']}", headers=world.headers("maintainer"))
    assert deleted.status_code == 204
    again = await put(client, world.private.id, rest, b"two", world.headers("developer"))
    assert again.status_code == 201
    [new] = (await client.get(packages, headers=world.headers("maintainer"))).json()
    assert new["id"] != old["id"]


async def test_a_pathological_regex_answers_promptly(
    client: httpx.AsyncClient, world: World, registry: Registry
) -> None:
    """``(a+)+$`` against a long run of ``a`` that then fails takes a backtracking engine
    (Python's re, Ruby's Onigmo) exponential time; RE2 answers in linear time."""
    await set_duplicates(client, world, False, "(a+)+$")
    name = "a" * 200 + "-"
    version = "a" * 200 + "-"
    started = time.monotonic()
    second = await upload_twice(client, world, name, version)
    assert second.status_code == 400
    assert second.json() == DUPLICATE
    assert time.monotonic() - started < 5

"""Cleanup policies (spec §9) and retention rules through the API: the policy, its
dry-run preview, a run on demand, and that a run removes exactly what the preview listed.
(The scheduled run is tests/test_scheduler.py.)"""

from __future__ import annotations

import json
import subprocess
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from cargobay.domain.models import Project, utcnow
from cargobay.services.registry import Registry
from cargobay.settings import Settings
from cargobay.storage.db.tables import packages
from tests.api.generic_support import put, url
from tests.cli_support import CARGOBAY, cli_env
from tests.world import World

pytestmark = pytest.mark.anyio


def policy_url(project: Project, rest: str = "") -> str:
    return f"/api/v4/projects/{project.id}/packages/cleanup_policy{rest}"


async def set_policy(
    client: httpx.AsyncClient, world: World, project: Project, **fields: Any
) -> dict[str, Any]:
    response = await client.put(
        policy_url(project), json=fields, headers=world.headers("maintainer")
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def publish(
    client: httpx.AsyncClient,
    world: World,
    project: Project,
    name: str,
    version: str,
    file: str = "f.bin",
) -> int:
    response = await put(
        client,
        project.id,
        f"{name}/{version}/{file}",
        f"{name} {version}".encode(),
        world.headers("developer"),
    )
    assert response.status_code == 201
    listed = await client.get(
        f"/api/v4/projects/{project.id}/packages?package_name={name}&package_version={version}",
        headers=world.headers("developer"),
    )
    return int(listed.json()[0]["id"])


async def age(
    registry: Registry, package_id: int, *, created_days: int, downloaded_days: int | None = None
) -> None:
    """Backdate a package, as if published (and last downloaded) that many days ago."""
    now = utcnow()
    values: dict[str, Any] = {"created_at": now - timedelta(days=created_days)}
    if downloaded_days is not None:
        values["last_downloaded_at"] = now - timedelta(days=downloaded_days)
    async with registry.db.write() as conn:
        await conn.execute(update(packages).where(packages.c.id == package_id).values(**values))


async def listed_versions(client: httpx.AsyncClient, world: World, project: Project) -> list[str]:
    response = await client.get(
        f"/api/v4/projects/{project.id}/packages?per_page=100&order_by=version",
        headers=world.headers("developer"),
    )
    return [p["version"] for p in response.json()]


# ---------------------------------------------------------------- the policy API


async def test_default_policy_and_changes(client: httpx.AsyncClient, world: World) -> None:
    project = world.private
    default = await client.get(policy_url(project), headers=world.headers("maintainer"))
    assert default.status_code == 200
    assert default.json() == {
        "keep_n_duplicated_package_files": "all",
        "keep_n_latest_versions": None,
        "remove_older_than_days": None,
        "remove_not_downloaded_days": None,
        "keep_pattern": "",
        "next_run_at": None,
        "last_run_at": None,
    }
    before = utcnow()
    changed = await set_policy(
        client, world, project, keep_n_duplicated_package_files="10", remove_older_than_days=90
    )
    assert changed["keep_n_duplicated_package_files"] == "10"
    assert changed["remove_older_than_days"] == 90
    # first run one interval (12 hours by default) after the change
    next_run = changed["next_run_at"]
    assert next_run is not None
    expected = (before + timedelta(hours=12)).strftime("%Y-%m-%dT%H")
    assert next_run.startswith(expected)
    # clearing every rule unschedules the policy
    cleared = await set_policy(
        client, world, project, keep_n_duplicated_package_files="all", remove_older_than_days=None
    )
    assert cleared["next_run_at"] is None
    assert cleared["remove_older_than_days"] is None


async def test_policy_needs_maintainer(client: httpx.AsyncClient, world: World) -> None:
    for role in ("developer", "guest"):
        assert (
            await client.get(policy_url(world.private), headers=world.headers(role))
        ).status_code == 403
        put_response = await client.put(
            policy_url(world.private),
            json={"keep_n_latest_versions": 1},
            headers=world.headers(role),
        )
        assert put_response.status_code == 403
        assert (
            await client.get(policy_url(world.private, "/preview"), headers=world.headers(role))
        ).status_code == 403
        assert (
            await client.post(policy_url(world.private, "/run"), headers=world.headers(role))
        ).status_code == 403
    assert (
        await client.put(policy_url(world.public), json={"keep_n_latest_versions": 1})
    ).status_code == 401


@pytest.mark.parametrize(
    ("body", "answer"),
    [
        (
            {"keep_n_duplicated_package_files": "5"},
            {"error": "keep_n_duplicated_package_files does not have a valid value"},
        ),
        (
            {"keep_n_latest_versions": 0},
            {"error": "keep_n_latest_versions does not have a valid value"},
        ),
        ({"remove_older_than_days": "soon"}, {"error": "remove_older_than_days is invalid"}),
        (
            {"keep_pattern": "(x"},
            {"message": {"keep_pattern": ["not valid RE2 syntax: missing ): (x"]}},
        ),
    ],
)
async def test_invalid_policies(
    client: httpx.AsyncClient, world: World, body: dict[str, Any], answer: Any
) -> None:
    response = await client.put(
        policy_url(world.private), json=body, headers=world.headers("maintainer")
    )
    assert response.status_code == 400
    assert response.json() == answer


# ---------------------------------------------------------------- what runs remove


async def test_keep_n_duplicated_package_files(client: httpx.AsyncClient, world: World) -> None:
    project = world.private
    for n in range(5):
        assert (
            await put(
                client, project.id, "tool/1.0/file.bin", b"v%d" % n, world.headers("developer")
            )
        ).status_code == 201
    await put(client, project.id, "tool/1.0/other.bin", b"o", world.headers("developer"))
    await set_policy(client, world, project, keep_n_duplicated_package_files="1")

    preview = await client.get(policy_url(project, "/preview"), headers=world.headers("maintainer"))
    assert preview.status_code == 200
    body = preview.json()
    assert body["packages"] == []
    assert [f["file_name"] for f in body["package_files"]] == ["file.bin"] * 4
    assert {f["reason"] for f in body["package_files"]} == {"duplicate_file"}

    run = await client.post(policy_url(project, "/run"), headers=world.headers("maintainer"))
    assert run.status_code == 200
    assert run.json() == body
    [package] = (
        await client.get(
            f"/api/v4/projects/{project.id}/packages", headers=world.headers("developer")
        )
    ).json()
    files = await client.get(
        f"/api/v4/projects/{project.id}/packages/{package['id']}/package_files",
        headers=world.headers("developer"),
    )
    assert sorted(f["file_name"] for f in files.json()) == ["file.bin", "other.bin"]
    newest = await client.get(
        url(project.id, "tool/1.0/file.bin"), headers=world.headers("developer")
    )
    assert newest.content == b"v4"
    # nothing left to do
    again = await client.get(policy_url(project, "/preview"), headers=world.headers("maintainer"))
    assert again.json() == {"packages": [], "package_files": []}


async def test_keep_n_latest_versions_alone(
    client: httpx.AsyncClient, world: World, registry: Registry
) -> None:
    project = world.private
    for i, days in enumerate([50, 40, 30, 20, 10], start=1):
        await age(
            registry, await publish(client, world, project, "tool", f"{i}.0"), created_days=days
        )
    await age(registry, await publish(client, world, project, "lib", "1.0"), created_days=99)
    await set_policy(client, world, project, keep_n_latest_versions=2)
    removed = (
        await client.post(policy_url(project, "/run"), headers=world.headers("maintainer"))
    ).json()
    assert [(p["name"], p["version"], p["reason"]) for p in removed["packages"]] == [
        ("tool", "1.0", "not_in_latest_versions"),
        ("tool", "2.0", "not_in_latest_versions"),
        ("tool", "3.0", "not_in_latest_versions"),
    ]
    assert await listed_versions(client, world, project) == ["1.0", "4.0", "5.0"]  # lib 1.0 stays
    gone = await client.get(url(project.id, "tool/1.0/f.bin"), headers=world.headers("developer"))
    assert gone.status_code == 404


async def test_age_rules_with_latest_versions_protected(
    client: httpx.AsyncClient, world: World, registry: Registry
) -> None:
    """Remove what is older than 35 days or not downloaded for 25, but always keep the
    2 newest versions of each name."""
    project = world.private
    for version, created, downloaded in [
        ("1.0", 50, 1),  # downloaded yesterday, but older than 35 days
        ("2.0", 40, None),
        ("3.0", 30, 28),  # not downloaded for 28 days
        ("4.0", 29, None),  # never downloaded for 29 days, but among the 2 newest
        ("5.0", 60, None),
        ("6.0", 5, None),
    ]:
        package_id = await publish(client, world, project, "tool", version)
        await age(registry, package_id, created_days=created, downloaded_days=downloaded)
    await set_policy(
        client,
        world,
        project,
        keep_n_latest_versions=2,
        remove_older_than_days=35,
        remove_not_downloaded_days=25,
    )
    preview = (
        await client.get(policy_url(project, "/preview"), headers=world.headers("maintainer"))
    ).json()
    assert {p["version"]: p["reason"] for p in preview["packages"]} == {
        "1.0": "older_than",
        "2.0": "older_than",
        "3.0": "not_downloaded",
        "5.0": "older_than",
    }
    run = (
        await client.post(policy_url(project, "/run"), headers=world.headers("maintainer"))
    ).json()
    assert run == preview
    assert await listed_versions(client, world, project) == ["4.0", "6.0"]


async def test_keep_pattern_and_delete_protection_shield_packages(
    client: httpx.AsyncClient, world: World, registry: Registry
) -> None:
    project = world.private
    for name, version in [("tool", "1.0.0"), ("tool", "0.9"), ("lib", "2.0"), ("vault", "1.0")]:
        await age(registry, await publish(client, world, project, name, version), created_days=100)
    rule = await client.post(
        f"/api/v4/projects/{project.id}/packages/protection/rules",
        json={
            "package_name_pattern": "vault",
            "package_type": "generic",
            "minimum_access_level_for_delete": "owner",
        },
        headers=world.headers("maintainer"),
    )
    assert rule.status_code == 201
    await set_policy(client, world, project, remove_older_than_days=30, keep_pattern=r"1\.0\..*")
    removed = (
        await client.post(policy_url(project, "/run"), headers=world.headers("maintainer"))
    ).json()
    assert sorted((p["name"], p["version"]) for p in removed["packages"]) == [
        ("lib", "2.0"),
        ("tool", "0.9"),
    ]
    names = await client.get(
        f"/api/v4/projects/{project.id}/packages", headers=world.headers("developer")
    )
    assert sorted((p["name"], p["version"]) for p in names.json()) == [
        ("tool", "1.0.0"),
        ("vault", "1.0"),
    ]


async def test_runs_are_audited(
    client: httpx.AsyncClient, world: World, registry: Registry
) -> None:
    project = world.private
    await age(registry, await publish(client, world, project, "tool", "1.0"), created_days=10)
    await set_policy(client, world, project, remove_older_than_days=5)
    await client.post(policy_url(project, "/run"), headers=world.headers("maintainer"))
    events = (
        await client.get(
            f"/api/v4/projects/{project.id}/audit_events", headers=world.headers("maintainer")
        )
    ).json()
    names = [e["event_name"] for e in events]
    assert names[:2] == ["packages_cleanup_policy_run", "packages_cleanup_policy_updated"]
    assert (
        events[0]["details"]["custom_message"]
        == "Cleanup policy removed 1 packages and 0 package files"
    )
    assert events[0]["details"]["author_name"] == "maintainer"


async def test_cargobay_cleanup_runs_policies_from_the_console(
    client: httpx.AsyncClient, world: World, registry: Registry, settings: Settings, backend: str
) -> None:
    if backend != "sqlite-local":
        pytest.skip("the CLI check runs on the embedded configuration")
    project = world.private
    await age(registry, await publish(client, world, project, "tool", "1.0"), created_days=10)
    await publish(client, world, project, "tool", "2.0")
    await set_policy(client, world, project, remove_older_than_days=5)

    def cargobay(*args: str) -> str:
        result = subprocess.run(
            [CARGOBAY, "cleanup", *args],
            env=cli_env(settings),
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        return result.stdout

    dry = cargobay("--dry-run")
    [summary, item] = dry.splitlines()
    assert summary == f"{project.full_path}: would remove 1"
    assert item.endswith(" of tool 1.0 (older_than)")
    assert await listed_versions(client, world, project) == ["1.0", "2.0"]
    done = json.loads(cargobay("--project", project.full_path, "--json"))
    assert [(r["name"], r["version"], r["reason"]) for r in done[0]["removals"]] == [
        ("tool", "1.0", "older_than")
    ]
    assert await listed_versions(client, world, project) == ["2.0"]
    events = (
        await client.get(
            f"/api/v4/projects/{project.id}/audit_events", headers=world.headers("maintainer")
        )
    ).json()
    assert events[0]["event_name"] == "packages_cleanup_policy_run"
    assert events[0]["details"]["token_kind"] == "cli"

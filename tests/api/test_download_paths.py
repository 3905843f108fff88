"""The one-statement download (services/download.quick_download) against the general
path (authenticate, then resolve_download): for every caller and project below, the quick
path serves exactly the file the general path would, and declines whatever the general
path refuses, so the general path alone decides every error."""

from __future__ import annotations

import itertools
from datetime import date, timedelta

import httpx
import pytest
from sqlalchemy import update

from cargobay.auth.authenticate import authenticate
from cargobay.auth.credentials import Credentials
from cargobay.domain.models import AccessLevel, PackageFile, RegistryAccess, Visibility, utcnow
from cargobay.domain.names import FileCoordinates, parse_coordinates
from cargobay.errors import CargobayError
from cargobay.services import admin, features
from cargobay.services.audit import Actor
from cargobay.services.download import quick_download, resolve_download
from cargobay.services.registry import Registry
from cargobay.storage.db import tables
from tests.api.generic_support import put
from tests.world import World

pytestmark = pytest.mark.anyio


async def general_path(
    registry: Registry, creds: Credentials, method: str, ref: str, where: FileCoordinates
) -> PackageFile | None:
    try:
        async with registry.db.read() as conn:
            principal = await authenticate(conn, creds, generic=True, method=method, now=utcnow())
        resolved = await resolve_download(registry, principal, ref, where)
    except CargobayError:
        return None
    return resolved.file


async def both_paths(
    registry: Registry, creds: Credentials, ref: str, where: FileCoordinates, method: str = "GET"
) -> tuple[int | None, int | None]:
    quick = await quick_download(registry, creds, method, ref, where)
    general = await general_path(registry, creds, method, ref, where)
    return (quick.id if quick else None), (general.id if general else None)


async def test_both_paths_agree_for_every_caller_and_project(
    client: httpx.AsyncClient, registry: Registry, world: World
) -> None:
    projects = {
        "public": world.public,
        "private": world.private,
        "internal": await world.project("internal", visibility=Visibility.internal),
        "public-registry-private": await world.project(
            "pub-reg-private",
            visibility=Visibility.public,
            registry_access=RegistryAccess.private,
        ),
        "private-registry-public": await world.project(
            "priv-reg-public", registry_access=RegistryAccess.public
        ),
        "registry-disabled": await world.project(
            "reg-disabled", visibility=Visibility.public, registry_access=RegistryAccess.disabled
        ),
        "gate-off": await world.project("gate-off", visibility=Visibility.public),
    }
    owner = world.headers("owner")
    for project in projects.values():
        if project.registry_access is not RegistryAccess.disabled:
            assert (
                await put(client, project.id, "pkg/1.0/a.bin", b"one", owner)
            ).status_code == 201
            assert (
                await put(client, project.id, "pkg/1.0/a.bin", b"two", owner)
            ).status_code == 201
    async with registry.db.read() as conn:
        admin_principal = await authenticate(
            conn,
            Credentials(private_token=world.tokens["admin"]),
            generic=False,
            method="PUT",
            now=utcnow(),
        )
    await features.set_feature(
        registry,
        Actor(principal=admin_principal),
        "generic_packages",
        False,
        project=str(projects["gate-off"].id),
    )

    # Callers: every role, and every way an access token can be refused.
    callers: dict[str, Credentials] = {"anonymous": Credentials()}
    for role in world.tokens:
        callers[role] = Credentials(private_token=world.tokens[role])
    callers["read_api"] = Credentials(private_token=await world.token("reporter", ["read_api"]))
    callers["read_user"] = Credentials(private_token=await world.token("reporter", ["read_user"]))
    callers["unknown"] = Credentials(private_token="glpat-not-a-token")
    callers["basic"] = Credentials(basic_user="x", basic_password=world.tokens["reporter"])
    callers["bearer"] = Credentials(bearer=world.tokens["reporter"])
    revoked = await admin.create_personal_access_token(
        registry, "reporter", name="r", scopes=["api"]
    )
    await admin.revoke_personal_access_token(registry, revoked.id)
    callers["revoked"] = Credentials(private_token=revoked.token)
    expired = await admin.create_personal_access_token(
        registry, "developer", name="e", scopes=["api"], expires_at=date.today() + timedelta(days=1)
    )
    async with registry.db.write() as conn:
        await conn.execute(
            update(tables.personal_access_tokens)
            .where(tables.personal_access_tokens.c.id == expired.id)
            .values(expires_at=date.today())
        )
    callers["expired"] = Credentials(private_token=expired.token)
    await admin.create_user(registry, "blocked")
    await admin.add_member(registry, "blocked", access_level=AccessLevel.OWNER, group="acme")
    blocked = await admin.create_personal_access_token(
        registry, "blocked", name="b", scopes=["api"]
    )
    await admin.set_user_state(registry, "blocked", "blocked")
    callers["blocked"] = Credentials(private_token=blocked.token)
    await admin.create_user(registry, "direct")
    await admin.add_member(
        registry, "direct", access_level=AccessLevel.REPORTER, project=world.private.id
    )
    callers["direct-member"] = Credentials(
        private_token=(
            await admin.create_personal_access_token(registry, "direct", name="d", scopes=["api"])
        ).token
    )
    await admin.create_user(registry, "lapsed")
    await admin.add_member(
        registry,
        "lapsed",
        access_level=AccessLevel.MAINTAINER,
        group="acme",
        expires_at=date.today() + timedelta(days=1),
    )
    async with registry.db.write() as conn:
        await conn.execute(
            update(tables.members)
            .values(expires_at=date.today())
            .where(tables.members.c.expires_at.is_not(None))
        )
    callers["expired-member"] = Credentials(
        private_token=(
            await admin.create_personal_access_token(registry, "lapsed", name="l", scopes=["api"])
        ).token
    )
    job = await world.job(world.private)
    callers["job"] = Credentials(job_token=job.token)

    served = 0
    wheres = [parse_coordinates("pkg", "1.0", "a.bin"), parse_coordinates("pkg", "1.0", "b.bin")]
    for (caller, creds), (name, project), where in itertools.product(
        callers.items(), projects.items(), wheres
    ):
        for ref in (str(project.id), project.full_path.upper()):
            for method in ("GET", "HEAD"):
                quick, general = await both_paths(registry, creds, ref, where, method)
                label = f"{caller} on {name} ({ref}, {method}, {where.stored_name})"
                if caller in ("job", "basic") and quick is None:
                    continue  # other kinds of credentials always take the general path
                assert quick == general, label
                served += quick is not None
    assert served > 50  # the quick path did serve the ordinary cases


async def test_quick_path_serves_the_newest_same_name_upload_of_the_newest_package(
    client: httpx.AsyncClient, registry: Registry, world: World
) -> None:
    headers = world.headers("developer")
    for body in (b"first", b"second", b"third"):
        assert (
            await put(client, world.private.id, "pkg/2.0/f.bin", body, headers)
        ).status_code == 201
    where = parse_coordinates("pkg", "2.0", "f.bin")
    creds = Credentials(private_token=world.tokens["reporter"])
    quick, general = await both_paths(registry, creds, str(world.private.id), where)
    assert quick is not None and quick == general
    response = await client.get(
        f"/api/v4/projects/{world.private.id}/packages/generic/pkg/2.0/f.bin", headers=headers
    )
    assert response.content == b"third"

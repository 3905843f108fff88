"""Who may upload and download generic packages (spec §5, matrices §5.4 and §5.5,
§15 checks 19-24).

Each matrix row is one test case: a caller is built (PAT header, Basic user:PAT, job
token header or Basic, deploy token header or Basic, bogus credentials, nobody) and the
status and body are compared with the spec. Successful uploads are checked in the
database and by downloading the bytes back; refused ones must leave nothing behind.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date, timedelta

import httpx
import pytest

from cargobay.domain.models import Project, RegistryAccess, Visibility
from cargobay.services import admin
from cargobay.services.registry import Registry
from cargobay.settings import Settings
from cargobay.storage.db import tables
from tests.api.generic_support import (
    BASIC_REALM,
    CREATED,
    FORBIDDEN,
    PROJECT_NOT_FOUND,
    UNAUTHORIZED,
    basic,
    client_for,
    packages,
    put,
    rows,
    url,
)
from tests.world import World

pytestmark = pytest.mark.anyio

Caller = Callable[[World, Project], Awaitable[dict[str, str]]]


def pat(role: str) -> Caller:
    async def make(world: World, _project: Project) -> dict[str, str]:
        return world.headers(role)

    return make


def basic_pat(role: str, username: str | None = None) -> Caller:
    """The Basic username is ignored: only the password (the PAT) counts."""

    async def make(world: World, _project: Project) -> dict[str, str]:
        return basic(username or role, world.tokens[role])

    return make


def job_header(user: str) -> Caller:
    async def make(world: World, project: Project) -> dict[str, str]:
        return {"JOB-TOKEN": (await world.job(project, user)).token}

    return make


def job_basic(user: str) -> Caller:
    async def make(world: World, project: Project) -> dict[str, str]:
        return basic("gitlab-ci-token", (await world.job(project, user)).token)

    return make


def deploy_header(*scopes: str) -> Caller:
    async def make(world: World, project: Project) -> dict[str, str]:
        return {"Deploy-Token": await world.deploy_token(project, list(scopes))}

    return make


def deploy_basic(*scopes: str) -> Caller:
    async def make(world: World, project: Project) -> dict[str, str]:
        return basic("anything", await world.deploy_token(project, list(scopes)))

    return make


def deploy_bearer(*scopes: str) -> Caller:
    async def make(world: World, project: Project) -> dict[str, str]:
        return {"Authorization": f"Bearer {await world.deploy_token(project, list(scopes))}"}

    return make


def fixed(headers: dict[str, str]) -> Caller:
    async def make(_world: World, _project: Project) -> dict[str, str]:
        return headers

    return make


ANONYMOUS = fixed({})
INVALID_PAT = fixed({"PRIVATE-TOKEN": "glpat-not-a-real-token"})
INVALID_PAT_NO_PREFIX = fixed({"PRIVATE-TOKEN": "nonsense"})
RANDOM_BASIC = fixed(basic("someone", "secret-password"))
INVALID_JOB = fixed({"JOB-TOKEN": "glcbt-not-a-real-token"})
INVALID_JOB_BASIC = fixed(basic("gitlab-ci-token", "glcbt-not-a-real-token"))
INVALID_DEPLOY = fixed({"Deploy-Token": "gldt-not-a-real-token"})
READ = "read_package_registry"
WRITE = "write_package_registry"

R401 = (401, UNAUTHORIZED)
R403 = (403, FORBIDDEN)
R404 = (404, PROJECT_NOT_FOUND)


def project_of(world: World, which: str) -> Project:
    return world.public if which == "public" else world.private


# --------------------------------------------------------------- §5.4 upload matrix

UPLOAD_MATRIX: list[tuple[str, str, Caller, int, dict[str, str] | None]] = [
    ("public", "developer PAT", pat("developer"), 201, CREATED),
    ("public", "developer Basic", basic_pat("developer"), 201, CREATED),
    ("public", "developer Basic, other username", basic_pat("developer", "x"), 201, CREATED),
    ("public", "maintainer PAT", pat("maintainer"), 201, CREATED),
    ("public", "owner Basic", basic_pat("owner"), 201, CREATED),
    ("public", "admin PAT", pat("admin"), 201, CREATED),
    ("public", "guest PAT", pat("guest"), *R403),
    ("public", "guest Basic", basic_pat("guest"), *R403),
    ("public", "reporter PAT", pat("reporter"), *R403),
    ("public", "stranger PAT", pat("stranger"), *R403),
    ("public", "stranger Basic", basic_pat("stranger"), *R403),
    ("public", "invalid PAT", INVALID_PAT, *R401),
    ("public", "invalid unprefixed PAT", INVALID_PAT_NO_PREFIX, *R401),
    ("public", "random Basic", RANDOM_BASIC, *R401),
    ("public", "anonymous", ANONYMOUS, *R401),
    ("public", "developer job token", job_header("developer"), 201, CREATED),
    ("public", "stranger job token", job_header("stranger"), *R403),
    ("private", "developer PAT", pat("developer"), 201, CREATED),
    ("private", "developer Basic", basic_pat("developer"), 201, CREATED),
    ("private", "admin PAT", pat("admin"), 201, CREATED),
    ("private", "guest PAT", pat("guest"), *R403),
    ("private", "guest Basic", basic_pat("guest"), *R403),
    ("private", "reporter PAT", pat("reporter"), *R403),
    ("private", "stranger PAT", pat("stranger"), *R404),
    ("private", "stranger Basic", basic_pat("stranger"), *R404),
    ("private", "stranger job token", job_header("stranger"), *R404),
    ("private", "invalid PAT", INVALID_PAT, *R401),
    ("private", "random Basic", RANDOM_BASIC, *R401),
    ("private", "anonymous", ANONYMOUS, *R401),
    ("private", "developer job token", job_header("developer"), 201, CREATED),
    # Spec §0: Cargobay deliberately takes `gitlab-ci-token` Basic for upload too.
    ("private", "developer job token Basic", job_basic("developer"), 201, CREATED),
]
for _which in ("public", "private"):
    UPLOAD_MATRIX += [
        (_which, "invalid job token", INVALID_JOB, *R401),
        (_which, "invalid job token Basic", INVALID_JOB_BASIC, *R401),
        (_which, "deploy token rw", deploy_header(READ, WRITE), 201, CREATED),
        (_which, "deploy token write-only", deploy_header(WRITE), 201, CREATED),
        (_which, "deploy token write-only Basic", deploy_basic(WRITE), 201, CREATED),
        (_which, "deploy token rw Bearer", deploy_bearer(READ, WRITE), 201, CREATED),
        (_which, "deploy token read-only", deploy_header(READ), *R403),
        (_which, "deploy token read-only Basic", deploy_basic(READ), *R403),
        (_which, "invalid deploy token", INVALID_DEPLOY, *R401),
    ]


@pytest.mark.parametrize(
    ("which", "caller", "status", "body"),
    [pytest.param(w, c, s, b, id=f"{w}-{label}") for w, label, c, s, b in UPLOAD_MATRIX],
)
async def test_upload_matrix(
    client: httpx.AsyncClient,
    registry: Registry,
    world: World,
    which: str,
    caller: Caller,
    status: int,
    body: dict[str, str],
) -> None:
    project = project_of(world, which)
    headers = await caller(world, project)
    response = await put(client, project.id, "tool/1.0.0/tool.bin", b"matrix", headers)
    assert response.status_code == status
    assert response.json() == body
    if status == 401:
        assert response.headers["www-authenticate"] == BASIC_REALM
    stored = await packages(registry, project.id)
    if status == 201:
        assert len(stored) == 1
        get = await client.get(
            url(project.id, "tool/1.0.0/tool.bin"), headers=world.headers("maintainer")
        )
        assert get.content == b"matrix"
    else:
        assert stored == []


async def test_deploy_token_of_another_project_cannot_upload(
    client: httpx.AsyncClient, registry: Registry, world: World
) -> None:
    token = await world.deploy_token(world.public, [READ, WRITE])
    response = await put(client, world.private.id, "tool/1.0/f.bin", b"x", {"Deploy-Token": token})
    assert response.status_code == 404
    assert response.json() == PROJECT_NOT_FOUND
    public = await put(client, world.public.id, "tool/1.0/f.bin", b"x", {"Deploy-Token": token})
    assert public.status_code == 201
    assert await packages(registry, world.private.id) == []


async def test_group_deploy_token_covers_projects_below_the_group(
    client: httpx.AsyncClient, registry: Registry, world: World
) -> None:
    token = (
        await admin.create_deploy_token(registry, name="g", scopes=[READ, WRITE], group="acme")
    ).token
    response = await put(
        client, world.private.id, "tool/1.0/f.bin", b"group", {"Deploy-Token": token}
    )
    assert response.status_code == 201
    get = await client.get(url(world.private.id, "tool/1.0/f.bin"), headers={"Deploy-Token": token})
    assert get.content == b"group"


async def test_deploy_token_upload_has_no_creator(
    client: httpx.AsyncClient, registry: Registry, world: World
) -> None:
    token = await world.deploy_token(world.private, [WRITE])
    await put(client, world.private.id, "tool/1.0/f.bin", b"x", {"Deploy-Token": token})
    (package,) = await packages(registry, world.private.id)
    assert package["creator_id"] is None


async def test_job_token_upload_records_the_pipeline(
    client: httpx.AsyncClient, registry: Registry, world: World
) -> None:
    job = await world.job(world.private, "developer")
    for name in ("a.bin", "b.bin"):
        response = await put(
            client, world.private.id, f"tool/1.0/{name}", b"x", {"JOB-TOKEN": job.token}
        )
        assert response.status_code == 201
    (package,) = await packages(registry, world.private.id)
    infos = await rows(
        registry,
        tables.package_build_infos,
        tables.package_build_infos.c.package_id == package["id"],
    )
    assert [i["pipeline_id"] for i in infos] == [job.pipeline_id, job.pipeline_id]
    files = await rows(registry, tables.package_files)
    assert [f["pipeline_id"] for f in files] == [job.pipeline_id, job.pipeline_id]


async def test_job_token_in_query_parameter_works_for_upload(
    client: httpx.AsyncClient, world: World
) -> None:
    job = await world.job(world.private, "developer")
    response = await client.put(
        url(world.private.id, f"tool/1.0/f.bin?job_token={job.token}"), content=b"q"
    )
    assert response.status_code == 201


async def test_private_token_query_parameter_works(client: httpx.AsyncClient, world: World) -> None:
    token = world.tokens["developer"]
    response = await client.put(
        url(world.private.id, f"tool/1.0/f.bin?private_token={token}"), content=b"q"
    )
    assert response.status_code == 201
    get = await client.get(url(world.private.id, f"tool/1.0/f.bin?private_token={token}"))
    assert get.content == b"q"


async def test_bearer_pat_works(client: httpx.AsyncClient, world: World) -> None:
    bearer = {"Authorization": f"Bearer {world.tokens['developer']}"}
    response = await put(client, world.private.id, "tool/1.0/f.bin", b"b", bearer)
    assert response.status_code == 201
    bad = await put(
        client, world.private.id, "tool/1.0/f.bin", b"b", {"Authorization": "Bearer nope"}
    )
    assert bad.status_code == 401
    assert bad.json() == UNAUTHORIZED


# --------------------------------------------------------------- §5.5 download matrix

DOWNLOAD_MATRIX: list[tuple[str, str, Caller, int]] = [
    ("public", "anonymous", ANONYMOUS, 200),
    ("public", "random Basic", RANDOM_BASIC, 200),
    ("public", "invalid deploy token", INVALID_DEPLOY, 200),
    ("public", "invalid PAT", INVALID_PAT, 401),
    ("public", "invalid job token", INVALID_JOB, 401),
    ("public", "invalid job token Basic", INVALID_JOB_BASIC, 401),
    ("public", "developer job token", job_header("developer"), 200),
    ("public", "stranger job token", job_header("stranger"), 200),
    ("public", "developer job token Basic", job_basic("developer"), 200),
    ("public", "stranger job token Basic", job_basic("stranger"), 200),
    ("public", "deploy token ro", deploy_header(READ), 200),
    ("private", "developer job token", job_header("developer"), 200),
    ("private", "guest job token", job_header("guest"), 200),
    ("private", "developer job token Basic", job_basic("developer"), 200),
    ("private", "guest job token Basic", job_basic("guest"), 200),
    ("private", "stranger PAT", pat("stranger"), 404),
    ("private", "stranger Basic", basic_pat("stranger"), 404),
    ("private", "stranger job token", job_header("stranger"), 404),
    ("private", "stranger job token Basic", job_basic("stranger"), 404),
    ("private", "invalid PAT", INVALID_PAT, 401),
    ("private", "random Basic", RANDOM_BASIC, 401),
    ("private", "anonymous", ANONYMOUS, 401),
    ("private", "invalid job token", INVALID_JOB, 401),
    ("private", "invalid job token Basic", INVALID_JOB_BASIC, 401),
    ("private", "deploy token ro", deploy_header(READ), 200),
    ("private", "deploy token wo", deploy_header(WRITE), 200),
    ("private", "deploy token rw", deploy_header(READ, WRITE), 200),
    ("private", "deploy token ro Basic", deploy_basic(READ), 200),
    ("private", "deploy token wo Basic", deploy_basic(WRITE), 200),
    ("private", "deploy token ro Bearer", deploy_bearer(READ), 200),
    ("private", "guest Basic, other username", basic_pat("guest", "x"), 200),
    ("private", "invalid deploy token", INVALID_DEPLOY, 401),
]
for _role in ("guest", "reporter", "developer", "maintainer", "owner", "stranger", "admin"):
    DOWNLOAD_MATRIX += [
        ("public", f"{_role} PAT", pat(_role), 200),
        ("public", f"{_role} Basic", basic_pat(_role), 200),
    ]
for _role in ("guest", "reporter", "developer", "maintainer", "owner", "admin"):
    DOWNLOAD_MATRIX += [
        ("private", f"{_role} PAT", pat(_role), 200),
        ("private", f"{_role} Basic", basic_pat(_role), 200),
    ]

DOWNLOAD_BODIES = {401: UNAUTHORIZED, 403: FORBIDDEN, 404: PROJECT_NOT_FOUND}


@pytest.mark.parametrize(
    ("which", "caller", "status"),
    [pytest.param(w, c, s, id=f"{w}-{label}") for w, label, c, s in DOWNLOAD_MATRIX],
)
async def test_download_matrix(
    client: httpx.AsyncClient, world: World, which: str, caller: Caller, status: int
) -> None:
    project = project_of(world, which)
    uploaded = await put(
        client, project.id, "tool/1.0.0/tool.bin", b"secret bytes", world.headers("developer")
    )
    assert uploaded.status_code == 201
    headers = await caller(world, project)
    response = await client.get(url(project.id, "tool/1.0.0/tool.bin"), headers=headers)
    assert response.status_code == status
    if status == 200:
        assert response.content == b"secret bytes"
    else:
        assert response.json() == DOWNLOAD_BODIES[status]
        assert b"secret bytes" not in response.content
    if status == 401:
        assert response.headers["www-authenticate"] == BASIC_REALM


async def test_private_project_with_public_registry_allows_anonymous_download(
    client: httpx.AsyncClient, world: World
) -> None:
    project = await world.project(
        "open-registry", visibility=Visibility.private, registry_access=RegistryAccess.public
    )
    assert (
        await put(client, project.id, "tool/1.0/f.bin", b"open", world.headers("developer"))
    ).status_code == 201
    response = await client.get(url(project.id, "tool/1.0/f.bin"))
    assert (response.status_code, response.content) == (200, b"open")
    stranger = await client.get(
        url(project.id, "tool/1.0/f.bin"), headers=world.headers("stranger")
    )
    assert (stranger.status_code, stranger.content) == (200, b"open")
    # Pulling is open; publishing is not.
    anonymous_put = await put(client, project.id, "tool/1.0/g.bin", b"x")
    assert anonymous_put.status_code == 401
    stranger_put = await put(client, project.id, "tool/1.0/g.bin", b"x", world.headers("stranger"))
    assert stranger_put.status_code in (403, 404)
    assert stranger_put.status_code != 201


async def test_disabled_registry_refuses_members(client: httpx.AsyncClient, world: World) -> None:
    project = await world.project(
        "no-registry", visibility=Visibility.public, registry_access=RegistryAccess.disabled
    )
    response = await put(client, project.id, "tool/1.0/f.bin", b"x", world.headers("owner"))
    assert response.status_code == 403
    assert response.json() == FORBIDDEN
    get = await client.get(url(project.id, "tool/1.0/f.bin"), headers=world.headers("owner"))
    assert get.status_code == 403
    assert get.json() == FORBIDDEN


# --------------------------------------------------------------- guests (check 21)


async def test_guest_can_download_but_not_upload(client: httpx.AsyncClient, world: World) -> None:
    await put(client, world.private.id, "tool/1.0/f.bin", b"g", world.headers("developer"))
    upload = await put(client, world.private.id, "tool/1.0/g.bin", b"x", world.headers("guest"))
    assert upload.status_code == 403
    assert upload.json() == FORBIDDEN
    get = await client.get(url(world.private.id, "tool/1.0/f.bin"), headers=world.headers("guest"))
    assert (get.status_code, get.content) == (200, b"g")


async def test_old_reporter_rule_refuses_guest_downloads(
    client: httpx.AsyncClient, settings: Settings, world: World
) -> None:
    await put(client, world.private.id, "tool/1.0/f.bin", b"g", world.headers("developer"))
    old_rule = settings.model_copy(update={"guests_can_pull": False})
    async with client_for(old_rule) as strict:
        rest = url(world.private.id, "tool/1.0/f.bin")
        guest = await strict.get(rest, headers=world.headers("guest"))
        assert guest.status_code == 403
        assert guest.json() == FORBIDDEN
        job = await world.job(world.private, "guest")
        guest_job = await strict.get(rest, headers={"JOB-TOKEN": job.token})
        assert guest_job.status_code == 403
        reporter = await strict.get(rest, headers=world.headers("reporter"))
        assert (reporter.status_code, reporter.content) == (200, b"g")
        # Public project: everyone may read, guest or not.
        await put(strict, world.public.id, "tool/1.0/f.bin", b"p", world.headers("developer"))
        public = await strict.get(
            url(world.public.id, "tool/1.0/f.bin"), headers=world.headers("guest")
        )
        assert (public.status_code, public.content) == (200, b"p")


# --------------------------------------------------------------- job tokens (check 23)


async def test_finished_job_token_is_401(
    client: httpx.AsyncClient, registry: Registry, world: World
) -> None:
    job = await world.job(world.public, "developer")
    assert (
        await put(client, world.public.id, "tool/1.0/f.bin", b"j", {"JOB-TOKEN": job.token})
    ).status_code == 201
    await admin.finish_job(registry, job.job_id)
    for headers in ({"JOB-TOKEN": job.token}, basic("gitlab-ci-token", job.token)):
        upload = await put(client, world.public.id, "tool/1.0/g.bin", b"j", headers)
        assert upload.status_code == 401
        assert upload.json() == UNAUTHORIZED
        # Even on a public project the download is refused, not served anonymously.
        get = await client.get(url(world.public.id, "tool/1.0/f.bin"), headers=headers)
        assert get.status_code == 401
        assert get.json() == UNAUTHORIZED


async def test_job_token_of_another_project_reads_only_public_parts(
    client: httpx.AsyncClient, world: World
) -> None:
    await put(client, world.private.id, "tool/1.0/f.bin", b"p", world.headers("developer"))
    await put(client, world.public.id, "tool/1.0/f.bin", b"q", world.headers("developer"))
    other = await world.project("other")
    job = await world.job(other, "developer")
    headers = {"JOB-TOKEN": job.token}
    private = await client.get(url(world.private.id, "tool/1.0/f.bin"), headers=headers)
    assert private.status_code == 404
    public = await client.get(url(world.public.id, "tool/1.0/f.bin"), headers=headers)
    assert (public.status_code, public.content) == (200, b"q")
    upload = await put(client, world.public.id, "tool/1.0/g.bin", b"x", headers)
    assert upload.status_code == 403


# --------------------------------------------------------------- PAT scopes (check 24)


@pytest.mark.parametrize("scopes", [["read_api"], ["read_api", "read_user"]])
async def test_read_api_pat_downloads_but_cannot_upload(
    client: httpx.AsyncClient, registry: Registry, world: World, scopes: list[str]
) -> None:
    await put(client, world.private.id, "tool/1.0/f.bin", b"r", world.headers("developer"))
    token = await world.token("developer", scopes)
    get = await client.get(
        url(world.private.id, "tool/1.0/f.bin"), headers={"PRIVATE-TOKEN": token}
    )
    assert (get.status_code, get.content) == (200, b"r")
    head = await client.head(
        url(world.private.id, "tool/1.0/f.bin"), headers={"PRIVATE-TOKEN": token}
    )
    assert head.status_code == 200
    upload = await put(client, world.private.id, "tool/1.0/g.bin", b"x", {"PRIVATE-TOKEN": token})
    assert upload.status_code == 403
    body = upload.json()
    assert body["error"] == "insufficient_scope"
    assert body["error_description"] == (
        "The request requires higher privileges than provided by the access token."
    )
    (package,) = await packages(registry, world.private.id)
    files = await rows(
        registry, tables.package_files, tables.package_files.c.package_id == package["id"]
    )
    assert [f["file_name"] for f in files] == ["f.bin"]


@pytest.mark.parametrize("scopes", [["read_repository"], ["read_registry", "write_registry"]])
async def test_pat_without_api_scopes_is_refused_everywhere(
    client: httpx.AsyncClient, world: World, scopes: list[str]
) -> None:
    await put(client, world.private.id, "tool/1.0/f.bin", b"r", world.headers("developer"))
    token = await world.token("developer", scopes)
    get = await client.get(
        url(world.private.id, "tool/1.0/f.bin"), headers={"PRIVATE-TOKEN": token}
    )
    assert get.status_code == 403
    assert get.json()["error"] == "insufficient_scope"
    upload = await put(client, world.private.id, "tool/1.0/g.bin", b"x", {"PRIVATE-TOKEN": token})
    assert upload.status_code == 403
    assert upload.json()["error"] == "insufficient_scope"


async def test_expired_pat_is_401_invalid_token(
    client: httpx.AsyncClient, registry: Registry, world: World
) -> None:
    await put(client, world.public.id, "tool/1.0/f.bin", b"e", world.headers("developer"))
    expired = await admin.create_personal_access_token(
        registry,
        "developer",
        name="old",
        scopes=["api"],
        expires_at=date.today() - timedelta(days=1),
    )
    for method in ("PUT", "GET"):
        response = await client.request(
            method,
            url(world.public.id, "tool/1.0/f.bin"),
            content=b"x" if method == "PUT" else None,
            headers={"PRIVATE-TOKEN": expired.token},
        )
        assert response.status_code == 401
        assert response.json() == {
            "error": "invalid_token",
            "error_description": (
                "Token is expired. You can either do re-authorization or token refresh."
            ),
        }


async def test_revoked_pat_is_401_invalid_token(
    client: httpx.AsyncClient, registry: Registry, world: World
) -> None:
    token = await admin.create_personal_access_token(
        registry, "developer", name="gone", scopes=["api"]
    )
    ok = await put(client, world.private.id, "tool/1.0/f.bin", b"x", {"PRIVATE-TOKEN": token.token})
    assert ok.status_code == 201
    await admin.revoke_personal_access_token(registry, token.id)
    response = await put(
        client, world.private.id, "tool/1.0/g.bin", b"x", {"PRIVATE-TOKEN": token.token}
    )
    assert response.status_code == 401
    assert response.json() == {
        "error": "invalid_token",
        "error_description": "Token was revoked. You have to re-authorize from the user.",
    }


async def test_blocked_user_is_refused(
    client: httpx.AsyncClient, registry: Registry, world: World
) -> None:
    await put(client, world.public.id, "tool/1.0/f.bin", b"x", world.headers("developer"))
    await admin.set_user_state(registry, "developer", "blocked")
    response = await put(
        client, world.public.id, "tool/1.0/g.bin", b"x", world.headers("developer")
    )
    assert response.status_code == 403
    assert response.json()["message"].startswith("403 Forbidden - ")
    get = await client.get(
        url(world.public.id, "tool/1.0/f.bin"), headers=world.headers("developer")
    )
    assert get.status_code == 403


# --------------------------------------------------------------- public project (check 19/20)


async def test_public_project_anonymous_download_and_refused_upload(
    client: httpx.AsyncClient, registry: Registry, world: World
) -> None:
    await put(client, world.public.id, "tool/1.0/f.bin", b"pub", world.headers("developer"))
    get = await client.get(url(world.public.id, "tool/1.0/f.bin"))
    assert (get.status_code, get.content) == (200, b"pub")
    upload = await put(client, world.public.id, "tool/1.0/g.bin", b"x")
    assert upload.status_code == 401
    assert upload.headers["www-authenticate"] == BASIC_REALM
    (package,) = await packages(registry, world.public.id)
    files = await rows(
        registry, tables.package_files, tables.package_files.c.package_id == package["id"]
    )
    assert len(files) == 1


async def test_private_project_hides_itself_from_non_members(
    client: httpx.AsyncClient, world: World
) -> None:
    await put(client, world.private.id, "tool/1.0/f.bin", b"p", world.headers("developer"))
    existing = url(world.private.id, "tool/1.0/f.bin")
    missing = url(world.private.id, "tool/1.0/nothing.bin")
    unknown = url(999999, "tool/1.0/f.bin")
    # A non-member cannot tell an existing private file from a missing project.
    for target in (existing, missing, unknown):
        response = await client.get(target, headers=world.headers("stranger"))
        assert response.status_code == 404
        assert response.json() == PROJECT_NOT_FOUND
        anonymous = await client.get(target)
        assert anonymous.status_code == 401
        assert anonymous.json() == UNAUTHORIZED


async def test_public_project_with_members_only_registry(
    client: httpx.AsyncClient, world: World
) -> None:
    # §3 step 4: a caller who can see the project but not its packages gets 403
    # (anonymous: 401, so curl retries with credentials).
    project = await world.project(
        "members-only", visibility=Visibility.public, registry_access=RegistryAccess.private
    )
    assert (
        await put(client, project.id, "tool/1.0/f.bin", b"m", world.headers("developer"))
    ).status_code == 201
    target = url(project.id, "tool/1.0/f.bin")
    anonymous = await client.get(target)
    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"] == BASIC_REALM
    stranger = await client.get(target, headers=world.headers("stranger"))
    assert stranger.status_code == 403
    assert stranger.json() == FORBIDDEN
    guest = await client.get(target, headers=world.headers("guest"))
    assert (guest.status_code, guest.content) == (200, b"m")


async def test_internal_project_is_readable_by_any_signed_in_user(
    client: httpx.AsyncClient, world: World
) -> None:
    project = await world.project("inside", visibility=Visibility.internal)
    assert (
        await put(client, project.id, "tool/1.0/f.bin", b"i", world.headers("developer"))
    ).status_code == 201
    target = url(project.id, "tool/1.0/f.bin")
    assert (await client.get(target)).status_code == 401
    stranger = await client.get(target, headers=world.headers("stranger"))
    assert (stranger.status_code, stranger.content) == (200, b"i")
    upload = await put(client, project.id, "tool/1.0/g.bin", b"x", world.headers("stranger"))
    assert upload.status_code == 403
    assert upload.json() == FORBIDDEN

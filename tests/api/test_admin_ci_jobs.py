"""Our CI endpoint: an external CI system mints a job token, the job publishes with it,
and the token stops when the job is finished (docs/ci-job-tokens.md)."""

from __future__ import annotations

import httpx
import pytest

from tests.world import World

pytestmark = pytest.mark.anyio


def jobs(project_id: int) -> str:
    return f"/api/v4/projects/{project_id}/cargobay/ci/jobs"


def generic(project_id: int, file: str) -> str:
    return f"/api/v4/projects/{project_id}/packages/generic/tool/1.0/{file}"


async def test_a_job_token_works_until_the_job_is_finished(
    client: httpx.AsyncClient, world: World
) -> None:
    started = await client.post(
        jobs(world.private.id),
        json={"username": "developer", "ref": "release", "sha": "ab" * 20, "name": "build"},
        headers=world.headers("maintainer"),
    )
    assert started.status_code == 201, started.text
    job = started.json()
    assert job["status"] == "running" and job["name"] == "build"
    assert job["user"]["username"] == "developer"
    assert job["pipeline"]["ref"] == "release" and job["pipeline"]["sha"] == "ab" * 20
    assert job["pipeline"]["iid"] == 1 and job["pipeline"]["status"] == "running"
    job_token = {"JOB-TOKEN": job["token"]}

    upload = await client.put(generic(world.private.id, "a.bin"), content=b"a", headers=job_token)
    assert upload.status_code == 201

    finished = await client.put(
        f"{jobs(world.private.id)}/{job['id']}",
        data={"status": "success"},
        headers=world.headers("maintainer"),
    )
    assert finished.status_code == 200
    assert finished.json()["status"] == "success"
    assert finished.json()["finished_at"] is not None
    assert finished.json()["pipeline"]["status"] == "success"
    assert "token" not in finished.json()
    refused = await client.put(generic(world.private.id, "b.bin"), content=b"b", headers=job_token)
    assert refused.status_code == 401

    # Finishing again with the same status is harmless; another status conflicts.
    same = await client.put(
        f"{jobs(world.private.id)}/{job['id']}",
        json={"status": "success"},
        headers=world.headers("maintainer"),
    )
    assert same.status_code == 200
    other = await client.put(
        f"{jobs(world.private.id)}/{job['id']}",
        json={"status": "failed"},
        headers=world.headers("maintainer"),
    )
    assert other.status_code == 409
    assert other.json() == {"message": "409 Conflict - Job is already success"}


async def test_jobs_of_one_pipeline(client: httpx.AsyncClient, world: World) -> None:
    first = await client.post(jobs(world.private.id), json={}, headers=world.headers("maintainer"))
    assert first.json()["user"]["username"] == "maintainer"  # the caller, by default
    pipeline = first.json()["pipeline"]["id"]
    second = await client.post(
        jobs(world.private.id),
        json={"pipeline_id": pipeline, "name": "test"},
        headers=world.headers("maintainer"),
    )
    assert second.json()["pipeline"]["id"] == pipeline
    got = await client.get(
        f"{jobs(world.private.id)}/{second.json()['id']}", headers=world.headers("maintainer")
    )
    assert got.json()["name"] == "test" and got.json()["status"] == "running"
    unknown = await client.post(
        jobs(world.private.id), json={"pipeline_id": 9999}, headers=world.headers("maintainer")
    )
    assert unknown.status_code == 404
    assert unknown.json() == {"message": "404 Pipeline Not Found"}


async def test_who_may_start_jobs(client: httpx.AsyncClient, world: World) -> None:
    url = jobs(world.private.id)
    developer = await client.post(url, json={}, headers=world.headers("developer"))
    assert developer.status_code == 403
    stranger = await client.post(url, json={}, headers=world.headers("stranger"))
    assert stranger.status_code == 404
    assert stranger.json() == {"message": "404 Project Not Found"}
    assert (await client.post(url, json={})).status_code == 401

    # A Maintainer may not start a job as someone with a higher role.
    as_owner = await client.post(
        url, json={"username": "owner"}, headers=world.headers("maintainer")
    )
    assert as_owner.status_code == 403
    as_admin = await client.post(url, json={"username": "admin"}, headers=world.headers("owner"))
    assert as_admin.status_code == 403
    # Administrators may start jobs as anyone.
    by_admin = await client.post(url, json={"username": "owner"}, headers=world.headers("admin"))
    assert by_admin.status_code == 201
    unknown = await client.post(url, json={"username": "ghost"}, headers=world.headers("admin"))
    assert unknown.json() == {"message": "404 User Not Found"}


async def test_a_job_token_cannot_manage_jobs_or_the_api(
    client: httpx.AsyncClient, world: World
) -> None:
    job = await world.job(world.private, user="maintainer")
    as_job = {"JOB-TOKEN": job.token}
    assert (await client.post(jobs(world.private.id), json={}, headers=as_job)).status_code == 401
    assert (await client.get("/api/v4/user", headers=as_job)).status_code == 401


async def test_finish_errors(client: httpx.AsyncClient, world: World) -> None:
    job = await world.job(world.private)
    url = f"{jobs(world.private.id)}/{job.job_id}"
    missing = await client.put(url, json={}, headers=world.headers("maintainer"))
    assert missing.json() == {"error": "status is missing"}
    bad = await client.put(url, json={"status": "done"}, headers=world.headers("maintainer"))
    assert bad.json() == {"error": "status does not have a valid value"}
    elsewhere = await client.put(
        f"{jobs(world.public.id)}/{job.job_id}",
        json={"status": "success"},
        headers=world.headers("maintainer"),
    )
    assert elsewhere.status_code == 404
    assert elsewhere.json() == {"message": "404 Job Not Found"}

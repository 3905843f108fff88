"""CI job tokens for an external CI system (our own endpoint, docs/ci-job-tokens.md).

GitLab mints a job token when a runner picks up a job; Cargobay has no runners, so a CI
system asks for one here, hands it to the job as ``CI_JOB_TOKEN``, and finishes the job
when it ends, which stops the token at once.

Who may: administrators, and Maintainers of the project. A Maintainer may start a job
on behalf of another user (so packages are attributed to whoever triggered the
pipeline) only if that user's role in the project is no higher than their own: a job
token acts with its user's role, and must not lift the caller above theirs.
"""

from __future__ import annotations

from dataclasses import dataclass

from cargobay.auth.principal import Principal
from cargobay.domain.models import AccessLevel, Account, JobDetails, utcnow
from cargobay.errors import forbidden, not_found
from cargobay.services import admin
from cargobay.services.accounts import acting_user
from cargobay.services.members import Source, find_source
from cargobay.services.namespaces import viewer_of
from cargobay.services.registry import Registry
from cargobay.storage.db import ci as ci_sql
from cargobay.storage.db import members as member_sql
from cargobay.storage.db import namespaces as namespace_sql
from cargobay.storage.db import users as user_sql
from cargobay.storage.db.database import Connection


@dataclass(frozen=True, slots=True)
class JobView:
    row: JobDetails  # the job with its pipeline's columns
    runner: Account | None  # the user the job runs as


async def _view(conn: Connection, job_id: int) -> JobView | None:
    row = await ci_sql.job_with_pipeline(conn, job_id)
    if row is None:
        return None
    runner = await user_sql.find_account(conn, row.user_id) if row.user_id is not None else None
    return JobView(row, runner)


async def _ci_project(conn: Connection, principal: Principal, ref: str) -> Source:
    acting_user(principal)
    source = await find_source(conn, await viewer_of(conn, principal), "project", ref)
    if source.level < AccessLevel.MAINTAINER:
        raise forbidden()
    return source


async def start_job(
    registry: Registry,
    principal: Principal,
    ref: str,
    *,
    user_ref: int | str | None,
    git_ref: str,
    sha: str,
    name: str,
    pipeline_id: int | None,
) -> tuple[JobView, str]:
    me = acting_user(principal)
    async with registry.db.read() as conn:
        source = await _ci_project(conn, principal, ref)
        runner = me if user_ref is None else await user_sql.find_user(conn, user_ref)
        if runner is None:
            raise not_found("User Not Found")
        if not principal.is_admin and runner.id != me.id:
            project = await namespace_sql.find_project(conn, str(source.project_id))
            assert project is not None
            their_level = await member_sql.access_level(conn, runner.id, project, utcnow().date())
            if runner.is_admin or their_level > source.level:
                raise forbidden("The job's user has a higher role in this project than you")
    assert source.project_id is not None
    started = await admin.start_job(
        registry,
        source.project_id,
        user=runner.id,
        ref=git_ref,
        sha=sha,
        job_name=name,
        pipeline_id=pipeline_id,
    )
    async with registry.db.read() as conn:
        view = await _view(conn, started.job_id)
    assert view is not None
    return view, started.token


async def get_job(registry: Registry, principal: Principal, ref: str, job_id: int) -> JobView:
    async with registry.db.read() as conn:
        source = await _ci_project(conn, principal, ref)
        view = await _view(conn, job_id)
    if view is None or view.row.project_id != source.project_id:
        raise not_found("Job Not Found")
    return view


async def finish_job(
    registry: Registry, principal: Principal, ref: str, job_id: int, status: str
) -> JobView:
    """Finishing is idempotent for the same status; a job finished with another status
    answers 409."""
    async with registry.db.write() as conn:
        source = await _ci_project(conn, principal, ref)
        row = await ci_sql.job_with_pipeline(conn, job_id)
        if row is None or row.project_id != source.project_id:
            raise not_found("Job Not Found")
        await admin.settle_job_in(conn, row, status)
        finished = await _view(conn, job_id)
    assert finished is not None
    return finished

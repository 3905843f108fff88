"""SQL for CI pipelines and jobs: a job's token is how a CI job authenticates, so the
finder by digest sits here beside the ones the jobs API uses."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, func, insert, select, update

from cargobay.domain.models import Job, JobDetails, User
from cargobay.storage.db.database import Connection
from cargobay.storage.db.records import to_job_details
from cargobay.storage.db.tables import ci_jobs, ci_pipelines, users


async def find_job(conn: Connection, token_digest: str) -> tuple[Job, str, User | None] | None:
    """The job with this token, its status, and the user who runs it."""
    row = (
        await conn.execute(
            select(
                ci_jobs,
                users.c.id.label("uid"),
                users.c.username,
                users.c.name,
                users.c.is_admin,
                users.c.state.label("user_state"),
                users.c.bot,
            )
            .outerjoin(users, users.c.id == ci_jobs.c.user_id)
            .where(ci_jobs.c.token_digest == token_digest)
        )
    ).first()
    if row is None:
        return None
    m = row._mapping
    user = None
    if m["uid"] is not None:
        user = User(m["uid"], m["username"], m["name"], m["is_admin"], m["user_state"], m["bot"])
    return Job(m["id"], m["project_id"], m["pipeline_id"], m["user_id"]), m["status"], user


async def next_pipeline_iid(conn: Connection, project_id: int) -> int:
    current = (
        await conn.execute(
            select(func.max(ci_pipelines.c.iid)).where(ci_pipelines.c.project_id == project_id)
        )
    ).scalar()
    return int(current or 0) + 1


async def insert_pipeline(
    conn: Connection,
    *,
    project_id: int,
    iid: int,
    ref: str,
    sha: str,
    source: str,
    user_id: int | None,
    now: datetime,
) -> int:
    result = await conn.execute(
        insert(ci_pipelines)
        .values(
            project_id=project_id,
            iid=iid,
            ref=ref,
            sha=sha,
            status="running",
            source=source,
            user_id=user_id,
            created_at=now,
            updated_at=now,
        )
        .returning(ci_pipelines.c.id)
    )
    return int(result.scalar_one())


async def restart_pipeline(
    conn: Connection, pipeline_id: int, project_id: int, now: datetime
) -> int | None:
    """Set a pipeline of the project running again; its iid (None: no such pipeline)."""
    row = (
        await conn.execute(
            select(ci_pipelines.c.iid).where(
                ci_pipelines.c.id == pipeline_id, ci_pipelines.c.project_id == project_id
            )
        )
    ).first()
    if row is None:
        return None
    await conn.execute(
        update(ci_pipelines)
        .where(ci_pipelines.c.id == pipeline_id)
        .values(status="running", updated_at=now)
    )
    return int(row[0])


async def insert_job(
    conn: Connection,
    *,
    pipeline_id: int,
    project_id: int,
    user_id: int | None,
    name: str,
    token_digest: str,
    now: datetime,
) -> int:
    result = await conn.execute(
        insert(ci_jobs)
        .values(
            pipeline_id=pipeline_id,
            project_id=project_id,
            user_id=user_id,
            name=name,
            status="running",
            token_digest=token_digest,
            created_at=now,
            updated_at=now,
        )
        .returning(ci_jobs.c.id)
    )
    return int(result.scalar_one())


async def finish_job(conn: Connection, job_id: int, status: str, now: datetime) -> bool:
    result = await conn.execute(
        update(ci_jobs)
        .where(and_(ci_jobs.c.id == job_id, ci_jobs.c.status == "running"))
        .values(status=status, finished_at=now, updated_at=now)
    )
    if result.rowcount != 1:
        return False
    pipeline_id = (
        await conn.execute(select(ci_jobs.c.pipeline_id).where(ci_jobs.c.id == job_id))
    ).scalar_one()
    still_running = (
        await conn.execute(
            select(func.count()).where(
                ci_jobs.c.pipeline_id == pipeline_id, ci_jobs.c.status == "running"
            )
        )
    ).scalar_one()
    if not still_running:
        await conn.execute(
            update(ci_pipelines)
            .where(ci_pipelines.c.id == pipeline_id)
            .values(status=status, updated_at=now)
        )
    return True


async def job_with_pipeline(conn: Connection, job_id: int) -> JobDetails | None:
    row = (
        await conn.execute(
            select(
                ci_jobs,
                ci_pipelines.c.iid.label("pipeline_iid"),
                ci_pipelines.c.ref,
                ci_pipelines.c.sha,
                ci_pipelines.c.status.label("pipeline_status"),
                ci_pipelines.c.source,
                ci_pipelines.c.created_at.label("pipeline_created_at"),
                ci_pipelines.c.updated_at.label("pipeline_updated_at"),
            )
            .join(ci_pipelines, ci_pipelines.c.id == ci_jobs.c.pipeline_id)
            .where(ci_jobs.c.id == job_id)
        )
    ).first()
    return to_job_details(row) if row else None

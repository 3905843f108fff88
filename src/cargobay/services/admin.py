"""The ``cargobay admin`` use cases (local access: the caller is trusted, no role is
checked). Each opens one transaction and goes through the same writer the management API
uses (services/users.py, groups.py, projects.py, tokens.py), so the CLI, the API and the
test worlds apply one set of rules."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from cargobay.auth.tokens import TokenKind, digest, mint
from cargobay.domain.models import (
    AccessLevel,
    Account,
    JobDetails,
    Namespace,
    PersonalAccessToken,
    Project,
    RegistryAccess,
    User,
    Visibility,
    utcnow,
)
from cargobay.errors import Conflict, bad_request, not_found
from cargobay.services import tokens
from cargobay.services.groups import create_group_in
from cargobay.services.projects import create_project_in
from cargobay.services.registry import Registry
from cargobay.services.tokens import DEPLOY_SCOPES, PAT_SCOPES, NewToken
from cargobay.services.users import create_user_in, set_user_state_in
from cargobay.storage.db import ci as ci_sql
from cargobay.storage.db import members as member_sql
from cargobay.storage.db import namespaces as namespace_sql
from cargobay.storage.db import tokens as token_sql
from cargobay.storage.db import users as user_sql
from cargobay.storage.db.database import Connection, lock_exclusively

__all__ = [
    "DEPLOY_SCOPES",
    "JOB_STATUSES",
    "PAT_SCOPES",
    "NewToken",
    "StartedJob",
    "TokenListing",
]

JOB_STATUSES = frozenset({"success", "failed", "canceled"})


async def _namespace(conn: Connection, ref: str | int) -> Namespace:
    found = await namespace_sql.find_namespace(conn, ref)
    if found is None:
        raise not_found("Namespace Not Found")
    return found


async def _project(conn: Connection, ref: str | int) -> Project:
    project = await namespace_sql.find_project(conn, str(ref))
    if project is None:
        raise not_found("Project Not Found")
    return project


async def _user(conn: Connection, ref: str | int) -> User:
    user = await user_sql.find_user(conn, ref)
    if user is None:
        raise not_found("User Not Found")
    return user


async def create_user(registry: Registry, username: str, **options: Any) -> User:
    """``options``: those of services.users.create_user_in."""
    async with registry.db.write() as conn:
        return await create_user_in(conn, username, **options)


async def set_user_state(registry: Registry, user_ref: str | int, state: str) -> User:
    async with registry.db.write() as conn:
        user = await _user(conn, user_ref)
        await set_user_state_in(conn, user.id, state)
        return User(user.id, user.username, user.name, user.is_admin, state, user.bot)


async def create_group(
    registry: Registry,
    path: str,
    *,
    name: str | None = None,
    parent: str | int | None = None,
    visibility: Visibility = Visibility.private,
    owner: str | int | None = None,
) -> int:
    """A group (``parent``: a subgroup of it) named ``name`` or its path; ``owner``
    becomes its Owner."""
    async with registry.db.write() as conn:
        parent_group = None
        if parent is not None:
            parent_group = await _namespace(conn, parent)
            if parent_group.kind != "group":
                raise bad_request("a subgroup's parent must be a group")
        owner_id = (await _user(conn, owner)).id if owner is not None else None
        return await create_group_in(
            conn,
            name=name or path,
            path=path,
            parent=parent_group,
            visibility=visibility,
            description="",
            owner_id=owner_id,
        )


async def create_project(
    registry: Registry,
    namespace: str | int,
    path: str,
    *,
    name: str | None = None,
    visibility: Visibility = Visibility.private,
    registry_access: RegistryAccess = RegistryAccess.enabled,
    creator: User | None = None,
) -> Project:
    async with registry.db.write() as conn:
        parent = await _namespace(conn, namespace)
        project_id = await create_project_in(
            conn,
            parent,
            name=name or path,
            path=path,
            visibility=visibility,
            registry_access=registry_access,
            description="",
            creator_id=creator.id if creator else None,
        )
        return await namespace_sql.project_by_id(conn, project_id)


async def add_member(
    registry: Registry,
    user_ref: str | int,
    *,
    access_level: AccessLevel,
    group: str | int | None = None,
    project: str | int | None = None,
    expires_at: date | None = None,
) -> None:
    if (group is None) == (project is None):
        raise bad_request("name exactly one of a group or a project")
    async with registry.db.write() as conn:
        user = await _user(conn, user_ref)
        if project is not None:
            where = {"project_id": (await _project(conn, project)).id}
        else:
            where = {"namespace_id": (await _namespace(conn, group)).id}  # type: ignore[arg-type]
        await member_sql.set_membership(
            conn,
            user_id=user.id,
            access_level=access_level,
            expires_at=expires_at,
            now=utcnow(),
            **where,
        )


async def create_personal_access_token(
    registry: Registry,
    user_ref: str | int,
    *,
    name: str,
    scopes: list[str],
    expires_at: date | None = None,
) -> NewToken:
    async with registry.db.write() as conn:
        user = await _user(conn, user_ref)
        return await tokens.create_personal_token_in(conn, user, name, scopes, expires_at)


async def revoke_personal_access_token(registry: Registry, token_id: int) -> None:
    async with registry.db.write() as conn:
        await tokens.revoke_personal_token_in(conn, token_id)


async def create_project_access_token(
    registry: Registry,
    project_ref: str | int,
    *,
    name: str,
    scopes: list[str],
    access_level: AccessLevel = AccessLevel.MAINTAINER,
    expires_at: date | None = None,
) -> NewToken:
    """A PAT of a new bot user who is a member of the project, as GitLab does it."""
    async with registry.db.write() as conn:
        project = await _project(conn, project_ref)
        return await tokens.create_project_token_in(
            conn,
            project,
            name=name,
            scopes=scopes,
            access_level=access_level,
            expires_at=expires_at,
        )


async def create_deploy_token(
    registry: Registry,
    *,
    name: str,
    scopes: list[str],
    username: str | None = None,
    project: str | int | None = None,
    group: str | int | None = None,
    expires_at: datetime | None = None,
) -> NewToken:
    if (group is None) == (project is None):
        raise bad_request("name exactly one of a group or a project")
    async with registry.db.write() as conn:
        project_id = namespace_id = None
        if project is not None:
            project_id = (await _project(conn, project)).id
        else:
            namespace_id = (await _namespace(conn, group)).id  # type: ignore[arg-type]
        return await tokens.create_deploy_token_in(
            conn,
            name=name,
            scopes=scopes,
            username=username,
            project_id=project_id,
            namespace_id=namespace_id,
            expires_at=expires_at,
        )


@dataclass(frozen=True, slots=True)
class StartedJob:
    job_id: int
    pipeline_id: int
    pipeline_iid: int
    token: str


async def start_job(
    registry: Registry,
    project_ref: str | int,
    *,
    user: str | int | None,
    ref: str = "main",
    sha: str = "0" * 40,
    job_name: str = "job",
    pipeline_id: int | None = None,
    source: str = "push",
) -> StartedJob:
    """Mint a CI job token: a running job in a (new or given) pipeline of the project."""
    async with registry.db.write() as conn:
        project = await _project(conn, project_ref)
        runner = await _user(conn, user) if user is not None else None
        now = utcnow()
        if pipeline_id is None:
            iid = await ci_sql.next_pipeline_iid(conn, project.id)
            pipeline_id = await ci_sql.insert_pipeline(
                conn,
                project_id=project.id,
                iid=iid,
                ref=ref,
                sha=sha,
                source=source,
                user_id=runner.id if runner else None,
                now=now,
            )
        else:
            restarted = await ci_sql.restart_pipeline(conn, pipeline_id, project.id, now)
            if restarted is None:
                raise not_found("Pipeline Not Found")
            iid = restarted
        token = mint(TokenKind.job)
        job_id = await ci_sql.insert_job(
            conn,
            pipeline_id=pipeline_id,
            project_id=project.id,
            user_id=runner.id if runner else None,
            name=job_name,
            token_digest=digest(token),
            now=now,
        )
        return StartedJob(job_id, pipeline_id, iid, token)


async def settle_job_in(conn: Connection, job: JobDetails, status: str) -> bool:
    """Finish a running job (its token stops working at once); True if this call did.
    Finishing again with the same status changes nothing; with another, 409, as the CI
    API answers (services/ci.py)."""
    if job.status == "running":
        await ci_sql.finish_job(conn, job.id, status, utcnow())
        return True
    if job.status != status:
        raise Conflict({"message": f"409 Conflict - Job is already {job.status}"})
    return False


async def finish_job(registry: Registry, job_id: int, status: str = "success") -> bool:
    """Finish a job; False when it had already finished with ``status``."""
    if status not in JOB_STATUSES:
        raise bad_request(f"status must be one of {sorted(JOB_STATUSES)}")
    async with registry.db.write() as conn:
        job = await ci_sql.job_with_pipeline(conn, job_id)
        if job is None:
            raise not_found("Job Not Found")
        return await settle_job_in(conn, job, status)


async def bootstrap(registry: Registry, username: str = "root") -> str | None:
    """Create the first administrator and an ``api`` token, if there is no admin yet.
    Returns the new token, or None when an administrator already exists."""
    async with registry.db.write() as conn:
        # Nodes of a scale-out install may all start at once on an empty database.
        await lock_exclusively(conn, "bootstrap")
        if await user_sql.count_admins(conn):
            return None
        user = await create_user_in(conn, username, name="Administrator", is_admin=True)
        new = await tokens.create_personal_token_in(conn, user, "bootstrap", ["api"], None)
        return new.token


# ---------------------------------------------------------------- listings

EVERYTHING = 2**31 - 1  # a page holding every row: the CLI lists all


@dataclass(frozen=True, slots=True)
class TokenListing:
    """A personal (or project bot's) access token as ``admin list-tokens`` shows it:
    never its secret, which the database does not hold."""

    token: PersonalAccessToken
    username: str
    state: str  # active, expired or revoked


async def list_users(registry: Registry) -> list[Account]:
    """Every user, bots included, oldest first."""
    async with registry.db.read() as conn:
        rows, _ = await user_sql.accounts_page(conn, offset=0, limit=EVERYTHING)
    return sorted(rows, key=lambda a: a.id)


async def list_groups(registry: Registry) -> list[Namespace]:
    """Every group and subgroup, by full path."""
    async with registry.db.read() as conn:
        return await namespace_sql.all_groups(conn)


async def list_projects(registry: Registry) -> list[Project]:
    """Every project, by full path."""
    async with registry.db.read() as conn:
        return await namespace_sql.all_projects(conn)


async def list_tokens(registry: Registry, user_ref: str | int | None = None) -> list[TokenListing]:
    """Personal and project access tokens (a project token is its bot's), by id; only
    ``user_ref``'s when given."""
    today = utcnow().date()
    async with registry.db.read() as conn:
        user_id = (await _user(conn, user_ref)).id if user_ref is not None else None
        rows, _ = await token_sql.personal_tokens_page(
            conn, user_id=user_id, today=today, offset=0, limit=EVERYTHING
        )
        accounts, _ = await user_sql.accounts_page(conn, offset=0, limit=EVERYTHING)
    names = {a.id: a.username for a in accounts}

    def state(row: PersonalAccessToken) -> str:
        if row.revoked:
            return "revoked"
        if row.expires_at is not None and row.expires_at <= today:
            return "expired"
        return "active"

    return [TokenListing(row, names.get(row.user_id, "?"), state(row)) for row in rows]

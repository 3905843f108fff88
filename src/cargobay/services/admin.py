"""Users, groups, projects, memberships, tokens and CI jobs: the administration use cases
shared by the ``cargobay admin`` CLI and the management API."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import select, update

from cargobay.auth.tokens import TokenKind, digest, mint
from cargobay.domain.models import AccessLevel, Project, RegistryAccess, User, Visibility, utcnow
from cargobay.domain.names import is_valid_path
from cargobay.errors import bad_request, not_found
from cargobay.services.registry import Registry
from cargobay.storage.db import repository as repo
from cargobay.storage.db.database import Connection, lock_exclusively
from cargobay.storage.db.tables import (
    ci_jobs,
    ci_pipelines,
    deploy_tokens,
    namespaces,
    personal_access_tokens,
    projects,
    users,
)

PAT_SCOPES = frozenset(
    {
        "api",
        "read_api",
        "read_user",
        "read_repository",
        "write_repository",
        "read_registry",
        "write_registry",
        "sudo",
        "admin_mode",
        "create_runner",
        "manage_runner",
        "ai_features",
        "k8s_proxy",
        "self_rotate",
    }
)
DEPLOY_SCOPES = frozenset(
    {
        "read_repository",
        "read_registry",
        "write_registry",
        "read_package_registry",
        "write_package_registry",
        "read_virtual_registry",
        "write_virtual_registry",
    }
)
JOB_STATUSES = frozenset({"success", "failed", "canceled"})


@dataclass(frozen=True, slots=True)
class NewToken:
    id: int
    token: str
    user: User | None = None


def _check_path(path: str, what: str) -> None:
    if not is_valid_path(path):
        raise bad_request(f"{what} path {path!r} is invalid: use letters, digits, '_', '-', '.'")


def _check_scopes(scopes: list[str], allowed: frozenset[str]) -> str:
    unknown = sorted(set(scopes) - allowed)
    if not scopes or unknown:
        raise bad_request(f"scopes {unknown or scopes} are invalid; choose from {sorted(allowed)}")
    return " ".join(dict.fromkeys(scopes))


async def _namespace(conn: Connection, ref: str | int) -> Any:
    row = await repo.find_namespace(conn, ref)
    if row is None:
        raise not_found("Namespace Not Found")
    return row._mapping


async def _project(conn: Connection, ref: str | int) -> Project:
    project = await repo.find_project(conn, str(ref))
    if project is None:
        raise not_found("Project Not Found")
    return project


async def _user(conn: Connection, ref: str | int) -> User:
    user = await repo.find_user(conn, ref)
    if user is None:
        raise not_found("User Not Found")
    return user


async def create_user_in(
    conn: Connection,
    username: str,
    *,
    name: str | None = None,
    email: str | None = None,
    is_admin: bool = False,
    bot: bool = False,
    password_hash: str | None = None,
) -> User:
    _check_path(username, "username")
    if await repo.path_taken(conn, username):
        raise bad_request(f"username {username!r} has already been taken")
    now = utcnow()
    namespace_id = await repo.insert_row(
        conn,
        namespaces,
        kind="user",
        name=name or username,
        path=username,
        full_path=username,
        created_at=now,
        updated_at=now,
    )
    user_id = await repo.insert_row(
        conn,
        users,
        username=username,
        name=name or username,
        email=email,
        is_admin=is_admin,
        bot=bot,
        password_hash=password_hash,
        namespace_id=namespace_id,
        created_at=now,
        updated_at=now,
    )
    await repo.set_membership(
        conn, user_id=user_id, namespace_id=namespace_id, access_level=AccessLevel.OWNER, now=now
    )
    return User(user_id, username, name or username, is_admin, "active", bot)


async def create_user(registry: Registry, username: str, **options: Any) -> User:
    async with registry.db.write() as conn:
        return await create_user_in(conn, username, **options)


async def set_user_state(registry: Registry, user_ref: str | int, state: str) -> User:
    async with registry.db.write() as conn:
        user = await _user(conn, user_ref)
        await conn.execute(
            update(users).where(users.c.id == user.id).values(state=state, updated_at=utcnow())
        )
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
    _check_path(path, "group")
    async with registry.db.write() as conn:
        full_path, parent_id = path, None
        if parent is not None:
            parent_row = await _namespace(conn, parent)
            if parent_row["kind"] != "group":
                raise bad_request("a subgroup's parent must be a group")
            full_path, parent_id = f"{parent_row['full_path']}/{path}", parent_row["id"]
        if await repo.path_taken(conn, full_path):
            raise bad_request(f"path {full_path!r} has already been taken")
        now = utcnow()
        group_id = await repo.insert_row(
            conn,
            namespaces,
            kind="group",
            name=name or path,
            path=path,
            full_path=full_path,
            parent_id=parent_id,
            visibility=visibility,
            created_at=now,
            updated_at=now,
        )
        if owner is not None:
            owner_user = await _user(conn, owner)
            await repo.set_membership(
                conn,
                user_id=owner_user.id,
                namespace_id=group_id,
                access_level=AccessLevel.OWNER,
                now=now,
            )
        return group_id


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
    _check_path(path, "project")
    async with registry.db.write() as conn:
        parent = await _namespace(conn, namespace)
        full_path = f"{parent['full_path']}/{path}"
        if await repo.path_taken(conn, full_path):
            raise bad_request(f"path {full_path!r} has already been taken")
        now = utcnow()
        await repo.insert_row(
            conn,
            projects,
            namespace_id=parent["id"],
            name=name or path,
            path=path,
            full_path=full_path,
            visibility=visibility,
            package_registry_access_level=registry_access,
            creator_id=creator.id if creator else None,
            created_at=now,
            updated_at=now,
        )
        return await _project(conn, full_path)


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
        now = utcnow()
        if project is not None:
            target = await _project(conn, project)
            await repo.set_membership(
                conn,
                user_id=user.id,
                project_id=target.id,
                access_level=access_level,
                expires_at=expires_at,
                now=now,
            )
        else:
            namespace = await _namespace(conn, group)  # type: ignore[arg-type]
            await repo.set_membership(
                conn,
                user_id=user.id,
                namespace_id=namespace["id"],
                access_level=access_level,
                expires_at=expires_at,
                now=now,
            )


async def create_personal_access_token_in(
    conn: Connection, user: User, name: str, scopes: list[str], expires_at: date | None
) -> NewToken:
    token = mint(TokenKind.personal)
    now = utcnow()
    token_id = await repo.insert_row(
        conn,
        personal_access_tokens,
        user_id=user.id,
        name=name,
        token_digest=digest(token),
        scopes=_check_scopes(scopes, PAT_SCOPES),
        expires_at=expires_at,
        created_at=now,
        updated_at=now,
    )
    return NewToken(token_id, token, user)


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
        return await create_personal_access_token_in(conn, user, name, scopes, expires_at)


async def revoke_personal_access_token(registry: Registry, token_id: int) -> None:
    async with registry.db.write() as conn:
        result = await conn.execute(
            update(personal_access_tokens)
            .where(personal_access_tokens.c.id == token_id)
            .values(revoked=True, updated_at=utcnow())
        )
        if result.rowcount != 1:
            raise not_found("Not Found")


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
        count = 1 + len(
            (
                await conn.execute(
                    select(users.c.id).where(
                        users.c.username.like(f"project\\_{project.id}\\_bot\\_%", escape="\\")
                    )
                )
            ).all()
        )
        bot = await create_user_in(conn, f"project_{project.id}_bot_{count}", name=name, bot=True)
        await repo.set_membership(
            conn,
            user_id=bot.id,
            project_id=project.id,
            access_level=access_level,
            expires_at=None,
            now=utcnow(),
        )
        return await create_personal_access_token_in(conn, bot, name, scopes, expires_at)


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
            namespace_id = (await _namespace(conn, group))["id"]  # type: ignore[arg-type]
        token = mint(TokenKind.deploy)
        now = utcnow()
        token_id = await repo.insert_row(
            conn,
            deploy_tokens,
            name=name,
            username=username or "",
            token_digest=digest(token),
            scopes=_check_scopes(scopes, DEPLOY_SCOPES),
            expires_at=expires_at,
            project_id=project_id,
            namespace_id=namespace_id,
            created_at=now,
            updated_at=now,
        )
        if not username:
            await conn.execute(
                update(deploy_tokens)
                .where(deploy_tokens.c.id == token_id)
                .values(username=f"gitlab+deploy-token-{token_id}")
            )
        return NewToken(token_id, token)


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
            iid = await repo.next_pipeline_iid(conn, project.id)
            pipeline_id = await repo.insert_row(
                conn,
                ci_pipelines,
                project_id=project.id,
                iid=iid,
                ref=ref,
                sha=sha,
                status="running",
                source=source,
                user_id=runner.id if runner else None,
                created_at=now,
                updated_at=now,
            )
        else:
            row = (
                await conn.execute(
                    select(ci_pipelines).where(
                        ci_pipelines.c.id == pipeline_id, ci_pipelines.c.project_id == project.id
                    )
                )
            ).first()
            if row is None:
                raise not_found("Pipeline Not Found")
            iid = row._mapping["iid"]
            await conn.execute(
                update(ci_pipelines)
                .where(ci_pipelines.c.id == pipeline_id)
                .values(status="running", updated_at=now)
            )
        token = mint(TokenKind.job)
        job_id = await repo.insert_row(
            conn,
            ci_jobs,
            pipeline_id=pipeline_id,
            project_id=project.id,
            user_id=runner.id if runner else None,
            name=job_name,
            status="running",
            token_digest=digest(token),
            created_at=now,
            updated_at=now,
        )
        return StartedJob(job_id, pipeline_id, iid, token)


async def finish_job(registry: Registry, job_id: int, status: str = "success") -> None:
    """Finish a job: its token stops working at once."""
    if status not in JOB_STATUSES:
        raise bad_request(f"status must be one of {sorted(JOB_STATUSES)}")
    async with registry.db.write() as conn:
        if not await repo.finish_job(conn, job_id, status, utcnow()):
            raise not_found("Job Not Found or not running")


async def bootstrap(registry: Registry, username: str = "root") -> str | None:
    """Create the first administrator and an ``api`` token, if there is no admin yet.
    Returns the new token, or None when an administrator already exists."""
    async with registry.db.write() as conn:
        # Nodes of a scale-out install may all start at once on an empty database.
        await lock_exclusively(conn, "bootstrap")
        if await repo.count_admins(conn):
            return None
        user = await create_user_in(conn, username, name="Administrator", is_admin=True)
        new = await create_personal_access_token_in(conn, user, "bootstrap", ["api"], None)
        return new.token

"""Every SQL statement the services run, as functions of an open connection.

Services decide what happens and in which transaction; this module only knows how to ask
the database. Rows become the frozen records of domain.models.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import Row, and_, func, insert, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from cargobay.domain.models import (
    INSTALLABLE,
    DeployToken,
    FileStatus,
    Job,
    Package,
    PackageFile,
    PackageStatus,
    PackageType,
    Project,
    RegistryAccess,
    User,
    Visibility,
)
from cargobay.storage.blobs.base import StoredBlob
from cargobay.storage.db.tables import (
    blobs,
    ci_jobs,
    ci_pipelines,
    deploy_tokens,
    members,
    namespaces,
    package_build_infos,
    package_files,
    packages,
    personal_access_tokens,
    projects,
    users,
)

# ---------------------------------------------------------------- row conversion


def to_user(row: Row[Any]) -> User:
    m = row._mapping
    return User(m["id"], m["username"], m["name"], m["is_admin"], m["state"], m["bot"])


def to_project(row: Row[Any]) -> Project:
    m = row._mapping
    return Project(
        id=m["id"],
        namespace_id=m["namespace_id"],
        name=m["name"],
        path=m["path"],
        full_path=m["full_path"],
        visibility=Visibility(m["visibility"]),
        registry_access=RegistryAccess(m["package_registry_access_level"]),
        created_at=m["created_at"],
    )


def to_package(row: Row[Any]) -> Package:
    m = row._mapping
    return Package(
        id=m["id"],
        project_id=m["project_id"],
        name=m["name"],
        version=m["version"],
        package_type=PackageType(m["package_type"]),
        status=PackageStatus(m["status"]),
        created_at=m["created_at"],
        updated_at=m["updated_at"],
        last_downloaded_at=m["last_downloaded_at"],
    )


def to_file(row: Row[Any]) -> PackageFile:
    m = row._mapping
    return PackageFile(
        id=m["id"],
        package_id=m["package_id"],
        file_name=m["file_name"],
        size=m["size"],
        file_md5=m["file_md5"],
        file_sha1=m["file_sha1"],
        file_sha256=m["file_sha256"],
        status=FileStatus(m["status"]),
        created_at=m["created_at"],
        updated_at=m["updated_at"],
        pipeline_id=m["pipeline_id"],
        blob_key=m.get("storage_key"),
    )


def select_files_with_blob_key() -> Any:
    """Package files with their blob's storage key, for queries that resolve a download."""
    return select(package_files, blobs.c.storage_key).join(
        blobs, blobs.c.sha256 == package_files.c.file_sha256
    )


def _scopes(text: str) -> frozenset[str]:
    return frozenset(text.split())


# ---------------------------------------------------------------- credentials


async def find_personal_access_token(conn: AsyncConnection, token_digest: str) -> Any:
    query = (
        select(
            personal_access_tokens.c.id.label("token_id"),
            personal_access_tokens.c.scopes,
            personal_access_tokens.c.expires_at,
            personal_access_tokens.c.revoked,
            users,
        )
        .join(users, users.c.id == personal_access_tokens.c.user_id)
        .where(personal_access_tokens.c.token_digest == token_digest)
    )
    return (await conn.execute(query)).first()


async def find_deploy_token(
    conn: AsyncConnection, token_digest: str, now: datetime
) -> DeployToken | None:
    row = (
        await conn.execute(
            select(deploy_tokens).where(
                deploy_tokens.c.token_digest == token_digest,
                deploy_tokens.c.revoked.is_(False),
                or_(deploy_tokens.c.expires_at.is_(None), deploy_tokens.c.expires_at > now),
            )
        )
    ).first()
    if row is None:
        return None
    m = row._mapping
    return DeployToken(
        m["id"], m["name"], m["username"], _scopes(m["scopes"]), m["project_id"], m["namespace_id"]
    )


async def find_job(conn: AsyncConnection, token_digest: str) -> tuple[Job, str, User | None] | None:
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


# ---------------------------------------------------------------- projects and access


async def find_project(conn: AsyncConnection, id_or_path: str) -> Project | None:
    """``:id`` is a numeric id or a (decoded) full path, compared case-insensitively as
    GitLab routes do."""
    if id_or_path.isdigit():
        condition = projects.c.id == int(id_or_path)
    else:
        condition = func.lower(projects.c.full_path) == id_or_path.lower()
    row = (await conn.execute(select(projects).where(condition))).first()
    return to_project(row) if row else None


def path_and_ancestors(full_path: str) -> list[str]:
    """``a/b/c`` -> ``a``, ``a/b``, ``a/b/c``."""
    parts = full_path.split("/")
    return ["/".join(parts[: i + 1]) for i in range(len(parts))]


def namespace_paths(project_full_path: str) -> list[str]:
    """Full paths of every namespace above a project: ``a/b/p`` -> ``a``, ``a/b``."""
    return path_and_ancestors(project_full_path)[:-1]


async def access_level(conn: AsyncConnection, user_id: int, project: Project, today: date) -> int:
    """The user's effective role on a project: the highest of a direct project membership
    and memberships of the project's namespace and every ancestor group."""
    ancestors = select(namespaces.c.id).where(
        namespaces.c.full_path.in_(namespace_paths(project.full_path))
    )
    query = select(func.max(members.c.access_level)).where(
        members.c.user_id == user_id,
        or_(members.c.project_id == project.id, members.c.namespace_id.in_(ancestors)),
        or_(members.c.expires_at.is_(None), members.c.expires_at > today),
    )
    return (await conn.execute(query)).scalar() or 0


async def deploy_token_covers(conn: AsyncConnection, token: DeployToken, project: Project) -> bool:
    if token.project_id is not None:
        return token.project_id == project.id
    if token.namespace_id is None:
        return False
    path = (
        await conn.execute(
            select(namespaces.c.full_path).where(namespaces.c.id == token.namespace_id)
        )
    ).scalar()
    return path is not None and path in namespace_paths(project.full_path)


async def namespace_duplicate_settings(
    conn: AsyncConnection, namespace_id: int
) -> tuple[bool, str]:
    row = (
        await conn.execute(
            select(
                namespaces.c.generic_duplicates_allowed,
                namespaces.c.generic_duplicate_exception_regex,
            ).where(namespaces.c.id == namespace_id)
        )
    ).one()
    return bool(row[0]), str(row[1])


# ---------------------------------------------------------------- packages and files


async def find_package(
    conn: AsyncConnection,
    project_id: int,
    name: str,
    version: str,
    statuses: Sequence[PackageStatus] = INSTALLABLE,
    *,
    for_update: bool = False,
) -> Package | None:
    """The newest package with this exact name and version (names are case-sensitive).
    ``for_update`` locks its row until the transaction ends (PostgreSQL; SQLite's write
    transactions are serialised already)."""
    query = (
        select(packages)
        .where(
            packages.c.project_id == project_id,
            packages.c.package_type == PackageType.generic,
            packages.c.name == name,
            packages.c.version == version,
            packages.c.status.in_([int(s) for s in statuses]),
        )
        .order_by(packages.c.id.desc())
        .limit(1)
    )
    if for_update:
        query = query.with_for_update()
    row = (await conn.execute(query)).first()
    return to_package(row) if row else None


async def find_live_file(
    conn: AsyncConnection, package_id: int, stored_name: str
) -> PackageFile | None:
    """The newest servable file with this stored name: same-name uploads append, and the
    last one wins (spec §3 step 7)."""
    row = (
        await conn.execute(
            select_files_with_blob_key()
            .where(
                package_files.c.package_id == package_id,
                package_files.c.file_name == stored_name,
                package_files.c.status == FileStatus.default,
            )
            .order_by(package_files.c.id.desc())
            .limit(1)
        )
    ).first()
    return to_file(row) if row else None


async def live_files(conn: AsyncConnection, package_id: int) -> list[PackageFile]:
    rows = await conn.execute(
        select(package_files)
        .where(
            package_files.c.package_id == package_id, package_files.c.status == FileStatus.default
        )
        .order_by(package_files.c.id)
    )
    return [to_file(r) for r in rows]


def _insert_ignoring_conflicts(conn: AsyncConnection, table: Any) -> Any:
    dialect = conn.dialect.name
    statement = (sqlite_insert if dialect == "sqlite" else pg_insert)(table)
    return statement


async def get_or_create_package(
    conn: AsyncConnection,
    *,
    project_id: int,
    name: str,
    version: str,
    status: PackageStatus,
    creator_id: int | None,
    now: datetime,
) -> tuple[Package, bool]:
    """Find the live generic package or create it, and lock its row for the rest of the
    transaction. Parallel first uploads race on the partial unique index: the loser's
    insert waits for the winner's commit (PostgreSQL) or its turn (SQLite), does nothing
    and reads the winner's row. The lock makes concurrent uploads into one package take
    turns, so the duplicate check that follows sees every file committed before it."""
    statement = (
        _insert_ignoring_conflicts(conn, packages)
        .values(
            project_id=project_id,
            name=name,
            version=version,
            package_type=PackageType.generic,
            status=status,
            creator_id=creator_id,
            created_at=now,
            updated_at=now,
        )
        .on_conflict_do_nothing()
        .returning(packages.c.id)
    )
    created = (await conn.execute(statement)).first() is not None
    live = [s for s in PackageStatus if s is not PackageStatus.pending_destruction]
    package = await find_package(conn, project_id, name, version, live, for_update=True)
    assert package is not None
    return package, created


async def set_package_status(
    conn: AsyncConnection, package_id: int, status: PackageStatus, now: datetime
) -> None:
    await conn.execute(
        update(packages).where(packages.c.id == package_id).values(status=status, updated_at=now)
    )


async def has_live_file_named(conn: AsyncConnection, package_id: int, stored_name: str) -> bool:
    row = await conn.execute(
        select(package_files.c.id)
        .where(
            package_files.c.package_id == package_id,
            package_files.c.file_name == stored_name,
            package_files.c.status != FileStatus.pending_destruction,
        )
        .limit(1)
    )
    return row.first() is not None


async def record_blob(conn: AsyncConnection, blob: StoredBlob, now: datetime) -> str | None:
    """Record a stored blob unless its content is known already; return the storage key
    the row holds. A key other than ``blob.key`` means this copy is redundant."""
    statement = (
        _insert_ignoring_conflicts(conn, blobs)
        .values(
            sha256=blob.sha256,
            size=blob.size,
            md5=blob.md5,
            sha1=blob.sha1,
            created_at=now,
            storage_key=blob.key,
        )
        .on_conflict_do_nothing()
        .returning(blobs.c.storage_key)
    )
    for _ in range(3):
        if (await conn.execute(statement)).first() is not None:
            return blob.key
        # Known content: keep the row from the garbage collector until this transaction
        # references it (PostgreSQL; SQLite's write transactions exclude the collector).
        # If the collector deleted it in between, insert it afresh.
        kept = await conn.execute(
            select(blobs.c.storage_key)
            .where(blobs.c.sha256 == blob.sha256)
            .with_for_update(key_share=True)
        )
        row = kept.first()
        if row is not None:
            return row[0]  # type: ignore[no-any-return]
    raise RuntimeError(f"blob {blob.sha256} kept vanishing while being recorded")


async def insert_file(
    conn: AsyncConnection,
    *,
    package_id: int,
    stored_name: str,
    blob: StoredBlob,
    pipeline_id: int | None,
    now: datetime,
) -> PackageFile:
    result = await conn.execute(
        insert(package_files)
        .values(
            package_id=package_id,
            file_name=stored_name,
            size=blob.size,
            file_md5=blob.md5,
            file_sha1=blob.sha1,
            file_sha256=blob.sha256,
            status=FileStatus.default,
            pipeline_id=pipeline_id,
            created_at=now,
            updated_at=now,
        )
        .returning(package_files)
    )
    return to_file(result.one())


async def add_build_info(conn: AsyncConnection, package_id: int, pipeline_id: int) -> None:
    await conn.execute(
        insert(package_build_infos).values(package_id=package_id, pipeline_id=pipeline_id)
    )


async def mark_downloaded(
    conn: AsyncConnection, package_id: int, now: datetime, not_after: datetime
) -> None:
    """Set last_downloaded_at unless another request already did so since ``not_after``."""
    await conn.execute(
        update(packages)
        .where(
            packages.c.id == package_id,
            or_(
                packages.c.last_downloaded_at.is_(None),
                packages.c.last_downloaded_at < not_after,
            ),
        )
        .values(last_downloaded_at=now)
    )


# ---------------------------------------------------------------- administration


async def insert_row(conn: AsyncConnection, table: Any, **values: Any) -> int:
    result = await conn.execute(insert(table).values(**values).returning(table.c.id))
    return int(result.scalar_one())


async def count_admins(conn: AsyncConnection) -> int:
    return int(
        (await conn.execute(select(func.count()).where(users.c.is_admin.is_(True)))).scalar_one()
    )


async def find_user(conn: AsyncConnection, id_or_username: str | int) -> User | None:
    if isinstance(id_or_username, int) or id_or_username.isdigit():
        condition = users.c.id == int(id_or_username)
    else:
        condition = func.lower(users.c.username) == id_or_username.lower()
    row = (await conn.execute(select(users).where(condition))).first()
    return to_user(row) if row else None


async def find_namespace(conn: AsyncConnection, id_or_path: str | int) -> Row[Any] | None:
    if isinstance(id_or_path, int) or id_or_path.isdigit():
        condition = namespaces.c.id == int(id_or_path)
    else:
        condition = func.lower(namespaces.c.full_path) == id_or_path.lower()
    return (await conn.execute(select(namespaces).where(condition))).first()


async def path_taken(conn: AsyncConnection, full_path: str) -> bool:
    lowered = full_path.lower()
    for table in (namespaces, projects):
        found = await conn.execute(
            select(table.c.id).where(func.lower(table.c.full_path) == lowered).limit(1)
        )
        if found.first() is not None:
            return True
    return False


async def set_membership(
    conn: AsyncConnection,
    *,
    user_id: int,
    access_level: int,
    project_id: int | None = None,
    namespace_id: int | None = None,
    expires_at: date | None = None,
    now: datetime,
) -> None:
    existing = (
        await conn.execute(
            select(members.c.id).where(
                members.c.user_id == user_id,
                members.c.project_id.is_(None)
                if project_id is None
                else members.c.project_id == project_id,
                members.c.namespace_id.is_(None)
                if namespace_id is None
                else members.c.namespace_id == namespace_id,
            )
        )
    ).scalar()
    if existing is None:
        await conn.execute(
            insert(members).values(
                user_id=user_id,
                project_id=project_id,
                namespace_id=namespace_id,
                access_level=access_level,
                expires_at=expires_at,
                created_at=now,
                updated_at=now,
            )
        )
    else:
        await conn.execute(
            update(members)
            .where(members.c.id == existing)
            .values(access_level=access_level, expires_at=expires_at, updated_at=now)
        )


async def next_pipeline_iid(conn: AsyncConnection, project_id: int) -> int:
    current = (
        await conn.execute(
            select(func.max(ci_pipelines.c.iid)).where(ci_pipelines.c.project_id == project_id)
        )
    ).scalar()
    return int(current or 0) + 1


async def finish_job(conn: AsyncConnection, job_id: int, status: str, now: datetime) -> bool:
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


async def memberships(conn: AsyncConnection, user_id: int, today: date) -> list[Any]:
    """Every live membership of a user: (project_id, namespace_full_path, access_level)."""
    rows = await conn.execute(
        select(members.c.project_id, namespaces.c.full_path, members.c.access_level)
        .outerjoin(namespaces, namespaces.c.id == members.c.namespace_id)
        .where(
            members.c.user_id == user_id,
            or_(members.c.expires_at.is_(None), members.c.expires_at > today),
        )
    )
    return list(rows)


async def projects_under(
    conn: AsyncConnection, namespace_full_path: str, *, include_subgroups: bool
) -> list[Project]:
    paths = [namespace_full_path]
    condition = namespaces.c.full_path == namespace_full_path
    if include_subgroups:
        condition = or_(condition, namespaces.c.full_path.startswith(f"{paths[0]}/"))
    rows = await conn.execute(
        select(projects)
        .join(namespaces, namespaces.c.id == projects.c.namespace_id)
        .where(condition)
    )
    return [to_project(row) for row in rows]

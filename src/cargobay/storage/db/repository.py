"""Every SQL statement the services run, as functions of an open connection.

Services decide what happens and in which transaction; this module only knows how to ask
the database. Rows become the frozen records of domain.models.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, cast

from sqlalchemy import (
    Date,
    Row,
    and_,
    bindparam,
    func,
    insert,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from cargobay.domain.features import GENERIC_PACKAGES
from cargobay.domain.integers import lookup_text, row_id
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
from cargobay.storage.db.database import Connection, Database, Prepared
from cargobay.storage.db.policies import gate_for, is_ancestor, sql_literal
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


def _mapping(row: Row[Any] | Mapping[str, Any]) -> Mapping[str, Any]:
    return cast(Mapping[str, Any], row._mapping if isinstance(row, Row) else row)


# The columns the records below are made of (a query that selects only these is enough).
USER_COLUMNS = ("id", "username", "name", "is_admin", "state", "bot")
PROJECT_COLUMNS = (
    "id",
    "namespace_id",
    "name",
    "path",
    "full_path",
    "visibility",
    "package_registry_access_level",
    "created_at",
)


def to_user(row: Row[Any] | Mapping[str, Any], prefix: str = "") -> User:
    """``prefix``: the row's user columns are labelled ``<prefix><name>``."""
    m = _mapping(row)
    return User(
        m[f"{prefix}id"],
        m[f"{prefix}username"],
        m[f"{prefix}name"],
        m[f"{prefix}is_admin"],
        m[f"{prefix}state"],
        m[f"{prefix}bot"],
    )


def to_project(row: Row[Any] | Mapping[str, Any]) -> Project:
    m = _mapping(row)
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


def to_package(row: Row[Any] | Mapping[str, Any], prefix: str = "") -> Package:
    """``prefix``: the row's package columns are labelled ``<prefix><name>``."""
    m = _mapping(row)
    return Package(
        id=m[f"{prefix}id"],
        project_id=m[f"{prefix}project_id"],
        name=m[f"{prefix}name"],
        version=m[f"{prefix}version"],
        package_type=PackageType(m[f"{prefix}package_type"]),
        status=PackageStatus(m[f"{prefix}status"]),
        created_at=m[f"{prefix}created_at"],
        updated_at=m[f"{prefix}updated_at"],
        last_downloaded_at=m[f"{prefix}last_downloaded_at"],
    )


def to_file(row: Row[Any] | Mapping[str, Any], prefix: str = "") -> PackageFile:
    """``prefix``: the row's file columns are labelled ``<prefix><name>``."""
    m = _mapping(row)
    return PackageFile(
        id=m[f"{prefix}id"],
        package_id=m[f"{prefix}package_id"],
        file_name=m[f"{prefix}file_name"],
        size=m[f"{prefix}size"],
        file_md5=m[f"{prefix}file_md5"],
        file_sha1=m[f"{prefix}file_sha1"],
        file_sha256=m[f"{prefix}file_sha256"],
        status=FileStatus(m[f"{prefix}status"]),
        created_at=m[f"{prefix}created_at"],
        updated_at=m[f"{prefix}updated_at"],
        pipeline_id=m[f"{prefix}pipeline_id"],
        blob_key=m.get("storage_key"),
    )


def _labelled(table: Any, prefix: str) -> list[Any]:
    return [column.label(f"{prefix}{column.name}") for column in table.c]


def select_files_with_blob_key() -> Any:
    """Package files with their blob's storage key, for queries that resolve a download."""
    return select(package_files, blobs.c.storage_key).join(
        blobs, blobs.c.sha256 == package_files.c.file_sha256
    )


def _scopes(text: str) -> frozenset[str]:
    return frozenset(text.split())


# ---------------------------------------------------------------- credentials


# Statements on the path of every authenticated request are built once, here: building a
# statement costs more than running it (SQLAlchemy then finds it in its compiled cache).
_ACCESS_TOKEN = (
    select(
        personal_access_tokens.c.id.label("token_id"),
        personal_access_tokens.c.scopes,
        personal_access_tokens.c.expires_at,
        personal_access_tokens.c.revoked,
        users,
    )
    .join(users, users.c.id == personal_access_tokens.c.user_id)
    .where(personal_access_tokens.c.token_digest == bindparam("digest"))
)


async def find_personal_access_token(conn: Connection, token_digest: str) -> Any:
    return (await conn.execute(_ACCESS_TOKEN, {"digest": token_digest})).first()


async def find_deploy_token(
    conn: Connection, token_digest: str, now: datetime
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


# ---------------------------------------------------------------- projects and access


_PROJECT_BY_ID = projects.c.id == bindparam("project_id")
_PROJECT_BY_PATH = func.lower(projects.c.full_path) == bindparam("path")


def _project_ref(id_or_path: str) -> tuple[bool, dict[str, Any]]:
    """``:id`` is a numeric id or a (decoded) full path, compared case-insensitively as
    GitLab routes do: (by id?, bind values)."""
    project_id = row_id(id_or_path)  # ASCII digits only, in the column's range
    if project_id is not None:
        return True, {"project_id": project_id}
    return False, {"path": lookup_text(id_or_path).lower()}


_FIND_PROJECT = {
    by_id: select(projects).where(_PROJECT_BY_ID if by_id else _PROJECT_BY_PATH)
    for by_id in (True, False)
}


async def find_project(conn: Connection, id_or_path: str) -> Project | None:
    by_id, values = _project_ref(id_or_path)
    row = (await conn.execute(_FIND_PROJECT[by_id], values)).first()
    return to_project(row) if row else None


def path_and_ancestors(full_path: str) -> list[str]:
    """``a/b/c`` -> ``a``, ``a/b``, ``a/b/c``."""
    parts = full_path.split("/")
    return ["/".join(parts[: i + 1]) for i in range(len(parts))]


def namespace_paths(project_full_path: str) -> list[str]:
    """Full paths of every namespace above a project: ``a/b/p`` -> ``a``, ``a/b``."""
    return path_and_ancestors(project_full_path)[:-1]


def member_level(user_id: Any, project_id: Any, project_path: Any, today: Any) -> Any:
    """The user's effective role on a project, as a scalar subquery (0: none): the
    highest of a direct project membership and memberships of the project's namespace
    and every ancestor group. Arguments may be values or columns (a correlated use)."""
    namespace = namespaces.alias("member_namespace")
    return (
        select(func.coalesce(func.max(members.c.access_level), sql_literal(0)))
        .select_from(members.outerjoin(namespace, namespace.c.id == members.c.namespace_id))
        .where(
            members.c.user_id == user_id,
            or_(members.c.expires_at.is_(None), members.c.expires_at > today),
            or_(
                members.c.project_id == project_id,
                is_ancestor(namespace.c.full_path, project_path),
            ),
        )
        .scalar_subquery()
    )


async def access_level(conn: Connection, user_id: int, project: Project, today: date) -> int:
    query = select(member_level(user_id, project.id, project.full_path, today))
    return int((await conn.execute(query)).scalar() or 0)


def _project_access_query(*, by_id: bool, with_user: bool) -> Any:
    generic_gate = gate_for(GENERIC_PACKAGES.name, projects.c.id, projects.c.full_path)
    query = select(projects, generic_gate.label("generic_gate"))
    if with_user:
        level = member_level(
            bindparam("user_id"),
            projects.c.id,
            projects.c.full_path,
            bindparam("today", type_=Date),
        )
        query = query.add_columns(level.label("member_level"))
    return query.where(_PROJECT_BY_ID if by_id else _PROJECT_BY_PATH)


_PROJECT_ACCESS = {
    (by_id, with_user): _project_access_query(by_id=by_id, with_user=with_user)
    for by_id in (True, False)
    for with_user in (True, False)
}


@dataclass(frozen=True, slots=True)
class ProjectFacts:
    """A project with what deciding access to it needs, read in one statement."""

    project: Project
    member_level: int  # the user's effective role (0: none, or no user)
    generic_gate: bool | None  # the deciding generic_packages gate (None: no gate)


async def project_facts(
    conn: Connection, id_or_path: str, user_id: int | None, today: date
) -> ProjectFacts | None:
    by_id, values = _project_ref(id_or_path)
    if user_id is not None:
        values.update(user_id=user_id, today=today)
    query = _PROJECT_ACCESS[by_id, user_id is not None]
    row = (await conn.execute(query, values)).first()
    if row is None:
        return None
    m = row._mapping
    gate = m["generic_gate"]
    return ProjectFacts(
        to_project(row), int(m.get("member_level") or 0), None if gate is None else bool(gate)
    )


async def deploy_token_covers(conn: Connection, token: DeployToken, project: Project) -> bool:
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


async def namespace_duplicate_settings(conn: Connection, namespace_id: int) -> tuple[bool, str]:
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


def not_pending_destruction(table: Any) -> Any:
    """The predicate of the partial unique index on (project, type, name, version), as
    literal SQL: with it in a lookup's WHERE, SQLite and PostgreSQL can prove the index
    applies (a bound parameter would not do), instead of scanning the project's packages.
    ``table``: packages or an alias of it."""
    return text(f"{table.name}.status != {int(PackageStatus.pending_destruction)}")


def _newest_package(project_id: Any) -> Any:
    """The newest installable generic package of a project with the bound ``name`` and
    ``version``, as a scalar subquery of its id. ``project_id``: a value or a column."""
    candidate = packages.alias("candidate")
    return (
        select(candidate.c.id)
        .where(
            candidate.c.project_id == project_id,
            candidate.c.package_type == sql_literal(PackageType.generic),
            candidate.c.name == bindparam("name"),
            candidate.c.version == bindparam("version"),
            # Literal values: a bound IN list is expanded at every execution, and SQLite
            # plans an OR of bound equalities slowly.
            candidate.c.status.in_([sql_literal(s) for s in INSTALLABLE]),
            not_pending_destruction(candidate),
        )
        .order_by(candidate.c.id.desc())
        .limit(1)
        .scalar_subquery()
    )


def _servable_file_named() -> Any:
    """Files of ``packages`` with the bound stored ``file_name`` that may be served."""
    return and_(
        package_files.c.package_id == packages.c.id,
        package_files.c.file_name == bindparam("file_name"),
        package_files.c.status == sql_literal(FileStatus.default),
    )


async def find_package(
    conn: Connection,
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
    if PackageStatus.pending_destruction not in statuses:
        query = query.where(not_pending_destruction(packages))
    if for_update:
        query = query.with_for_update()
    row = (await conn.execute(query)).first()
    return to_package(row) if row else None


def _download_query() -> Any:
    # Plain joins, newest file first: SQLite runs this in microseconds, where the same
    # lookup as a correlated subquery in a LEFT JOIN's ON clause takes ~50 us.
    return (
        select(*_labelled(packages, "package_"), *_labelled(package_files, "file_"))
        .add_columns(blobs.c.storage_key)
        .select_from(
            packages.join(package_files, _servable_file_named()).join(
                blobs, blobs.c.sha256 == package_files.c.file_sha256
            )
        )
        .where(packages.c.id == _newest_package(bindparam("project_id")))
        .order_by(package_files.c.id.desc())
        .limit(1)
    )


_DOWNLOAD = _download_query()


async def find_download(
    conn: Connection, project_id: int, name: str, version: str, stored_name: str
) -> tuple[Package, PackageFile] | None:
    """The newest installable package with this name and version and its newest
    servable file with this stored name (same-name uploads append and the last one wins,
    spec §3 step 7), in one statement. None: no such package, or no such file in it."""
    values = {"project_id": project_id, "name": name, "version": version, "file_name": stored_name}
    row = (await conn.execute(_DOWNLOAD, values)).first()
    return None if row is None else (to_package(row, "package_"), to_file(row, "file_"))


# ---------------------------------------------------------------- one-statement downloads


def _download_lookup_query(*, by_id: bool, with_token: bool) -> Any:
    """One row: the project (by id or path), its gate, the newest package and file, and
    with a token its row, its user and the user's role in the project."""
    generic_gate = gate_for(GENERIC_PACKAGES.name, projects.c.id, projects.c.full_path)
    columns = [
        *(projects.c[name] for name in PROJECT_COLUMNS),
        generic_gate.label("generic_gate"),
        packages.c.id.label("package_id"),
        packages.c.last_downloaded_at.label("package_last_downloaded_at"),
        *_labelled(package_files, "file_"),
        blobs.c.storage_key,
    ]
    source = (
        projects.outerjoin(packages, packages.c.id == _newest_package(projects.c.id))
        .outerjoin(package_files, _servable_file_named())
        .outerjoin(blobs, blobs.c.sha256 == package_files.c.file_sha256)
    )
    if with_token:
        today = bindparam("today", type_=Date)
        columns += [
            member_level(users.c.id, projects.c.id, projects.c.full_path, today).label(
                "member_level"
            ),
            personal_access_tokens.c.id.label("token_id"),
            personal_access_tokens.c.scopes.label("token_scopes"),
            personal_access_tokens.c.expires_at.label("token_expires_at"),
            personal_access_tokens.c.revoked.label("token_revoked"),
            *(users.c[name].label(f"user_{name}") for name in USER_COLUMNS),
        ]
        source = source.outerjoin(
            personal_access_tokens.join(users, users.c.id == personal_access_tokens.c.user_id),
            personal_access_tokens.c.token_digest == bindparam("digest"),
        )
    return (
        select(*columns)
        .select_from(source)
        .where(_PROJECT_BY_ID if by_id else _PROJECT_BY_PATH)
        .order_by(package_files.c.id.desc())  # same-name uploads append: the last one wins
        .limit(1)
    )


_DOWNLOAD_LOOKUP = {
    (by_id, with_token): Prepared(_download_lookup_query(by_id=by_id, with_token=with_token))
    for by_id in (True, False)
    for with_token in (True, False)
}


@dataclass(frozen=True, slots=True)
class DownloadFacts:
    """What one download needs, read in one statement (``download_lookup``)."""

    project: ProjectFacts
    token: Mapping[str, Any] | None  # token_*, user_<column>; None: no such token
    # The newest installable package with the name and version, and when it was last
    # downloaded; its newest servable file with the stored name.
    package_id: int | None
    last_downloaded_at: datetime | None
    file: PackageFile | None


async def download_lookup(
    db: Database,
    token_digest: str | None,
    project_ref: str,
    where: tuple[str, str, str],
    today: date,
) -> DownloadFacts | None:
    """An access token (by digest) and its user, the project, the user's role there, the
    project's generic_packages gate, the package and the file of a download, in one
    statement: the round trip of an authenticated download. None: no such project.
    ``where``: package name, version and stored file name."""
    by_id, values = _project_ref(project_ref)
    values.update(name=where[0], version=where[1], file_name=where[2])
    if token_digest is not None:
        values.update(digest=token_digest, today=today)
    m = await db.first(_DOWNLOAD_LOOKUP[by_id, token_digest is not None], values)
    if m is None:
        return None
    gate = m["generic_gate"]
    project = ProjectFacts(
        to_project(m), int(m.get("member_level") or 0), None if gate is None else bool(gate)
    )
    return DownloadFacts(
        project,
        m if m.get("token_id") is not None else None,
        m["package_id"],
        m["package_last_downloaded_at"],
        to_file(m, "file_") if m["file_id"] is not None else None,
    )


async def live_files(conn: Connection, package_id: int) -> list[PackageFile]:
    rows = await conn.execute(
        select(package_files)
        .where(
            package_files.c.package_id == package_id, package_files.c.status == FileStatus.default
        )
        .order_by(package_files.c.id)
    )
    return [to_file(r) for r in rows]


def _insert_ignoring_conflicts(conn: Connection, table: Any) -> Any:
    dialect = conn.dialect.name
    statement = (sqlite_insert if dialect == "sqlite" else pg_insert)(table)
    return statement


async def get_or_create_package(
    conn: Connection,
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
    conn: Connection, package_id: int, status: PackageStatus, now: datetime
) -> None:
    await conn.execute(
        update(packages).where(packages.c.id == package_id).values(status=status, updated_at=now)
    )


async def has_live_file_named(conn: Connection, package_id: int, stored_name: str) -> bool:
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


async def record_blob(conn: Connection, blob: StoredBlob, now: datetime) -> str | None:
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
    conn: Connection,
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


async def add_build_info(conn: Connection, package_id: int, pipeline_id: int) -> None:
    await conn.execute(
        insert(package_build_infos).values(package_id=package_id, pipeline_id=pipeline_id)
    )


async def mark_downloaded(
    conn: Connection, package_id: int, now: datetime, not_after: datetime
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


async def insert_row(conn: Connection, table: Any, **values: Any) -> int:
    result = await conn.execute(insert(table).values(**values).returning(table.c.id))
    return int(result.scalar_one())


async def count_admins(conn: Connection) -> int:
    return int(
        (await conn.execute(select(func.count()).where(users.c.is_admin.is_(True)))).scalar_one()
    )


async def find_user(conn: Connection, id_or_username: str | int) -> User | None:
    user_id = id_or_username if isinstance(id_or_username, int) else row_id(id_or_username)
    if user_id is not None:
        condition = users.c.id == user_id
    else:
        condition = func.lower(users.c.username) == lookup_text(str(id_or_username)).lower()
    row = (await conn.execute(select(users).where(condition))).first()
    return to_user(row) if row else None


async def find_namespace(conn: Connection, id_or_path: str | int) -> Row[Any] | None:
    namespace_id = id_or_path if isinstance(id_or_path, int) else row_id(id_or_path)
    if namespace_id is not None:
        condition = namespaces.c.id == namespace_id
    else:
        condition = func.lower(namespaces.c.full_path) == lookup_text(str(id_or_path)).lower()
    return (await conn.execute(select(namespaces).where(condition))).first()


async def path_taken(conn: Connection, full_path: str) -> bool:
    lowered = full_path.lower()
    for table in (namespaces, projects):
        found = await conn.execute(
            select(table.c.id).where(func.lower(table.c.full_path) == lowered).limit(1)
        )
        if found.first() is not None:
            return True
    return False


async def set_membership(
    conn: Connection,
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


async def next_pipeline_iid(conn: Connection, project_id: int) -> int:
    current = (
        await conn.execute(
            select(func.max(ci_pipelines.c.iid)).where(ci_pipelines.c.project_id == project_id)
        )
    ).scalar()
    return int(current or 0) + 1


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


async def memberships(conn: Connection, user_id: int, today: date) -> list[Any]:
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
    conn: Connection, namespace_full_path: str, *, include_subgroups: bool
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

"""The download's lookups, each one statement: the project with the caller's role and its
generic_packages gate (``project_facts``); the newest package and file of a download
(``find_download``); and all of that with the access token and its user
(``download_lookup``), the round trip of an authenticated download of a small file. The
statements are built once, at import (docs/performance.md has what they cost). And the
download counts: ``add_downloads`` writes what services/download_counts.py counted,
``download_days`` reads a package's downloads per day."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import BigInteger, Date, and_, bindparam, select, update
from sqlalchemy.dialects import postgresql, sqlite

from cargobay.domain.features import GENERIC_PACKAGES
from cargobay.domain.models import (
    INSTALLABLE,
    FileStatus,
    Package,
    PackageFile,
    PackageType,
    Project,
    TokenGrant,
)
from cargobay.storage.db.database import Connection, Database, Prepared, fetch_one
from cargobay.storage.db.expressions import sql_literal
from cargobay.storage.db.members import member_level
from cargobay.storage.db.namespaces import PROJECT_BY_ID as _PROJECT_BY_ID
from cargobay.storage.db.namespaces import PROJECT_BY_PATH as _PROJECT_BY_PATH
from cargobay.storage.db.namespaces import project_ref as _project_ref
from cargobay.storage.db.packages import not_pending_destruction
from cargobay.storage.db.policies import gate_for
from cargobay.storage.db.records import (
    PROJECT_COLUMNS,
    USER_COLUMNS,
    labelled,
    to_file,
    to_package,
    to_project,
    to_user,
)
from cargobay.storage.db.tables import (
    blobs,
    package_download_days,
    package_files,
    packages,
    personal_access_tokens,
    projects,
    users,
)

_labelled = labelled

# ---------------------------------------------------------------- project and access


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
    (by_id, with_user): Prepared(_project_access_query(by_id=by_id, with_user=with_user))
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
    m = await fetch_one(conn, query, values)
    if m is None:
        return None
    gate = m["generic_gate"]
    return ProjectFacts(
        to_project(m), int(m.get("member_level") or 0), None if gate is None else bool(gate)
    )


# ---------------------------------------------------------------- packages and files


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
    token: TokenGrant | None  # None: no such token
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
        _grant(m) if m.get("token_id") is not None else None,
        m["package_id"],
        m["package_last_downloaded_at"],
        to_file(m, "file_") if m["file_id"] is not None else None,
    )


def _grant(m: Any) -> TokenGrant:
    return TokenGrant(
        m["token_id"],
        m["token_scopes"],
        m["token_revoked"],
        m["token_expires_at"],
        to_user(m, "user_"),
    )


# ---------------------------------------------------------------- download counts

_ADD_TO_PACKAGE = (
    update(packages)
    .where(packages.c.id == bindparam("row_id"))
    .values(download_count=packages.c.download_count + bindparam("n"))
)
_ADD_TO_FILE = (
    update(package_files)
    .where(package_files.c.id == bindparam("row_id"))
    .values(download_count=package_files.c.download_count + bindparam("n"))
)


def _add_to_day(dialect_insert: Any) -> Any:
    # From the package row: a package purged since its downloads were counted gets none.
    rows = select(
        packages.c.id, bindparam("day", type_=Date), bindparam("n", type_=BigInteger)
    ).where(packages.c.id == bindparam("row_id"))
    statement = dialect_insert(package_download_days).from_select(
        ["package_id", "day", "count"], rows
    )
    return statement.on_conflict_do_update(
        index_elements=["package_id", "day"],
        set_={"count": package_download_days.c.count + statement.excluded["count"]},
    )


_ADD_TO_DAY = {"sqlite": _add_to_day(sqlite.insert), "postgresql": _add_to_day(postgresql.insert)}


async def add_downloads(
    conn: Connection,
    by_package: Mapping[int, int],
    by_file: Mapping[int, int],
    by_day: Mapping[tuple[int, date], int],
) -> None:
    """Add counted downloads: to packages, to package files, and to each package's day.
    Rows are locked in key order, so that two processes writing at once on PostgreSQL
    wait for each other instead of deadlocking."""
    for statement, counts in ((_ADD_TO_PACKAGE, by_package), (_ADD_TO_FILE, by_file)):
        if counts:
            await conn.execute(statement, [{"row_id": k, "n": counts[k]} for k in sorted(counts)])
    if by_day:
        await conn.execute(
            _ADD_TO_DAY[conn.dialect.name],
            [{"row_id": p, "day": d, "n": by_day[p, d]} for p, d in sorted(by_day)],
        )


async def download_days(
    conn: Connection, package_id: int, first: date, last: date
) -> list[tuple[date, int]]:
    """(day, downloads) of the package's days with downloads from ``first`` to ``last``."""
    days = package_download_days.c
    rows = await conn.execute(
        select(days.day, days.count)
        .where(days.package_id == package_id, days.day >= first, days.day <= last)
        .order_by(days.day)
    )
    return [(day, int(count)) for day, count in rows]

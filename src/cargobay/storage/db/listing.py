"""Queries behind the Packages API lists (spec §11): filters, ordering, counts, and the
pipelines attached to packages and files."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import Select, func, select

from cargobay.domain.models import DISPLAYABLE, FileStatus, PackageFile, PackageStatus, PackageType
from cargobay.storage.db.database import Connection
from cargobay.storage.db.expressions import capped_page_of, like_escape
from cargobay.storage.db.records import to_file
from cargobay.storage.db.tables import (
    ci_pipelines,
    package_build_infos,
    package_files,
    packages,
    projects,
    users,
)

_TERM = re.compile(r'"([^"]*)"|(\S+)')


@dataclass(frozen=True, slots=True)
class PackageFilter:
    package_type: PackageType | None = None
    package_name: str | None = None
    package_version: str | None = None
    status: PackageStatus | None = None
    include_versionless: bool = False
    package_ids: Sequence[int] | None = None  # only these (what ~latest chose)


def name_terms(query: str) -> list[str]:
    """GitLab's fuzzy name search: whitespace-separated terms, "quoted phrases" whole."""
    return [
        quoted or bare for quoted, bare in _TERM.findall(" ".join(query.split())) if quoted or bare
    ]


def filtered_packages(
    project_ids: Select[Any] | Sequence[int], where: PackageFilter, dialect: str
) -> Select[Any]:
    query = (
        select(
            packages,
            projects.c.path.label("project_path_segment"),
            projects.c.full_path.label("project_full_path"),
        )
        .join(projects, projects.c.id == packages.c.project_id)
        .where(packages.c.project_id.in_(project_ids))
    )
    if not where.include_versionless or where.package_version is not None:
        query = query.where(packages.c.version.is_not(None))
    if where.package_type is not None:
        query = query.where(packages.c.package_type == where.package_type)
    else:
        query = query.where(packages.c.package_type != PackageType.terraform_module)
    if where.package_name:
        for term in name_terms(where.package_name):
            pattern = f"%{like_escape(term)}%"
            # SQLite's LIKE is already case-insensitive (ASCII); its ILIKE emulation wraps
            # both sides in lower(), which costs a function call per row.
            if dialect == "sqlite":
                query = query.where(packages.c.name.like(pattern, escape="\\"))
            else:
                query = query.where(packages.c.name.ilike(pattern, escape="\\"))
    if where.status is not None:
        query = query.where(packages.c.status == where.status)
    else:
        query = query.where(packages.c.status.in_([int(s) for s in DISPLAYABLE]))
    if where.package_version is not None:
        query = query.where(packages.c.version == where.package_version)
    if where.package_ids is not None:
        query = query.where(packages.c.id.in_(where.package_ids))
    return query


async def version_candidates(
    conn: Connection, project_ids: Sequence[int], where: PackageFilter
) -> list[Any]:
    """(id, project_id, name, version) of the generic packages with status default that
    match ``where``'s name filter: what ``package_version=~latest`` chooses from."""
    chosen = replace(
        where,
        package_type=PackageType.generic,
        package_version=None,
        status=PackageStatus.default,
        package_ids=None,
    )
    query = filtered_packages(project_ids, chosen, conn.dialect.name).with_only_columns(
        packages.c.id, packages.c.project_id, packages.c.name, packages.c.version
    )
    return list(await conn.execute(query))


ORDER_COLUMNS = {
    "created_at": packages.c.created_at,
    "name": packages.c.name,
    "version": packages.c.version,
    "type": packages.c.package_type,
    "project_path": projects.c.path,
}


def _order(order_by: str, sort: str) -> list[Any]:
    column = ORDER_COLUMNS[order_by]
    if sort == "desc":
        return [column.desc(), packages.c.id.desc()]
    return [column.asc(), packages.c.id.asc()]


async def packages_page(
    conn: Connection,
    project_ids: Sequence[int],
    where: PackageFilter,
    *,
    order_by: str,
    sort: str,
    offset: int,
    limit: int,
    group_order: bool = False,
) -> tuple[list[Any], int | None, bool]:
    """One page of the packages of a project or group (spec §11): (rows, total or None
    past the count cap, whether a next page exists). ``group_order``: the group list's
    ``project_path`` order puts packages without a project path last."""
    query = filtered_packages(project_ids, where, conn.dialect.name)
    if group_order and order_by == "project_path":
        column = ORDER_COLUMNS["project_path"]
        direction = column.desc() if sort == "desc" else column.asc()
        order = [direction.nulls_last(), packages.c.id.asc()]
    else:
        order = _order(order_by, sort)
    return await capped_page_of(conn, query, order, key=packages.c.id, offset=offset, limit=limit)


def files_query(package_id: int) -> Select[Any]:
    return select(package_files).where(
        package_files.c.package_id == package_id, package_files.c.status == FileStatus.default
    )


async def files_page(
    conn: Connection, package_id: int, *, order_by: str, sort: str, offset: int, limit: int
) -> tuple[list[PackageFile], int | None, bool]:
    """The servable files of a package, as records (see packages_page)."""
    column = FILE_ORDER_COLUMNS[order_by]
    tie = package_files.c.id
    order = [column.desc(), tie.desc()] if sort == "desc" else [column.asc(), tie.asc()]
    rows, total, has_next = await capped_page_of(
        conn, files_query(package_id), order, key=tie, offset=offset, limit=limit
    )
    return [to_file(row) for row in rows], total, has_next


FILE_ORDER_COLUMNS = {
    "id": package_files.c.id,
    "created_at": package_files.c.created_at,
    "file_name": package_files.c.file_name,
}


def _pipeline_columns() -> list[Any]:
    return [
        ci_pipelines,
        users.c.id.label("user_id_"),
        users.c.username,
        users.c.name.label("user_name"),
        users.c.state.label("user_state"),
    ]


async def last_pipelines(conn: Connection, package_ids: Sequence[int]) -> dict[int, Any]:
    """The pipeline of each package's newest build info (the entity's ``pipeline``)."""
    if not package_ids:
        return {}
    newest = (
        select(func.max(package_build_infos.c.id))
        .where(package_build_infos.c.package_id.in_(package_ids))
        .group_by(package_build_infos.c.package_id)
    )
    rows = await conn.execute(
        select(package_build_infos.c.package_id, *_pipeline_columns())
        .join(ci_pipelines, ci_pipelines.c.id == package_build_infos.c.pipeline_id)
        .outerjoin(users, users.c.id == ci_pipelines.c.user_id)
        .where(package_build_infos.c.id.in_(newest))
    )
    return {row._mapping["package_id"]: row._mapping for row in rows}


async def pipelines_by_id(conn: Connection, pipeline_ids: Sequence[int]) -> dict[int, Any]:
    if not pipeline_ids:
        return {}
    rows = await conn.execute(
        select(*_pipeline_columns())
        .outerjoin(users, users.c.id == ci_pipelines.c.user_id)
        .where(ci_pipelines.c.id.in_(set(pipeline_ids)))
    )
    return {row._mapping["id"]: row._mapping for row in rows}


async def package_pipelines(
    conn: Connection, package_id: int, *, before: int | None, limit: int
) -> list[Any]:
    """Distinct pipelines that built a package, newest first, keyset on pipeline id."""
    query = (
        select(*_pipeline_columns())
        .outerjoin(users, users.c.id == ci_pipelines.c.user_id)
        .where(
            ci_pipelines.c.id.in_(
                select(package_build_infos.c.pipeline_id).where(
                    package_build_infos.c.package_id == package_id
                )
            )
        )
        .order_by(ci_pipelines.c.id.desc())
        .limit(limit)
    )
    if before is not None:
        query = query.where(ci_pipelines.c.id < before)
    return [row._mapping for row in await conn.execute(query)]


async def other_versions(conn: Connection, package: Any) -> list[Any]:
    """Other displayable packages with the same name and type, ordered by version."""
    rows = await conn.execute(
        select(packages)
        .where(
            packages.c.project_id == package.project_id,
            packages.c.name == package.name,
            packages.c.package_type == package.package_type,
            packages.c.version != package.version,
            packages.c.status.in_([int(s) for s in DISPLAYABLE]),
        )
        .order_by(packages.c.version, packages.c.id)
    )
    return list(rows)

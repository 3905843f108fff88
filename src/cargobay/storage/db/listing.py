"""Queries behind the Packages API lists (spec §11): filters, ordering, counts, and the
pipelines attached to packages and files."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, func, select

from cargobay.domain.models import DISPLAYABLE, FileStatus, PackageStatus, PackageType
from cargobay.storage.db.database import Connection
from cargobay.storage.db.tables import (
    ci_pipelines,
    package_build_infos,
    package_files,
    packages,
    projects,
    users,
)

COUNT_LIMIT = 10_000
_TERM = re.compile(r'"([^"]*)"|(\S+)')


@dataclass(frozen=True, slots=True)
class PackageFilter:
    package_type: PackageType | None = None
    package_name: str | None = None
    package_version: str | None = None
    status: PackageStatus | None = None
    include_versionless: bool = False


def name_terms(query: str) -> list[str]:
    """GitLab's fuzzy name search: whitespace-separated terms, "quoted phrases" whole."""
    return [
        quoted or bare for quoted, bare in _TERM.findall(" ".join(query.split())) if quoted or bare
    ]


def _like_escape(term: str) -> str:
    return term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


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
            pattern = f"%{_like_escape(term)}%"
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
    return query


ORDER_COLUMNS = {
    "created_at": packages.c.created_at,
    "name": packages.c.name,
    "version": packages.c.version,
    "type": packages.c.package_type,
    "project_path": projects.c.path,
}


async def page_of(
    conn: Connection,
    query: Select[Any],
    order: Sequence[Any],
    *,
    key: Any,
    offset: int,
    limit: int,
) -> tuple[list[Any], int | None, bool]:
    """(rows, total or None past COUNT_LIMIT, whether a next page exists). ``key`` is the
    primary-key column counted (capped, as GitLab caps its counts)."""
    rows = list(await conn.execute(query.order_by(*order).offset(offset).limit(limit + 1)))
    has_next = len(rows) > limit
    counted = select(func.count()).select_from(
        query.with_only_columns(key).limit(COUNT_LIMIT + 1).subquery()
    )
    total = int((await conn.execute(counted)).scalar_one())
    return rows[:limit], (total if total <= COUNT_LIMIT else None), has_next


def files_query(package_id: int) -> Select[Any]:
    return select(package_files).where(
        package_files.c.package_id == package_id, package_files.c.status == FileStatus.default
    )


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

"""SQL for namespaces (groups and users' personal namespaces) and projects: finders by
id and path, the management lists with their visibility scopes, inserts and updates."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    bindparam,
    false,
    func,
    insert,
    or_,
    select,
    true,
    update,
)

from cargobay.domain.integers import lookup_text, row_id
from cargobay.domain.models import Namespace, Project, RegistryAccess, Visibility
from cargobay.storage.db.database import Connection
from cargobay.storage.db.expressions import contains, page_of, under
from cargobay.storage.db.records import to_namespace, to_project
from cargobay.storage.db.tables import namespaces, projects

# ---------------------------------------------------------------- paths


def path_and_ancestors(full_path: str) -> list[str]:
    """``a/b/c`` -> ``a``, ``a/b``, ``a/b/c``."""
    parts = full_path.split("/")
    return ["/".join(parts[: i + 1]) for i in range(len(parts))]


def namespace_paths(project_full_path: str) -> list[str]:
    """Full paths of every namespace above a project: ``a/b/p`` -> ``a``, ``a/b``."""
    return path_and_ancestors(project_full_path)[:-1]


async def path_taken(conn: Connection, full_path: str) -> bool:
    lowered = full_path.lower()
    for table in (namespaces, projects):
        found = await conn.execute(
            select(table.c.id).where(func.lower(table.c.full_path) == lowered).limit(1)
        )
        if found.first() is not None:
            return True
    return False


# ---------------------------------------------------------------- projects by id or path


PROJECT_BY_ID = projects.c.id == bindparam("project_id")
PROJECT_BY_PATH = func.lower(projects.c.full_path) == bindparam("path")


def project_ref(id_or_path: str) -> tuple[bool, dict[str, Any]]:
    """``:id`` is a numeric id or a (decoded) full path, compared case-insensitively as
    GitLab routes do: (by id?, bind values)."""
    project_id = row_id(id_or_path)  # ASCII digits only, in the column's range
    if project_id is not None:
        return True, {"project_id": project_id}
    return False, {"path": lookup_text(id_or_path).lower()}


_FIND_PROJECT = {
    by_id: select(projects).where(PROJECT_BY_ID if by_id else PROJECT_BY_PATH)
    for by_id in (True, False)
}


async def find_project(conn: Connection, id_or_path: str) -> Project | None:
    by_id, values = project_ref(id_or_path)
    row = (await conn.execute(_FIND_PROJECT[by_id], values)).first()
    return to_project(row) if row else None


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


# ---------------------------------------------------------------- namespaces


async def find_namespace(conn: Connection, id_or_path: str | int) -> Namespace | None:
    namespace_id = id_or_path if isinstance(id_or_path, int) else row_id(id_or_path)
    if namespace_id is not None:
        condition = namespaces.c.id == namespace_id
    else:
        condition = func.lower(namespaces.c.full_path) == lookup_text(str(id_or_path)).lower()
    row = (await conn.execute(select(namespaces).where(condition))).first()
    return to_namespace(row) if row else None


async def namespaces_by_path(conn: Connection, paths: Iterable[str]) -> dict[str, Namespace]:
    wanted = set(paths)
    if not wanted:
        return {}
    rows = await conn.execute(select(namespaces).where(namespaces.c.full_path.in_(wanted)))
    return {row.full_path: to_namespace(row) for row in rows}


async def insert_namespace(
    conn: Connection,
    *,
    kind: str,
    name: str,
    path: str,
    full_path: str,
    now: datetime,
    parent_id: int | None = None,
    visibility: Visibility = Visibility.private,
    description: str = "",
) -> int:
    result = await conn.execute(
        insert(namespaces)
        .values(
            kind=kind,
            name=name,
            path=path,
            full_path=full_path,
            parent_id=parent_id,
            visibility=visibility,
            description=description,
            created_at=now,
            updated_at=now,
        )
        .returning(namespaces.c.id)
    )
    return int(result.scalar_one())


# ---------------------------------------------------------------- scopes: who sees what


def project_scope(
    *,
    everything: bool,
    min_visibility: int | None,
    namespace_paths: Iterable[str] = (),
    project_ids: Iterable[int] = (),
) -> ColumnElement[bool]:
    """Projects at or above a visibility level, in (or under) the given namespaces, or
    with the given ids."""
    if everything:
        return true()
    clauses: list[ColumnElement[bool]] = []
    if min_visibility is not None:
        clauses.append(projects.c.visibility >= min_visibility)
    ids = list(project_ids)
    if ids:
        clauses.append(projects.c.id.in_(ids))
    clauses.extend(projects.c.full_path.like(under(path), escape="\\") for path in namespace_paths)
    return or_(false(), *clauses)


def group_scope(
    *,
    everything: bool,
    min_visibility: int | None,
    exact_paths: Iterable[str] = (),
    tree_paths: Iterable[str] = (),
) -> ColumnElement[bool]:
    """Groups at or above a visibility level, with one of ``exact_paths``, or at or under
    one of ``tree_paths``."""
    if everything:
        return true()
    clauses: list[ColumnElement[bool]] = []
    if min_visibility is not None:
        clauses.append(namespaces.c.visibility >= min_visibility)
    tree = list(tree_paths)
    exact = list(exact_paths) + tree
    if exact:
        clauses.append(namespaces.c.full_path.in_(exact))
    clauses.extend(namespaces.c.full_path.like(under(p), escape="\\") for p in tree)
    return or_(false(), *clauses)


# ---------------------------------------------------------------- groups


def _groups_query(
    scope: ColumnElement[bool],
    *,
    search: str | None = None,
    parent_id: int | None = None,
    top_level_only: bool = False,
    visibility: int | None = None,
    order_by: str = "name",
    descending: bool = False,
) -> Select[Any]:
    query = select(namespaces).where(namespaces.c.kind == "group", scope)
    if search:
        pattern = contains(search)
        query = query.where(
            or_(
                func.lower(namespaces.c.name).like(pattern, escape="\\"),
                func.lower(namespaces.c.path).like(pattern, escape="\\"),
            )
        )
    if parent_id is not None:
        query = query.where(namespaces.c.parent_id == parent_id)
    if top_level_only:
        query = query.where(namespaces.c.parent_id.is_(None))
    if visibility is not None:
        query = query.where(namespaces.c.visibility == visibility)
    column = namespaces.c[order_by]
    tie = namespaces.c.id.desc() if descending and order_by == "id" else namespaces.c.id
    return query.order_by(column.desc() if descending else column, tie)


async def groups(conn: Connection, scope: ColumnElement[bool], **where: Any) -> list[Namespace]:
    """Groups in ``scope``; ``where``: the filters and order of ``groups_page``."""
    rows = await conn.execute(_groups_query(scope, **where))
    return [to_namespace(row) for row in rows]


async def all_groups(conn: Connection) -> list[Namespace]:
    """Every group and subgroup, by full path (``cargobay admin list-groups``)."""
    rows = await conn.execute(
        select(namespaces).where(namespaces.c.kind == "group").order_by(namespaces.c.full_path)
    )
    return [to_namespace(row) for row in rows]


async def groups_page(
    conn: Connection, scope: ColumnElement[bool], *, offset: int, limit: int, **where: Any
) -> tuple[list[Namespace], int]:
    """``where``: search, parent_id, top_level_only, visibility, order_by, descending."""
    return await page_of(conn, _groups_query(scope, **where), offset, limit, to_namespace)


# ---------------------------------------------------------------- projects


PROJECT_ORDER = ("id", "name", "path", "created_at", "updated_at")


def _projects_query(
    scope: ColumnElement[bool],
    *,
    search: str | None = None,
    namespace_id: int | None = None,
    visibility: int | None = None,
    order_by: str = "created_at",
    descending: bool = True,
) -> Select[Any]:
    query = select(projects).where(scope)
    if search:
        pattern = contains(search)
        query = query.where(
            or_(
                func.lower(projects.c.name).like(pattern, escape="\\"),
                func.lower(projects.c.path).like(pattern, escape="\\"),
                func.lower(projects.c.full_path).like(pattern, escape="\\"),
            )
        )
    if namespace_id is not None:
        query = query.where(projects.c.namespace_id == namespace_id)
    if visibility is not None:
        query = query.where(projects.c.visibility == visibility)
    column = projects.c[order_by]
    if descending:
        return query.order_by(column.desc(), projects.c.id.desc())
    return query.order_by(column, projects.c.id)


async def projects_in_scope(
    conn: Connection, scope: ColumnElement[bool], **where: Any
) -> list[Project]:
    """Projects in ``scope``; ``where``: the filters and order of ``projects_page``."""
    rows = await conn.execute(_projects_query(scope, **where))
    return [to_project(row) for row in rows]


async def all_projects(conn: Connection) -> list[Project]:
    """Every project, by full path (``cargobay admin list-projects``)."""
    rows = await conn.execute(select(projects).order_by(projects.c.full_path))
    return [to_project(row) for row in rows]


async def projects_page(
    conn: Connection, scope: ColumnElement[bool], *, offset: int, limit: int, **where: Any
) -> tuple[list[Project], int]:
    """``where``: search, namespace_id, visibility, order_by, descending."""
    return await page_of(conn, _projects_query(scope, **where), offset, limit, to_project)


async def project_name_taken(conn: Connection, namespace_id: int, name: str) -> bool:
    """Project names are unique within a namespace, as paths are (case-insensitively)."""
    rows = await conn.execute(
        select(projects.c.name).where(projects.c.namespace_id == namespace_id)
    )
    return any(found.lower() == name.lower() for (found,) in rows)


async def project_by_id(conn: Connection, project_id: int) -> Project:
    row = (await conn.execute(select(projects).where(projects.c.id == project_id))).one()
    return to_project(row)


async def insert_project(
    conn: Connection,
    *,
    namespace_id: int,
    name: str,
    path: str,
    full_path: str,
    visibility: Visibility,
    registry_access: RegistryAccess,
    creator_id: int | None,
    now: datetime,
    description: str = "",
) -> int:
    result = await conn.execute(
        insert(projects)
        .values(
            namespace_id=namespace_id,
            name=name,
            path=path,
            full_path=full_path,
            description=description,
            visibility=visibility,
            package_registry_access_level=registry_access,
            creator_id=creator_id,
            created_at=now,
            updated_at=now,
        )
        .returning(projects.c.id)
    )
    return int(result.scalar_one())


async def update_project(conn: Connection, project_id: int, **values: Any) -> None:
    await conn.execute(update(projects).where(projects.c.id == project_id).values(**values))

"""SQL for memberships: the effective role on the hot path (``member_level``), a user's
memberships for the rules of domain/roles.py, and the members lists and changes."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, delete, func, insert, or_, select, update

from cargobay.domain.models import Member, Project
from cargobay.domain.roles import Memberships
from cargobay.storage.db.database import Connection
from cargobay.storage.db.expressions import contains, is_ancestor, page_of, sql_literal
from cargobay.storage.db.records import to_member
from cargobay.storage.db.tables import members, namespaces, projects, users


def _live(today: Any) -> ColumnElement[bool]:
    """Memberships that have not expired by ``today``."""
    return or_(members.c.expires_at.is_(None), members.c.expires_at > today)


def member_level(user_id: Any, project_id: Any, project_path: Any, today: Any) -> Any:
    """The user's effective role on a project, as a scalar subquery (0: none): the
    highest of a direct project membership and memberships of the project's namespace
    and every ancestor group. Arguments may be values or columns (a correlated use).
    The same rule in Python: domain.roles.project_level."""
    namespace = namespaces.alias("member_namespace")
    return (
        select(func.coalesce(func.max(members.c.access_level), sql_literal(0)))
        .select_from(members.outerjoin(namespace, namespace.c.id == members.c.namespace_id))
        .where(
            members.c.user_id == user_id,
            _live(today),
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


async def memberships(
    conn: Connection, user_id: int, today: date
) -> list[tuple[int | None, str | None, str | None, int]]:
    """Every live membership of a user: (project_id, project_full_path,
    namespace_full_path, access_level); one of the two paths is None."""
    rows = await conn.execute(
        select(
            members.c.project_id,
            projects.c.full_path.label("project_path"),
            namespaces.c.full_path.label("namespace_path"),
            members.c.access_level,
        )
        .select_from(members)
        .outerjoin(namespaces, namespaces.c.id == members.c.namespace_id)
        .outerjoin(projects, projects.c.id == members.c.project_id)
        .where(members.c.user_id == user_id, _live(today))
    )
    return [(r[0], r[1], r[2], int(r[3])) for r in rows]


async def user_memberships(conn: Connection, user_id: int, today: date) -> Memberships:
    return Memberships.of(await memberships(conn, user_id, today))


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


# ---------------------------------------------------------------- members lists


def _source(project_id: int | None, namespace_id: int | None) -> ColumnElement[bool]:
    if project_id is not None:
        return members.c.project_id == project_id
    return members.c.namespace_id == namespace_id


def _member_columns() -> list[Any]:
    return [
        users,
        members.c.id.label("member_id"),
        members.c.access_level,
        members.c.expires_at.label("member_expires_at"),
        members.c.created_at.label("member_created_at"),
    ]


def _members_query(
    *,
    project_id: int | None = None,
    namespace_id: int | None = None,
    search: str | None = None,
    user_ids: list[int] | None = None,
) -> Select[Any]:
    """Direct members with their user columns (``member_*`` are the membership's own)."""
    query = (
        select(*_member_columns())
        .join(users, users.c.id == members.c.user_id)
        .where(_source(project_id, namespace_id))
    )
    if search:
        pattern = contains(search)
        query = query.where(
            or_(
                func.lower(users.c.username).like(pattern, escape="\\"),
                func.lower(users.c.name).like(pattern, escape="\\"),
            )
        )
    if user_ids is not None:
        query = query.where(users.c.id.in_(user_ids))
    return query.order_by(members.c.id)


async def direct_members(
    conn: Connection, *, project_id: int | None = None, namespace_id: int | None = None
) -> list[Member]:
    rows = await conn.execute(_members_query(project_id=project_id, namespace_id=namespace_id))
    return [to_member(row) for row in rows]


async def members_page(
    conn: Connection,
    *,
    project_id: int | None,
    namespace_id: int | None,
    search: str | None,
    user_ids: list[int] | None,
    offset: int,
    limit: int,
) -> tuple[list[Member], int]:
    query = _members_query(
        project_id=project_id, namespace_id=namespace_id, search=search, user_ids=user_ids
    )
    return await page_of(conn, query, offset, limit, to_member)


async def inherited_members(
    conn: Connection, namespace_ids: list[int], project_id: int | None
) -> list[Member]:
    """Members of the namespaces given and of the project: GitLab's ``members/all``."""
    sources: list[ColumnElement[bool]] = [members.c.namespace_id.in_(namespace_ids)]
    if project_id is not None:
        sources.append(members.c.project_id == project_id)
    rows = await conn.execute(
        select(*_member_columns())
        .join(users, users.c.id == members.c.user_id)
        .where(or_(*sources))
        .order_by(members.c.id)
    )
    return [to_member(row) for row in rows]


async def find_member(
    conn: Connection,
    user_id: int,
    *,
    project_id: int | None = None,
    namespace_id: int | None = None,
) -> Member | None:
    query = _members_query(project_id=project_id, namespace_id=namespace_id, user_ids=[user_id])
    row = (await conn.execute(query)).first()
    return to_member(row) if row else None


async def update_member(conn: Connection, member_id: int, *, now: datetime, **values: Any) -> None:
    await conn.execute(
        update(members).where(members.c.id == member_id).values(updated_at=now, **values)
    )


async def delete_member(conn: Connection, member_id: int) -> None:
    await conn.execute(delete(members).where(members.c.id == member_id))

"""SQL behind the management API: users, groups, projects, members and tokens as the REST
API lists and changes them. Functions take an open connection; who may do what is decided
by the services (services/accounts.py, services/namespaces.py), not here.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Row,
    Select,
    delete,
    false,
    func,
    or_,
    select,
    true,
    update,
)

from cargobay.storage.db.database import Connection
from cargobay.storage.db.tables import (
    ci_jobs,
    ci_pipelines,
    deploy_tokens,
    members,
    namespaces,
    personal_access_tokens,
    projects,
    users,
)

# ---------------------------------------------------------------- paging


async def page_of(
    conn: Connection, query: Select[Any], offset: int, limit: int
) -> tuple[list[Row[Any]], int]:
    """One page of ``query`` and the total number of rows it matches."""
    counted = select(func.count()).select_from(query.order_by(None).subquery())
    total = int((await conn.execute(counted)).scalar_one())
    rows = list((await conn.execute(query.offset(offset).limit(limit))).all())
    return rows, total


def _like_prefix(path: str) -> str:
    """A LIKE pattern for everything strictly below ``path`` (``_`` is legal in paths)."""
    escaped = path.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"{escaped}/%"


def _contains(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped.lower()}%"


# ---------------------------------------------------------------- where a user belongs


@dataclass(frozen=True, slots=True)
class Reach:
    """A user's unexpired direct memberships: namespaces by full path, projects by id
    (with the project's full path, so groups above it count as visible)."""

    namespaces: dict[str, int] = field(default_factory=dict)
    projects: dict[int, tuple[str, int]] = field(default_factory=dict)

    def project_level(self, project_id: int, full_path: str) -> int:
        levels = [lvl for path, lvl in self.namespaces.items() if full_path.startswith(path + "/")]
        direct = self.projects.get(project_id)
        if direct is not None:
            levels.append(direct[1])
        return max(levels, default=0)

    def group_level(self, full_path: str) -> int:
        """The role inherited from the group itself or any group above it."""
        return max(
            (
                lvl
                for path, lvl in self.namespaces.items()
                if full_path == path or full_path.startswith(path + "/")
            ),
            default=0,
        )

    def inside(self, full_path: str) -> bool:
        """A membership somewhere below the group (a subgroup or a project in it): GitLab
        lets such members see the group itself."""
        below = full_path + "/"
        return any(p.startswith(below) for p in self.namespaces) or any(
            p.startswith(below) for p, _ in self.projects.values()
        )

    def group_paths(self) -> set[str]:
        """Namespaces the user reaches directly, and the direct namespace of each project
        they are a member of (GitLab's authorized groups)."""
        parents = {p.rpartition("/")[0] for p, _ in self.projects.values()}
        return set(self.namespaces) | parents


async def reach(conn: Connection, user_id: int, today: date) -> Reach:
    rows = await conn.execute(
        select(
            members.c.access_level,
            namespaces.c.full_path.label("namespace_path"),
            projects.c.id.label("project_id"),
            projects.c.full_path.label("project_path"),
        )
        .select_from(members)
        .outerjoin(namespaces, namespaces.c.id == members.c.namespace_id)
        .outerjoin(projects, projects.c.id == members.c.project_id)
        .where(
            members.c.user_id == user_id,
            or_(members.c.expires_at.is_(None), members.c.expires_at > today),
        )
    )
    found = Reach()
    for level, namespace_path, project_id, project_path in rows:
        if namespace_path is not None:
            found.namespaces[namespace_path] = max(level, found.namespaces.get(namespace_path, 0))
        elif project_id is not None:
            found.projects[project_id] = (project_path, level)
    return found


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
    clauses.extend(
        projects.c.full_path.like(_like_prefix(path), escape="\\") for path in namespace_paths
    )
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
    clauses.extend(namespaces.c.full_path.like(_like_prefix(p), escape="\\") for p in tree)
    return or_(false(), *clauses)


# ---------------------------------------------------------------- users


def users_query(
    *,
    username: str | None = None,
    search: str | None = None,
    state: str | None = None,
    descending: bool = True,
) -> Select[Any]:
    query = select(users)
    if username is not None:
        query = query.where(func.lower(users.c.username) == username.lower())
    if search:
        pattern = _contains(search)
        query = query.where(
            or_(
                func.lower(users.c.username).like(pattern, escape="\\"),
                func.lower(users.c.name).like(pattern, escape="\\"),
                func.lower(users.c.email) == search.lower(),
            )
        )
    if state is not None:
        query = query.where(users.c.state == state)
    return query.order_by(users.c.id.desc() if descending else users.c.id)


async def user_row(conn: Connection, user_id: int) -> Row[Any] | None:
    return (await conn.execute(select(users).where(users.c.id == user_id))).first()


async def users_by_id(conn: Connection, ids: Iterable[int]) -> dict[int, Row[Any]]:
    wanted = set(ids)
    if not wanted:
        return {}
    rows = await conn.execute(select(users).where(users.c.id.in_(wanted)))
    return {row.id: row for row in rows}


async def email_taken(conn: Connection, email: str) -> bool:
    found = await conn.execute(
        select(users.c.id).where(func.lower(users.c.email) == email.lower()).limit(1)
    )
    return found.first() is not None


async def username_taken(conn: Connection, username: str) -> bool:
    found = await conn.execute(
        select(users.c.id).where(func.lower(users.c.username) == username.lower()).limit(1)
    )
    return found.first() is not None


async def set_user_state(conn: Connection, user_id: int, state: str, now: datetime) -> None:
    await conn.execute(
        update(users).where(users.c.id == user_id).values(state=state, updated_at=now)
    )


# ---------------------------------------------------------------- personal access tokens


def personal_tokens_query(
    *,
    user_id: int | None = None,
    state: str | None = None,
    revoked: bool | None = None,
    search: str | None = None,
    today: date,
) -> Select[Any]:
    query = select(personal_access_tokens)
    if user_id is not None:
        query = query.where(personal_access_tokens.c.user_id == user_id)
    if revoked is not None:
        query = query.where(personal_access_tokens.c.revoked.is_(revoked))
    active = personal_access_tokens.c.revoked.is_(False) & or_(
        personal_access_tokens.c.expires_at.is_(None),
        personal_access_tokens.c.expires_at > today,
    )
    if state == "active":
        query = query.where(active)
    elif state == "inactive":
        query = query.where(~active)
    if search:
        query = query.where(
            func.lower(personal_access_tokens.c.name).like(_contains(search), escape="\\")
        )
    return query.order_by(personal_access_tokens.c.id)


async def personal_token_row(conn: Connection, token_id: int) -> Row[Any] | None:
    return (
        await conn.execute(
            select(personal_access_tokens).where(personal_access_tokens.c.id == token_id)
        )
    ).first()


async def personal_token_by_digest(conn: Connection, token_digest: str) -> Row[Any] | None:
    return (
        await conn.execute(
            select(personal_access_tokens).where(
                personal_access_tokens.c.token_digest == token_digest
            )
        )
    ).first()


async def revoke_personal_token(conn: Connection, token_id: int, now: datetime) -> None:
    await conn.execute(
        update(personal_access_tokens)
        .where(personal_access_tokens.c.id == token_id)
        .values(revoked=True, updated_at=now)
    )


def project_bot_tokens_query(project_id: int) -> Select[Any]:
    """Tokens of the project's bot members (project access tokens), with the bot's role."""
    return (
        select(personal_access_tokens, members.c.access_level, members.c.project_id)
        .join(users, users.c.id == personal_access_tokens.c.user_id)
        .join(
            members,
            (members.c.user_id == users.c.id) & (members.c.project_id == project_id),
        )
        .where(users.c.bot.is_(True))
        .order_by(personal_access_tokens.c.id)
    )


# ---------------------------------------------------------------- deploy tokens


def deploy_tokens_query(
    *,
    project_id: int | None = None,
    namespace_id: int | None = None,
    active: bool | None = None,
    now: datetime,
) -> Select[Any]:
    query = select(deploy_tokens)
    if project_id is not None:
        query = query.where(deploy_tokens.c.project_id == project_id)
    if namespace_id is not None:
        query = query.where(deploy_tokens.c.namespace_id == namespace_id)
    live = deploy_tokens.c.revoked.is_(False) & or_(
        deploy_tokens.c.expires_at.is_(None), deploy_tokens.c.expires_at > now
    )
    if active is True:
        query = query.where(live)
    elif active is False:
        query = query.where(~live)
    return query.order_by(deploy_tokens.c.id)


async def deploy_token_row(conn: Connection, token_id: int) -> Row[Any] | None:
    return (await conn.execute(select(deploy_tokens).where(deploy_tokens.c.id == token_id))).first()


async def delete_deploy_token(conn: Connection, token_id: int) -> None:
    await conn.execute(delete(deploy_tokens).where(deploy_tokens.c.id == token_id))


# ---------------------------------------------------------------- groups and namespaces


async def namespaces_by_path(conn: Connection, paths: Iterable[str]) -> dict[str, Row[Any]]:
    wanted = set(paths)
    if not wanted:
        return {}
    rows = await conn.execute(select(namespaces).where(namespaces.c.full_path.in_(wanted)))
    return {row.full_path: row for row in rows}


async def namespace_by_id(conn: Connection, namespace_id: int) -> Row[Any] | None:
    return (await conn.execute(select(namespaces).where(namespaces.c.id == namespace_id))).first()


async def owners_of_user_namespaces(
    conn: Connection, namespace_ids: Iterable[int]
) -> dict[int, Row[Any]]:
    """The user whose personal namespace each id is."""
    wanted = set(namespace_ids)
    if not wanted:
        return {}
    rows = await conn.execute(select(users).where(users.c.namespace_id.in_(wanted)))
    return {row.namespace_id: row for row in rows}


def groups_query(
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
        pattern = _contains(search)
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


async def update_namespace(conn: Connection, namespace_id: int, **values: Any) -> None:
    await conn.execute(update(namespaces).where(namespaces.c.id == namespace_id).values(**values))


# ---------------------------------------------------------------- projects


PROJECT_ORDER = ("id", "name", "path", "created_at", "updated_at")


def projects_query(
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
        pattern = _contains(search)
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


async def project_row(conn: Connection, project_id: int) -> Row[Any]:
    return (await conn.execute(select(projects).where(projects.c.id == project_id))).one()


async def update_project(conn: Connection, project_id: int, **values: Any) -> None:
    await conn.execute(update(projects).where(projects.c.id == project_id).values(**values))


# ---------------------------------------------------------------- members


def _source(project_id: int | None, namespace_id: int | None) -> ColumnElement[bool]:
    if project_id is not None:
        return members.c.project_id == project_id
    return members.c.namespace_id == namespace_id


def members_query(
    *,
    project_id: int | None = None,
    namespace_id: int | None = None,
    search: str | None = None,
    user_ids: list[int] | None = None,
) -> Select[Any]:
    """Direct members with their user columns (``member_*`` are the membership's own)."""
    query = (
        select(
            users,
            members.c.id.label("member_id"),
            members.c.access_level,
            members.c.expires_at.label("member_expires_at"),
            members.c.created_at.label("member_created_at"),
        )
        .join(users, users.c.id == members.c.user_id)
        .where(_source(project_id, namespace_id))
    )
    if search:
        pattern = _contains(search)
        query = query.where(
            or_(
                func.lower(users.c.username).like(pattern, escape="\\"),
                func.lower(users.c.name).like(pattern, escape="\\"),
            )
        )
    if user_ids is not None:
        query = query.where(users.c.id.in_(user_ids))
    return query.order_by(members.c.id)


def inherited_members_query(namespace_ids: list[int], project_id: int | None) -> Select[Any]:
    """Members of the namespaces given and of the project: GitLab's ``members/all``."""
    sources: list[ColumnElement[bool]] = [members.c.namespace_id.in_(namespace_ids)]
    if project_id is not None:
        sources.append(members.c.project_id == project_id)
    return (
        select(
            users,
            members.c.id.label("member_id"),
            members.c.access_level,
            members.c.expires_at.label("member_expires_at"),
            members.c.created_at.label("member_created_at"),
        )
        .join(users, users.c.id == members.c.user_id)
        .where(or_(*sources))
        .order_by(members.c.id)
    )


async def member_row(
    conn: Connection,
    user_id: int,
    *,
    project_id: int | None = None,
    namespace_id: int | None = None,
) -> Row[Any] | None:
    query = members_query(project_id=project_id, namespace_id=namespace_id, user_ids=[user_id])
    row: Row[Any] | None = (await conn.execute(query)).first()
    return row


async def update_member(conn: Connection, member_id: int, *, now: datetime, **values: Any) -> None:
    await conn.execute(
        update(members).where(members.c.id == member_id).values(updated_at=now, **values)
    )


async def delete_member(conn: Connection, member_id: int) -> None:
    await conn.execute(delete(members).where(members.c.id == member_id))


# ---------------------------------------------------------------- CI jobs


async def job_with_pipeline(conn: Connection, job_id: int) -> Row[Any] | None:
    return (
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

"""Group and project members through the management API (lib/api/members.rb).

Group members are managed by the group's Owners, project members by Maintainers; nobody
below Owner grants a role above their own; anyone may leave, except a group's last Owner.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from cargobay.auth.principal import Principal
from cargobay.domain import roles
from cargobay.domain.models import AccessLevel, Member, Namespace, Project, utcnow
from cargobay.errors import Conflict, NotFound, forbidden, not_found, validation_error
from cargobay.services.accounts import Listing, acting_user
from cargobay.services.namespaces import Viewer, find_group, find_project, viewer_of
from cargobay.services.registry import Registry
from cargobay.storage.db import members as member_sql
from cargobay.storage.db import namespaces as namespace_sql
from cargobay.storage.db import users as user_sql
from cargobay.storage.db.database import Connection

MEMBER_LEVELS = (10, 20, 30, 40, 50)


@dataclass(frozen=True, slots=True)
class Source:
    """A group or project whose members are listed or changed, with the caller's role."""

    kind: str  # "group" | "project"
    row: Namespace | Project
    level: int
    namespace_id: int | None
    project_id: int | None

    @property
    def manager_level(self) -> int:
        """admin_group_member is Owner; admin_project_member is Maintainer."""
        return AccessLevel.OWNER if self.kind == "group" else AccessLevel.MAINTAINER


async def find_source(conn: Connection, viewer: Viewer, kind: str, ref: str) -> Source:
    if kind == "group":
        group = await find_group(conn, viewer, ref)
        return Source("group", group, viewer.group_level(group), group.id, None)
    project = await find_project(conn, viewer, ref)
    return Source("project", project, viewer.project_level(project), None, project.id)


async def list_members(
    registry: Registry,
    principal: Principal,
    kind: str,
    ref: str,
    *,
    search: str | None,
    user_ids: list[int] | None,
    inherited: bool,
    offset: int,
    limit: int,
) -> Listing[Member]:
    acting_user(principal)
    async with registry.db.read() as conn:
        source = await find_source(conn, await viewer_of(conn, principal), kind, ref)
        if not inherited:
            rows, total = await member_sql.members_page(
                conn,
                project_id=source.project_id,
                namespace_id=source.namespace_id,
                search=search,
                user_ids=user_ids,
                offset=offset,
                limit=limit,
            )
            return Listing(rows, total)
        rows = await _all_members(conn, source)
    if search:
        rows = [r for r in rows if search.lower() in f"{r.username} {r.name}".lower()]
    if user_ids is not None:
        rows = [r for r in rows if r.id in user_ids]
    return Listing(rows[offset : offset + limit], len(rows))


async def members_here(
    registry: Registry, principal: Principal, kind: str, ref: str, *, limit: int
) -> list[tuple[Member, bool]]:
    """The web's members page: every member, inherited ones included (each user once,
    with their highest role), and whether they are a direct member here, whose role
    this page can change or remove. One read, one query each."""
    acting_user(principal)
    async with registry.db.read() as conn:
        source = await find_source(conn, await viewer_of(conn, principal), kind, ref)
        rows = (await _all_members(conn, source))[:limit]
        direct, _ = await member_sql.members_page(
            conn,
            project_id=source.project_id,
            namespace_id=source.namespace_id,
            search=None,
            user_ids=[r.id for r in rows],
            offset=0,
            limit=len(rows) or 1,
        )
    direct_users = {m.id for m in direct}
    return [(m, m.id in direct_users) for m in rows]


async def _all_members(conn: Connection, source: Source) -> list[Member]:
    """Direct and inherited members, each user once with their highest role."""
    path = source.row.full_path
    above = roles.namespace_paths(path) + ([path] if source.kind == "group" else [])
    chain = await namespace_sql.namespaces_by_path(conn, above)
    rows = await member_sql.inherited_members(
        conn, [r.id for r in chain.values()], source.project_id
    )
    best: dict[int, Member] = {}
    for row in rows:
        if row.id not in best or row.access_level > best[row.id].access_level:
            best[row.id] = row
    return sorted(best.values(), key=lambda r: r.member_id)


async def get_member(
    registry: Registry, principal: Principal, kind: str, ref: str, user_id: int, *, inherited: bool
) -> Member:
    acting_user(principal)
    async with registry.db.read() as conn:
        source = await find_source(conn, await viewer_of(conn, principal), kind, ref)
        if inherited:
            found = [r for r in await _all_members(conn, source) if r.id == user_id]
            row = found[0] if found else None
        else:
            row = await member_sql.find_member(
                conn, user_id, project_id=source.project_id, namespace_id=source.namespace_id
            )
    if row is None:
        raise _record_not_found()
    return row


def _record_not_found() -> NotFound:
    """ActiveRecord::RecordNotFound, as GitLab's API renders it."""
    return NotFound({"message": "404 Not found"})


def _check_level(source: Source, access_level: int, admin: bool) -> None:
    if access_level not in MEMBER_LEVELS:
        raise validation_error({"access_level": ["is not included in the list"]})
    if not admin and access_level > source.level:
        raise forbidden()


async def add_member(
    registry: Registry,
    principal: Principal,
    kind: str,
    ref: str,
    *,
    user_ref: int | str,
    access_level: int,
    expires_at: date | None,
) -> Member:
    acting_user(principal)
    async with registry.db.write() as conn:
        viewer = await viewer_of(conn, principal)
        source = await find_source(conn, viewer, kind, ref)
        if source.level < source.manager_level:
            raise forbidden()
        user = await user_sql.find_user(conn, user_ref)
        if user is not None and await member_sql.find_member(
            conn, user.id, project_id=source.project_id, namespace_id=source.namespace_id
        ):
            raise Conflict({"message": "Member already exists"})
        if user is None:
            raise not_found("User Not Found")
        _check_level(source, access_level, viewer.admin)
        await member_sql.set_membership(
            conn,
            user_id=user.id,
            project_id=source.project_id,
            namespace_id=source.namespace_id,
            access_level=access_level,
            expires_at=expires_at,
            now=utcnow(),
        )
        row = await member_sql.find_member(
            conn, user.id, project_id=source.project_id, namespace_id=source.namespace_id
        )
        assert row is not None
        return row


async def update_member(
    registry: Registry,
    principal: Principal,
    kind: str,
    ref: str,
    user_id: int,
    *,
    access_level: int,
    expires_at: date | None,
    expires_given: bool,
) -> Member:
    acting_user(principal)
    async with registry.db.write() as conn:
        viewer = await viewer_of(conn, principal)
        source = await find_source(conn, viewer, kind, ref)
        if source.level < source.manager_level:
            raise forbidden()
        where = {"project_id": source.project_id, "namespace_id": source.namespace_id}
        row = await member_sql.find_member(conn, user_id, **where)
        if row is None:
            raise _record_not_found()
        _check_level(source, access_level, viewer.admin)
        if not viewer.admin and row.access_level > source.level:
            raise forbidden()
        values: dict[str, Any] = {"access_level": access_level}
        if expires_given:
            values["expires_at"] = expires_at
        await member_sql.update_member(conn, row.member_id, now=utcnow(), **values)
        updated = await member_sql.find_member(conn, user_id, **where)
        assert updated is not None
        return updated


async def remove_member(
    registry: Registry, principal: Principal, kind: str, ref: str, user_id: int
) -> None:
    me = acting_user(principal)
    async with registry.db.write() as conn:
        viewer = await viewer_of(conn, principal)
        source = await find_source(conn, viewer, kind, ref)
        row = await member_sql.find_member(
            conn, user_id, project_id=source.project_id, namespace_id=source.namespace_id
        )
        if row is None:
            raise _record_not_found()
        leaving = user_id == me.id
        if not leaving and source.level < source.manager_level:
            raise forbidden()
        if not viewer.admin and not leaving and row.access_level > source.level:
            raise forbidden()
        if source.kind == "group" and row.access_level == AccessLevel.OWNER:
            owners = await member_sql.direct_members(conn, namespace_id=source.namespace_id)
            if sum(1 for r in owners if r.access_level == AccessLevel.OWNER) == 1:
                # A group always keeps an owner (Members::DestroyService).
                raise forbidden()
        await member_sql.delete_member(conn, row.member_id)
